import NIOCore

/// The first handler of a new connection: closes it with `408 Request Timeout` when the bytes
/// of its first request head have not all arrived within `timeout`, or answers `503` at once
/// when the connection is over the server's limit. It reads bytes, not parsed requests, so
/// only the client's pace counts, never the server's; once the head's blank line has passed
/// it only forwards. Its answers are raw bytes, written in front of the HTTP encoder.
final class FirstHeadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let timeout: TimeAmount
    private let refuse: Bool
    private var waitingForHead = true
    /// The last bytes seen, so a blank line split across reads is still found.
    private var tail: [UInt8] = []
    private var deadline: Scheduled<Void>?
    private let reporter: RefusedRequestReporter?

    init(timeout: TimeAmount, refuse: Bool, reporter: RefusedRequestReporter? = nil) {
        self.timeout = timeout
        self.refuse = refuse
        self.reporter = reporter
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if refuse {
            reporter?.refused("over_connection_limit", status: 503)
            answer("503 Service Unavailable", extraHeaders: "Retry-After: 1\r\n", context: context)
            return
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = loopBound.value
            handler.reporter?.refused("head_timeout", status: 408)
            handler.answer("408 Request Timeout", context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if waitingForHead {
            let bytes = tail + unwrapInboundIn(data).readableBytesView
            if Self.containsBlankLine(bytes) {
                waitingForHead = false
                deadline?.cancel()
                tail = []
            } else {
                tail = Array(bytes.suffix(3))
            }
        }
        context.fireChannelRead(data)
    }

    /// Whether `bytes` hold CRLF CRLF, the end of a request head.
    static func containsBlankLine(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return true
        }
        return false
    }

    private func answer(_ status: String, extraHeaders: String = "", context: ChannelHandlerContext) {
        guard waitingForHead else { return }
        waitingForHead = false
        deadline?.cancel()
        let response = "HTTP/1.1 \(status)\r\n\(extraHeaders)Connection: close\r\nContent-Length: 0\r\n\r\n"
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: response))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
