import Foundation
import Logging
import Memory37
import Persistence
import ServiceKit
import TestSupport

/// The three stores, each fresh, for the shared suite.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, sqlite, postgres
    /// PostgreSQL with queries ranked in process (`RPGBOT_KNOWLEDGE_SEARCH=in-process`).
    case postgresInProcess = "postgres-in-process"
    var testDescription: String { rawValue }

    static var available: [StoreKind] {
        PostgresTestServer.isConfigured || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1" ? allCases : [.memory, .sqlite]
    }
}

import Testing

enum StoreFixture {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let demo = repository.appendingPathComponent("content/demo")
    static let fiveE = repository.deletingLastPathComponent().appendingPathComponent("shared/data/5e-database")

    static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    /// Runs `body` with a service over a fresh store of `kind`.
    static func withService<T: Sendable>(_ kind: StoreKind, embedder: any Embedder = HashingEmbedder(), lifetimes: [KnowledgeDomain: Double] = [:], retiredGrace: TimeInterval = 7 * 86_400, _ body: @Sendable (KnowledgeService) async throws -> T) async throws -> T {
        switch kind {
        case .memory:
            let service = KnowledgeService(store: InMemoryKnowledgeStore(dimensions: embedder.dimensions), embedder: embedder, lifetimes: lifetimes, retiredGrace: retiredGrace, logger: quiet)
            await service.prepare()
            return try await body(service)
        case .sqlite, .postgres, .postgresInProcess:
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let url: DatabaseURL = kind == .sqlite ? .sqlite(path: directory.file("k.sqlite").path) : try await PostgresTestServer.makeDatabase(prefix: "knowledge")
            let inProcess = kind == .postgresInProcess
            let database = try DatabaseHandle.open(url, logger: quiet)
            return try await withRunningDatabase(database) { database in
                let migrations = MigrationRunner()
                migrations.register(KnowledgeMigrations.all)
                _ = try await migrations.apply(to: database)
                let store: any KnowledgeStore =
                    switch database.backend {
                    case .sqlite(let pool): SQLiteKnowledgeStore(pool: pool, dimensions: embedder.dimensions)
                    case .postgres(let client): PostgresKnowledgeStore(client: client, dimensions: embedder.dimensions, logger: quiet, inProcessSearch: inProcess)
                    }
                let service = KnowledgeService(store: store, embedder: embedder, lifetimes: lifetimes, retiredGrace: retiredGrace, logger: quiet)
                await service.prepare()
                #expect(!service.isDegraded)
                return try await body(service)
            }
        }
    }

    static func demoDocuments() -> [KnowledgeDocument] {
        DocumentLoader(defaultDomain: .lore, defaultCampaign: "demo").load(demo).documents
    }

    static func player(_ campaign: String = "demo", domains: Set<KnowledgeDomain> = []) -> SearchFilter {
        SearchFilter(campaignID: campaign, domains: domains, includeGM: false)
    }

    static func gm(_ campaign: String = "demo", domains: Set<KnowledgeDomain> = []) -> SearchFilter {
        SearchFilter(campaignID: campaign, domains: domains, includeGM: true)
    }
}
