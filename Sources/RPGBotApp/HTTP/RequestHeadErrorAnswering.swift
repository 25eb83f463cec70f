import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Wraps a child channel so that a connection whose first request head cannot be parsed —
/// headers over the 80 KiB limit, a malformed request line — gets an answer and is closed.
///
/// The WebSocket-upgrade channel turns NIO's error handling off and handles errors only after
/// it has decided whether to upgrade; a parse error before that decision reached no one, and
/// the connection stayed open with the client waiting for an answer until it gave up.
struct RequestHeadErrorAnswering<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        base.setup(channel: channel, logger: logger).flatMapThrowing { value in
            try channel.pipeline.syncOperations.addHandler(FirstRequestHeadErrorHandler())
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// Answers a parse error of the connection's first request head with 431 or 400 and closes.
/// Once anything has been read, errors pass on to whoever handles the connection by then,
/// so a response already being written is never interleaved with this one.
final class FirstRequestHeadErrorHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundOut = HTTPServerResponsePart

    private var negotiating = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        negotiating = false
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard negotiating, let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        negotiating = false
        let status: HTTPResponseStatus = parseError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
        var headers = HTTPHeaders()
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Content-Length", value: "0")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
