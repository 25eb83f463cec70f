public import CapabilityKit
import Console
public import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
public import PartySync
public import Genlayers
public import Memory37
import Gateway
public import MediaBroker
public import Observability
public import Persistence
public import ServiceKit
import ServiceLifecycle
import UnixSignals
import Logging
public import NIOCore
import HTTPTypes

import Foundation

/// The composition root: opens the database, loads the token secret, assembles the enabled
/// capabilities in order (each registers its migrations, routes and lifecycle services; what
/// one publishes, the root connects to the ones after it), and returns the Hummingbird
/// application that `rpgbot serve` runs and the tests start on an ephemeral port.
public struct RPGBotServer: Sendable {
    public let configuration: RPGBotConfiguration
    public let telemetry: Telemetry
    public let database: DatabaseHandle
    public let migrations: MigrationRunner
    public let tokens: TokenAuthority
    public let routes: RouteCatalog
    /// What the running capabilities published: their hubs, services, engines.
    public let interfaces: CapabilityInterfaces
    /// The running parts of the enabled capabilities, in assembly order.
    let parts: [CapabilityParts]

    /// Every capability this build has, in the order they are assembled: Party Sync first, as
    /// the media broker and the gateway report into its campaign streams. `--services` picks
    /// from these by name.
    public static func capabilities(for configuration: RPGBotConfiguration) -> [any Capability] {
        [
            PartySyncCapability(settings: configuration.partySync),
            MediaBrokerCapability(settings: configuration.media),
            GatewayCapability(generation: configuration.generation, knowledge: configuration.knowledge),
            ConsoleCapability(),
        ]
    }

    /// Party Sync, when `--services` includes it.
    public var partySync: PartySyncService? { interfaces.get(PartySyncService.self) }
    /// The generation engine, when `--services` includes the gateway.
    public var generation: GenerationEngine? { interfaces.get(GenerationEngine.self) }
    /// The knowledge layer, when the gateway runs with Memory37 enabled.
    public var knowledge: KnowledgeService? { interfaces.get(KnowledgeService.self) }
    /// The media broker, when `--services` includes it.
    public var media: MediaBroker? { interfaces.get(MediaBroker.self) }

    /// Prepares everything that can fail before the server binds: data folder, database,
    /// token secret, the capabilities. Nothing is listening yet.
    public static func prepare(configuration: RPGBotConfiguration, telemetry: Telemetry) async throws -> RPGBotServer {
        try FileManager.default.createDirectory(at: configuration.dataDirectory, withIntermediateDirectories: true)
        let secret = try configuration.jwtSecret ?? JWTSecret.loadOrCreate(in: configuration.dataDirectory)
        let database = try DatabaseHandle.open(configuration.databaseURL, logger: telemetry.makeLogger("rpgbot.database"))
        try await database.waitUntilReachable(within: configuration.databaseWait, logger: database.logger)
        let tokens = await TokenAuthority(secret: secret)
        let migrations = MigrationRunner()
        let interfaces = CapabilityInterfaces()
        let context = CapabilityContext(database: database, telemetry: telemetry, tokens: tokens, dataDirectory: configuration.dataDirectory, interfaces: interfaces)
        var parts: [CapabilityParts] = []
        let connectionLogger = telemetry.makeLogger("rpgbot.media")
        for capability in capabilities(for: configuration) where configuration.services.contains(capability.name) {
            migrations.register(capability.migrations)
            parts.append(try await capability.assemble(in: context))
            connect(interfaces, logger: connectionLogger)
        }
        return RPGBotServer(
            configuration: configuration, telemetry: telemetry, database: database, migrations: migrations,
            tokens: tokens, routes: RouteCatalog(), interfaces: interfaces, parts: parts
        )
    }

    /// Connects what one capability published to the protocols others consume: Party Sync's
    /// hub takes the gateway's broadcasts and the media broker's job updates.
    static func connect(_ interfaces: CapabilityInterfaces, logger: Logger) {
        if let partySync = interfaces.get(PartySyncService.self), interfaces.get((any CampaignEventPublisher).self) == nil {
            interfaces.publish(PartySyncEventPublisher(hub: partySync.hub), as: (any CampaignEventPublisher).self)
            interfaces.publish(PartySyncMediaObserver(hub: partySync.hub, logger: logger), as: (any MediaJobObserver).self)
        }
    }

    /// Builds the application: routes, middleware, and the services that run beside the
    /// server (tracing, database). Migrations run before the server starts accepting.
    ///
    /// - Parameters:
    ///   - additionalRoutes: routes registered after the system routes, behind the same
    ///     middleware (embedding and tests).
    ///   - onServerRunning: called with the listening channel, e.g. to learn the port bound
    ///     for port 0.
    public func makeApplication(
        additionalRoutes: (CatalogedRouter<AppRequestContext>) -> Void = { _ in },
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> Application<RouterResponder<AppRequestContext>> {
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: RequestTelemetryMiddleware(logger: telemetry.logger, metrics: telemetry.metrics))
        router.add(middleware: ProblemMiddleware(catalog: routes, traceID: Telemetry.currentTraceID))
        router.add(middleware: BodyLimitMiddleware(limit: configuration.maxBodySize))
        let api = CatalogedRouter(router: router, catalog: routes)
        SystemRoutes(server: self).register(on: api)
        for part in parts { part.routes(api) }
        additionalRoutes(api)

        // WebSocket upgrades are routed separately; a request that does not upgrade falls
        // through to the HTTP router above.
        let webSocketRouter = Router(context: AppRequestContext.self)
        webSocketRouter.add(middleware: RequestTelemetryMiddleware(logger: telemetry.logger, metrics: telemetry.metrics))
        for part in parts { part.webSocketRoutes(webSocketRouter) }
        let webSocketConfiguration = WebSocketServerConfiguration(
            // Messages up to four times the limit are read so that an oversized one gets an error frame.
            maxFrameSize: configuration.partySync.maxFrameBytes * 4,
            autoPing: .disabled,
            closeTimeout: .seconds(5)
        )

        let webSocketResponder = webSocketRouter.buildResponder()
        let idleTimeout = TimeAmount(configuration.httpIdleTimeout)
        let connections = OpenConnections(limit: configuration.maxConnections)
        let refused = RefusedRequestReporter(registry: telemetry.metrics, logger: telemetry.logger)
        var application = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                FirstRequestHeadGuarding(
                    base: HTTP1WebSocketUpgradeChannel(
                        responder: responder, webSocketResponder: webSocketResponder,
                        configuration: .init(http1: .init(idleTimeout: idleTimeout), ws: webSocketConfiguration)
                    ),
                    headTimeout: idleTimeout,
                    connections: connections,
                    reporter: refused
                )
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "rpgbot"),
            onServerRunning: onServerRunning,
            logger: telemetry.logger
        )
        application.addServices(telemetry.services)
        application.addServices(database.service)
        for part in parts { application.addServices(part.services) }
        let database = self.database
        let migrations = self.migrations
        let logger = telemetry.logger
        let configuration = self.configuration
        let preparations = parts.flatMap(\.beforeServing)
        application.beforeServerStarts {
            let report = try await migrations.apply(to: database)
            for prepare in preparations { try await prepare() }
            logger.info(
                "rpgbot ready to serve",
                metadata: [
                    "address": "\(configuration.host):\(configuration.port)",
                    "database": "\(database.url)",
                    "migrations_applied": .stringConvertible(report.applied.count),
                    "services": .array(configuration.services.map { .string($0) }),
                ]
            )
        }
        return application
    }

    /// Runs the application until SIGTERM or SIGINT, then drains in-flight requests (up to the
    /// shutdown timeout) and closes the database.
    public func run() async throws {
        let application = makeApplication()
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: application)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: telemetry.logger
        )
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownTimeout
        try await ServiceGroup(configuration: groupConfiguration).run()
    }
}
