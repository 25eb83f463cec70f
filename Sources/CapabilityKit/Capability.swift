public import Foundation
public import Hummingbird
public import Observability
public import Persistence
public import ServiceKit
public import ServiceLifecycle

/// One capability of the server — Party Sync, the media broker, the gateway — as the
/// composition root sees it: a name for `--services`, the migrations of its tables, and one
/// function that builds its running parts over the opened database.
///
/// Each capability module has one conformance. `RPGBotServer` loops over the enabled ones in
/// a fixed order; what a capability publishes in ``CapabilityContext/interfaces`` (its hub,
/// its knowledge service) is there for the ones after it, and the root connects them through
/// protocols the consumers define. Adding a capability is its conformance plus one line in
/// the root's list.
public protocol Capability: Sendable {
    /// The name in `--services` (`party-sync`).
    var name: String { get }

    /// Its settings, declared once: `rpgbot serve` parses their flags and lists them in its
    /// help, the README's tables are checked against them. The capability's configuration type
    /// reads them (`PartySyncSettings(reading:)`).
    static var settings: [Setting] { get }

    /// The migrations of its tables; registered whenever the capability runs.
    var migrations: [Migration] { get }

    /// Builds the capability over the opened database: its store for the database's backend,
    /// its routes, its lifecycle services. Runs before migrations and before anything listens,
    /// so it must not touch the database; work that does goes in ``CapabilityParts/beforeServing``.
    func assemble(in context: CapabilityContext) async throws -> CapabilityParts
}

/// What a capability is built with.
public struct CapabilityContext: Sendable {
    public let database: DatabaseHandle
    public let telemetry: Telemetry
    public let tokens: TokenAuthority
    /// The data folder (artifacts, generated secrets).
    public let dataDirectory: URL
    /// What the capabilities before this one published.
    public let interfaces: CapabilityInterfaces

    public init(database: DatabaseHandle, telemetry: Telemetry, tokens: TokenAuthority, dataDirectory: URL, interfaces: CapabilityInterfaces) {
        self.database = database
        self.telemetry = telemetry
        self.tokens = tokens
        self.dataDirectory = dataDirectory
        self.interfaces = interfaces
    }
}

/// The running parts of a capability.
public struct CapabilityParts: Sendable {
    /// Registers its HTTP routes.
    public var routes: @Sendable (CatalogedRouter<AppRequestContext>) -> Void
    /// Registers its WebSocket routes (tried before the HTTP router on an upgrade request).
    public var webSocketRoutes: @Sendable (Router<AppRequestContext>) -> Void
    /// Services that run beside the server and stop with it.
    public var services: [any Service]
    /// Work after the migrations and before the server accepts connections (loading indexes,
    /// ingesting start-up content), in the order the capabilities were assembled.
    public var beforeServing: [@Sendable () async throws -> Void]

    public init(
        routes: @escaping @Sendable (CatalogedRouter<AppRequestContext>) -> Void = { _ in },
        webSocketRoutes: @escaping @Sendable (Router<AppRequestContext>) -> Void = { _ in },
        services: [any Service] = [],
        beforeServing: [@Sendable () async throws -> Void] = []
    ) {
        self.routes = routes
        self.webSocketRoutes = webSocketRoutes
        self.services = services
        self.beforeServing = beforeServing
    }
}
