import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Wraps a child channel so that a new connection's first request head is guarded: a head
/// NIO cannot parse — headers over the 80 KiB limit, a malformed request line — or a
/// WebSocket upgrade request NIO refuses gets an answer and the connection is closed, and so
/// does a connection whose first head is not complete within `headTimeout`. A connection
/// beyond the server's limit of open connections is answered 503 at once and closed.
///
/// The WebSocket-upgrade channel turns NIO's error handling off and takes over only once it
/// has decided whether to upgrade; until then a parse error reached no one and an idle
/// connection had no deadline, so both stayed open for as long as the client liked.
struct FirstRequestHeadGuarding<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    let headTimeout: TimeAmount
    let connections: OpenConnections

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let admitted = connections.open(channel)
        return base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try channel.pipeline.syncOperations.addHandler(FirstRequestHeadGuard(headTimeout: headTimeout, refuse: !admitted))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// See ``FirstRequestHeadGuarding``. It sits behind the upgrade handler, so the first read or
/// upgrade event it sees means the head was complete and the connection has its handler; from
/// then on errors pass on to that handler, so a response already being written is never
/// interleaved, and nothing HTTP is written into an upgraded connection.
final class FirstRequestHeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundOut = HTTPServerResponsePart

    private let headTimeout: TimeAmount
    /// Over the limit of open connections: answered 503 as soon as the handler is in place.
    private let refuse: Bool
    private var waitingForHead = true
    private var deadline: Scheduled<Void>?

    init(headTimeout: TimeAmount, refuse: Bool = false) {
        self.headTimeout = headTimeout
        self.refuse = refuse
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if refuse {
            answer(.serviceUnavailable, extraHeaders: [("Retry-After", "1")], context: context)
            return
        }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: headTimeout) {
            let (guardian, context) = loopBound.value
            guardian.answer(.requestTimeout, context: context)
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
        guard waitingForHead else { return }
        waitingForHead = false
        deadline?.cancel()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard waitingForHead else {
            context.fireErrorCaught(error)
            return
        }
        // Before the head has a handler, every error is about the head: NIO's parser, or the
        // WebSocket upgrader refusing it (no Sec-WebSocket-Key, an unknown version).
        answer((error as? HTTPParserError) == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest, context: context)
    }

    /// Writes a bodiless answer with `Connection: close` and closes once it is out.
    private func answer(_ status: HTTPResponseStatus, extraHeaders: [(String, String)] = [], context: ChannelHandlerContext) {
        guard waitingForHead else { return }
        waitingForHead = false
        deadline?.cancel()
        var headers = HTTPHeaders(extraHeaders)
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Content-Length", value: "0")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}

/// Counts the server's open connections against its limit.
final class OpenConnections: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts `channel` until it closes; false when it is beyond the limit.
    func open(_ channel: any Channel) -> Bool {
        let open = count.add(1, ordering: .relaxed).newValue
        channel.closeFuture.whenComplete { [self] _ in count.subtract(1, ordering: .relaxed) }
        return open <= limit
    }

    var current: Int { count.load(ordering: .relaxed) }
}
