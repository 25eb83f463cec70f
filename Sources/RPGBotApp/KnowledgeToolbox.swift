import Foundation
public import Logging
public import Memory37
import Persistence
import ServiceKit
import ServiceLifecycle

/// The knowledge layer outside the server, for `rpgbot ingest`, `search` and `reembed`: opens
/// the configured database, applies the knowledge migrations, and runs `body` with the
/// service, then closes the database.
public enum KnowledgeToolbox {
    public static func withKnowledge<T: Sendable>(
        _ configuration: RPGBotConfiguration, logger: Logger, _ body: @Sendable (KnowledgeService) async throws -> T
    ) async throws -> T {
        try FileManager.default.createDirectory(at: configuration.dataDirectory, withIntermediateDirectories: true)
        let database = try DatabaseHandle.open(configuration.databaseURL, logger: logger)
        try await database.waitUntilReachable(within: configuration.databaseWait, logger: logger)
        let migrations = MigrationRunner()
        migrations.register(KnowledgeMigrations.all)
        let embedder = configuration.knowledge.makeEmbedder()
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
            return try await body(service)
        }
    }
}
