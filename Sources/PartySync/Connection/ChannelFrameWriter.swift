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

/// Writes framed text (``WireFrame``) straight into a WebSocket connection's NIO pipeline.
///
/// The frames' bytes are shared by every recipient (a `ByteBuffer` is copied on write only),
/// so an event is framed once however many connections receive it. They enter the pipeline
/// below the WebSocket encoder, which has nothing left to do for them.
struct ChannelFrameWriter: FrameSink {
    let channel: any Channel
    /// The encoder's context, found on the first write.
    private let encoder: NIOLoopBoundBox<ChannelHandlerContext?>

    init(channel: any Channel) {
        self.channel = channel
        self.encoder = .makeEmptyBox(valueType: ChannelHandlerContext.self, eventLoop: channel.eventLoop)
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    func write(_ frames: [ByteBuffer]) -> Int {
        if encoder.value == nil {
            encoder.value = try? channel.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
        }
        if let context = encoder.value {
            for frame in frames {
                context.write(NIOAny(IOData.byteBuffer(frame)), promise: nil)
            }
            context.flush()
        } else {
            // A pipeline without the encoder (not one NIO's upgrader builds): frame by frame.
            for frame in frames {
                channel.write(WebSocketFrame(fin: true, opcode: .text, data: WireFrame.payload(of: frame)), promise: nil)
            }
            channel.flush()
        }
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
