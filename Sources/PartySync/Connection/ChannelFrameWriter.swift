import NIOCore
import NIOWebSocket

/// Where an ``OutboundQueue`` writes: a connection, written on its event loop.
protocol FrameSink: Sendable {
    var eventLoop: any EventLoop { get }
    /// On `eventLoop`: writes the frames in order and flushes once. Returns the bytes the
    /// connection still buffers afterwards (written, not yet taken by the socket).
    func write(_ frames: [ByteBuffer]) -> Int
    /// On `eventLoop`: the bytes the connection buffers.
    func bufferedBytes() -> Int
}

/// Writes text frames straight into a WebSocket connection's NIO pipeline.
///
/// The frames' bytes are shared by every recipient (a `ByteBuffer` is copied on write only),
/// so an event is encoded once however many connections receive it.
struct ChannelFrameWriter: FrameSink {
    let channel: any Channel

    var eventLoop: any EventLoop { channel.eventLoop }

    func write(_ frames: [ByteBuffer]) -> Int {
        for frame in frames {
            channel.write(WebSocketFrame(fin: true, opcode: .text, data: frame), promise: nil)
        }
        channel.flush()
        return bufferedBytes()
    }

    func bufferedBytes() -> Int {
        (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
    }

    /// Sends a close frame at once, ahead of any close the WebSocket layer sends itself.
    func writeClose(_ code: PartySyncCloseCode, reason: String) {
        var data = channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: .init(codeNumber: Int(code.rawValue)))
        data.writeString(reason)
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data), promise: nil)
    }
}
