import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Wraps a child channel so that a new connection's first request head is guarded: a head
/// NIO cannot parse — headers over the 80 KiB limit, a malformed request line — or a
/// WebSocket upgrade request NIO refuses gets an answer and the connection is closed, and so
/// does a connection whose first head is not complete within `headTimeout` (see
/// ``FirstHeadDeadline``). A connection beyond the server's limit of open connections is
/// answered 503 at once and closed.
///
/// The WebSocket-upgrade channel turns NIO's error handling off and takes over only once it
/// has decided whether to upgrade; until then a parse error reached no one and an idle
/// connection had no deadline, so both stayed open for as long as the client liked.
struct FirstRequestHeadGuarding<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let headTimeout: TimeAmount
    let connections: OpenConnections
    var reporter: RefusedRequestReporter?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let admitted = connections.open(channel)
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            // The deadline watches bytes at the front, so a server slow to handle a complete
            // head never answers it 408; errors are seen at the back, after the decoder.
            try channel.pipeline.syncOperations.addHandler(FirstHeadDeadline(timeout: headTimeout, refuse: !admitted, reporter: reporter), position: .first)
            try channel.pipeline.syncOperations.addHandler(FirstRequestHeadGuard(reporter: reporter))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        // hummingbird-websocket logs every connection whose upgrade negotiation failed as an
        // error — and it fails whenever this guard answered a broken head and closed: that is
        // the client's mistake, counted and reported by the guard.
        var quieter = logger
        quieter.handler = DemotingLogHandler(base: logger.handler) { level, message in
            level >= .error && message.description == "Error handling upgrade result"
        }
        await base.handle(value: value, logger: quieter)
    }
}

/// Answers errors about the first request head (see ``FirstRequestHeadGuarding``). It sits
/// behind the upgrade handler, so the first read or upgrade event it sees means the head has
/// its handler; from then on errors pass on to that handler, so a response already being
/// written is never interleaved, and nothing HTTP is written into an upgraded connection.
final class FirstRequestHeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundOut = HTTPServerResponsePart

    private var waitingForHead = true
    private let reporter: RefusedRequestReporter?

    init(reporter: RefusedRequestReporter? = nil) {
        self.reporter = reporter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        headArrived()
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // An upgrade consumes the head without passing it on; from here on the pipeline
        // speaks WebSocket, where an HTTP answer must never be written.
        if event is HTTPServerUpgradeEvents { headArrived() }
        context.fireUserInboundEventTriggered(event)
    }

    private func headArrived() {
        waitingForHead = false
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard waitingForHead else {
            context.fireErrorCaught(error)
            return
        }
        // Before the head has a handler, every error is about the head: NIO's parser, or the
        // WebSocket upgrader refusing it (no Sec-WebSocket-Key, an unknown version).
        let tooLarge = (error as? HTTPParserError) == .headerOverflow
        if waitingForHead { reporter?.refused(tooLarge ? "headers_too_large" : "malformed_head", status: tooLarge ? 431 : 400) }
        answer(tooLarge ? .requestHeaderFieldsTooLarge : .badRequest, context: context)
    }

    /// Writes a bodiless answer with `Connection: close` and closes once it is out.
    private func answer(_ status: HTTPResponseStatus, context: ChannelHandlerContext) {
        guard waitingForHead else { return }
        waitingForHead = false
        var headers = HTTPHeaders()
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Content-Length", value: "0")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
