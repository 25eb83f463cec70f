public import Hummingbird
public import HummingbirdWebSocket
import Logging
public import NIOCore

/// The request context of every RPGBot HTTP route: Hummingbird's core storage, the caller's
/// verified claims once a route requires them, the remote address, the body limit, and what
/// a WebSocket upgrade needs.
public struct AppRequestContext: AuthenticatedRequestContext, RemoteAddressRequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: TokenClaims?
    public let remoteAddress: SocketAddress?
    public let webSocket: WebSocketHandlerReference<AppRequestContext>
    /// The connection's channel: lets a WebSocket handler drop a peer that stopped reading.
    public let channel: any Channel
    /// Set by ``BodyLimitMiddleware`` from configuration; Hummingbird's decoders honour it.
    public var maxUploadSize: Int

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.identity = nil
        self.remoteAddress = source.channel.remoteAddress
        self.webSocket = .init()
        self.channel = source.channel
        self.maxUploadSize = BodyLimitMiddleware<AppRequestContext>.defaultLimit
    }
}
