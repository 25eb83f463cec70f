public import Hummingbird
public import Logging
public import NIOCore

/// The request context of every RPGBot HTTP route: Hummingbird's core storage, the caller's
/// verified claims once a route requires them, the remote address, and the body limit.
public struct AppRequestContext: AuthenticatedRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: TokenClaims?
    public let remoteAddress: SocketAddress?
    /// Set by ``BodyLimitMiddleware`` from configuration; Hummingbird's decoders honour it.
    public var maxUploadSize: Int

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.identity = nil
        self.remoteAddress = source.channel.remoteAddress
        self.maxUploadSize = BodyLimitMiddleware<AppRequestContext>.defaultLimit
    }
}
