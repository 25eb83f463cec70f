import Foundation
public import Logging
public import Memory37
import Persistence
import Gateway
public import Memory37Graph
import ServiceKit
import ServiceLifecycle

/// The knowledge layer outside the server, for `rpgbot ingest`, `search` and `reembed`: opens
/// the configured database, applies the knowledge migrations, and runs `body` with the
/// service, then closes the database.
public enum KnowledgeToolbox {
    /// - Parameter maintainingGraph: false leaves the campaign graph as it is (benchmarks of
    ///   search alone); the commands keep it current.
    public static func withKnowledge<T: Sendable>(
        _ configuration: RPGBotConfiguration, logger: Logger, maintainingGraph: Bool = true, _ body: @Sendable (KnowledgeService) async throws -> T
    ) async throws -> T {
        try await open(configuration, logger: logger, graph: maintainingGraph) { knowledge, _ in try await body(knowledge) }
    }

    /// The knowledge service and the campaign graph that follows its every write, so that an
    /// ingestion from the command line updates the graph as one through the server does.
    public static func withGraph<T: Sendable>(
        _ configuration: RPGBotConfiguration, logger: Logger, _ body: @Sendable (KnowledgeService, GraphService) async throws -> T
    ) async throws -> T {
        try await open(configuration, logger: logger, graph: true) { knowledge, graph in try await body(knowledge, graph!) }
    }

    private static func open<T: Sendable>(
        _ configuration: RPGBotConfiguration, logger: Logger, graph: Bool, _ body: @Sendable (KnowledgeService, GraphService?) async throws -> T
    ) async throws -> T {
        try FileManager.default.createDirectory(at: configuration.dataDirectory, withIntermediateDirectories: true)
        let database = try DatabaseHandle.open(configuration.databaseURL, logger: logger)
        try await database.waitUntilReachable(within: configuration.databaseWait, logger: logger)
        let migrations = MigrationRunner()
        migrations.register(KnowledgeMigrations.all + GraphMigrations.all)
        let resolved = configuration.knowledge.resolveEmbedder()
        let embedder = resolved.embedder
        if let notice = resolved.notice {
            if resolved.isWarning { logger.warning("\(notice)") } else { logger.notice("\(notice)") }
        }
        let store: any KnowledgeStore =
            switch database.backend {
            case .sqlite(let pool): SQLiteKnowledgeStore(pool: pool, dimensions: embedder.dimensions)
            case .postgres(let client): PostgresKnowledgeStore(client: client, dimensions: embedder.dimensions, logger: logger, inProcessSearch: configuration.knowledge.inProcessSearch)
            }
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await database.service.run()
                return nil
            }
            defer { group.cancelAll() }
            _ = try await migrations.apply(to: database)
            try await store.prepare()
            let knowledge = configuration.knowledge
            let service = KnowledgeService(
                store: store, embedder: embedder, chunker: knowledge.chunker, storeTimeout: knowledge.storeTimeout,
                lifetimes: knowledge.lifetimes, retiredGrace: knowledge.retiredGrace.inSeconds, logger: logger
            )
            let graphService = graph ? GatewayCapability.makeGraphService(knowledge: service, database: database, relationLifetime: knowledge.relationLifetime, logger: logger) : nil
            return try await body(service, graphService)
        }
    }
}
