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
public import Logging
public import NIOCore
import HTTPTypes

import Foundation

/// The composition root: opens the database, loads the token secret, registers migrations
/// and routes of the selected services, and returns the Hummingbird application that
/// `rpgbot serve` runs and the tests start on an ephemeral port.
public struct RPGBotServer: Sendable {
    public let configuration: RPGBotConfiguration
    public let telemetry: Telemetry
    public let database: DatabaseHandle
    public let migrations: MigrationRunner
    public let tokens: TokenAuthority
    public let routes: RouteCatalog
    /// Party Sync, when `--services` includes it.
    public let partySync: PartySyncService?
    /// The generation engine, when `--services` includes the gateway.
    public let generation: GenerationEngine?
    /// The knowledge layer, when the gateway runs with Memory37 enabled.
    public let knowledge: KnowledgeService?
    /// The media broker, when `--services` includes it.
    public let media: MediaBroker?

    /// Prepares everything that can fail before the server binds: data folder, database,
    /// token secret. Nothing is listening yet.
    public static func prepare(configuration: RPGBotConfiguration, telemetry: Telemetry) async throws -> RPGBotServer {
        try FileManager.default.createDirectory(at: configuration.dataDirectory, withIntermediateDirectories: true)
        let secret = try configuration.jwtSecret ?? JWTSecret.loadOrCreate(in: configuration.dataDirectory)
        let database = try DatabaseHandle.open(configuration.databaseURL, logger: telemetry.makeLogger("rpgbot.database"))
        try await database.waitUntilReachable(within: configuration.databaseWait, logger: database.logger)
        let tokens = await TokenAuthority(secret: secret)
        let migrations = MigrationRunner()
        var partySync: PartySyncService?
        if configuration.services.contains(PartySyncService.name) {
            migrations.register(PartySyncService.migrations)
            partySync = PartySyncService(
                database: database, tokens: tokens, settings: configuration.partySync,
                metrics: telemetry.metrics, logger: telemetry.makeLogger("rpgbot.party-sync")
            )
        }
        var generation: GenerationEngine?
        if configuration.services.contains(Self.gatewayName) {
            let catalog = try loadProfiles(configuration.generation, logger: telemetry.makeLogger("rpgbot.genlayers"))
            generation = GenerationEngine(
                catalog: catalog,
                providers: GenerationEngine.standardProviders(configuration.generation.engine.providerSettings),
                settings: configuration.generation.engine,
                metrics: telemetry.metrics,
                logger: telemetry.makeLogger("rpgbot.genlayers")
            )
        }
        var knowledge: KnowledgeService?
        if configuration.services.contains(Self.gatewayName), configuration.knowledge.enabled {
            migrations.register(KnowledgeMigrations.all)
            let embedder = configuration.knowledge.makeEmbedder()
            let logger = telemetry.makeLogger("rpgbot.memory37")
            let store: any KnowledgeStore =
                switch database.backend {
                case .sqlite(let pool): SQLiteKnowledgeStore(pool: pool, dimensions: embedder.dimensions)
                case .postgres(let client): PostgresKnowledgeStore(client: client, dimensions: embedder.dimensions, logger: logger, inProcessSearch: configuration.knowledge.inProcessSearch)
                }
            knowledge = KnowledgeService(store: store, embedder: embedder, chunker: configuration.knowledge.chunker, storeTimeout: configuration.knowledge.storeTimeout, metrics: telemetry.metrics, logger: logger)
        }
        var media: MediaBroker?
        if configuration.services.contains(Self.mediaBrokerName) {
            migrations.register(MediaMigrations.all)
            let logger = telemetry.makeLogger("rpgbot.media")
            let store: any MediaJobStore =
                switch database.backend {
                case .sqlite(let pool): SQLiteMediaJobStore(pool: pool)
                case .postgres(let client): PostgresMediaJobStore(client: client, logger: logger)
                }
            let engines = MediaBroker.standardEngines(configuration.media)
            media = MediaBroker(
                store: store, artifacts: ArtifactStore(folder: configuration.dataDirectory.appendingPathComponent("artifacts", isDirectory: true)),
                settings: configuration.media, speechEngines: engines.speech, imageEngines: engines.images,
                observer: partySync.map { PartySyncMediaObserver(hub: $0.hub, logger: logger) }, metrics: telemetry.metrics, logger: logger
            )
        }
        return RPGBotServer(
            configuration: configuration,
            telemetry: telemetry,
            database: database,
            migrations: migrations,
            tokens: tokens,
            routes: RouteCatalog(),
            partySync: partySync,
            generation: generation,
            knowledge: knowledge,
            media: media
        )
    }

    /// Ingests the content folder (unchanged documents cost nothing), reporting each bad file.
    /// While the store is unavailable the documents go into the fallback only: the folder is
    /// ingested again when the store is back.
    static func ingestContent(_ configuration: KnowledgeConfiguration, into knowledge: KnowledgeService, logger: Logger) async {
        guard let folder = configuration.contentDirectory else { return }
        guard FileManager.default.fileExists(atPath: folder.path) else {
            if configuration.contentDirectoryGiven {
                logger.warning("knowledge content folder not found", metadata: ["path": "\(folder.path)"])
            }
            return
        }
        let loaded = DocumentLoader(defaultDomain: .lore, defaultCampaign: configuration.contentCampaign).load(folder)
        for failure in loaded.failures {
            logger.warning("knowledge document not ingested", metadata: ["file": "\(failure.path)", "line": "\(failure.line.map(String.init) ?? "-")", "reason": "\(failure.reason)"])
        }
        do {
            let report = try await knowledge.ingest(loaded.documents, whenStoreUnavailable: .fallbackOnly)
            logger.info("knowledge content ingested", metadata: [
                "store": "\(knowledge.isDegraded ? "in-memory fallback" : knowledge.primary.kind)",
                "path": "\(folder.path)", "added": "\(report.added.count)", "updated": "\(report.updated.count)",
                "unchanged": "\(report.unchanged.count)", "failed": "\(report.failed.count + loaded.failures.count)",
            ])
        } catch {
            logger.error("knowledge content ingestion failed", metadata: ["error": "\(error)"])
        }
    }

    /// The `--services` name of the media job broker.
    public static let mediaBrokerName = "media-broker"

    /// The `--services` name of the knowledge and generation HTTP API.
    public static let gatewayName = "gateway"

    /// The profiles file, checked in full; a default path that does not exist gives no profiles.
    public static func loadProfiles(_ configuration: GenerationConfiguration, logger: Logger) throws -> ProfileCatalog {
        let path = configuration.profilesPath.path
        if !configuration.profilesPathGiven, !FileManager.default.fileExists(atPath: path) {
            logger.warning("no generation profiles file; /v1/generation serves no profiles", metadata: ["path": "\(path)"])
            return ProfileCatalog(profiles: [])
        }
        let catalog = try ProfileCatalog.load(from: configuration.profilesPath, knownProviders: GenerationEngine.providerNames)
        logger.info("generation profiles loaded", metadata: ["path": "\(path)", "profiles": .array(catalog.sorted.map { .string($0.name) })])
        return catalog
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
        partySync?.routes.registerHTTP(on: api)
        if let knowledge {
            KnowledgeRoutes(service: knowledge, tokens: tokens, limits: configuration.knowledge.limits).register(on: api)
        }
        if let generation {
            GenerationRoutes(engine: generation, tokens: tokens, rate: configuration.generation.requestRate, burst: configuration.generation.requestBurst).register(on: api)
            let grounded = GroundedGenerator(
                engine: generation, knowledge: knowledge, budgets: configuration.generation.contextBudgets,
                events: partySync.map { PartySyncEventPublisher(hub: $0.hub) }, metrics: telemetry.metrics, logger: telemetry.makeLogger("rpgbot.gateway")
            )
            GroundedGenerationRoutes(generator: grounded, tokens: tokens, rate: configuration.generation.requestRate, burst: configuration.generation.requestBurst).register(on: api)
        }
        if let media {
            MediaRoutes(broker: media, tokens: tokens).register(on: api)
        }
        additionalRoutes(api)

        // WebSocket upgrades are routed separately; a request that does not upgrade falls
        // through to the HTTP router above.
        let webSocketRouter = Router(context: AppRequestContext.self)
        webSocketRouter.add(middleware: RequestTelemetryMiddleware(logger: telemetry.logger, metrics: telemetry.metrics))
        partySync?.routes.registerWebSocket(on: webSocketRouter)
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
        if let partySync {
            application.addServices(partySync)
        }
        if let knowledge {
            let content = configuration.knowledge
            let logger = telemetry.logger
            application.addServices(KnowledgeUpkeepService(knowledge: knowledge) {
                await Self.ingestContent(content, into: knowledge, logger: logger)
            })
        }
        if let media {
            application.addServices(media)
        }
        let database = self.database
        let migrations = self.migrations
        let logger = telemetry.logger
        let configuration = self.configuration
        let knowledge = self.knowledge
        application.beforeServerStarts {
            let report = try await migrations.apply(to: database)
            if let knowledge {
                await knowledge.prepare()
                await Self.ingestContent(configuration.knowledge, into: knowledge, logger: logger)
            }
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
