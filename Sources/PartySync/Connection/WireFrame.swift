import NIOCore

/// A server text frame in its bytes on the wire, header included.
///
/// Server frames are not masked, so the bytes are the same for every recipient: an event is
/// framed once and written as it is to each connection, below the WebSocket encoder, which
/// would otherwise build a header and pass two buffers per frame and recipient.
enum WireFrame {
    /// FIN and the text opcode.
    private static let finalText: UInt8 = 0x81

    static func text(_ text: String) -> ByteBuffer {
        let length = text.utf8.count
        var buffer = ByteBuffer()
        buffer.reserveCapacity(length + 10)
        buffer.writeInteger(finalText)
        if length < 126 {
            buffer.writeInteger(UInt8(length))
        } else if length <= Int(UInt16.max) {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
        buffer.writeString(text)
        return buffer
    }

    /// The payload of a frame made by ``text(_:)``.
    static func payload(of frame: ByteBuffer) -> ByteBuffer {
        guard let marker = frame.getInteger(at: frame.readerIndex + 1, as: UInt8.self) else { return ByteBuffer() }
        let header = marker < 126 ? 2 : marker == 126 ? 4 : 10
        return frame.getSlice(at: frame.readerIndex + header, length: frame.readableBytes - header) ?? ByteBuffer()
    }
}
