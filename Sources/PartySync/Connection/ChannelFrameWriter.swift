import NIOCore
import NIOWebSocket

/// Writes text frames straight into a WebSocket connection's NIO pipeline.
///
/// Fan-out of one event to many connections would otherwise wake one task per recipient; a
/// pipeline write is one hop to the connection's event loop, in the order of the calls.
struct ChannelFrameWriter: FrameWriter {
    let channel: any Channel

    func write(_ text: String, completion: @escaping @Sendable () -> Void) {
        let frame = WebSocketFrame(fin: true, opcode: .text, data: channel.allocator.buffer(string: text))
        channel.writeAndFlush(frame).whenComplete { _ in completion() }
    }

    /// Sends a close frame at once, ahead of any close the WebSocket layer sends itself.
    func writeClose(_ code: PartySyncCloseCode, reason: String) {
        var data = channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.write(webSocketErrorCode: .init(codeNumber: Int(code.rawValue)))
        data.writeString(reason)
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data), promise: nil)
    }
}
