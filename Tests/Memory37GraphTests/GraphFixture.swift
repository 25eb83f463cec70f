import Foundation
import Logging
import Memory37
import Memory37Graph
import Persistence
import TestSupport
import Testing

/// The two graph stores, each fresh.
enum GraphStoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    static var available: [GraphStoreKind] {
        PostgresTestServer.isConfigured || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1" ? allCases : [.sqlite]
    }
}

enum GraphFixture {
    static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    /// Runs `body` with a knowledge service and its graph over a fresh database of `kind`.
    static func withGraph<T: Sendable>(_ kind: GraphStoreKind, relationLifetime: Double? = nil, _ body: @Sendable (KnowledgeService, GraphService) async throws -> T) async throws -> T {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let url: DatabaseURL = kind == .sqlite ? .sqlite(path: directory.file("g.sqlite").path) : try await PostgresTestServer.makeDatabase(prefix: "graph")
        let database = try DatabaseHandle.open(url, logger: quiet)
        return try await withRunningDatabase(database) { database in
            let migrations = MigrationRunner()
            migrations.register(KnowledgeMigrations.all + GraphMigrations.all)
            _ = try await migrations.apply(to: database)
            let embedder = HashingEmbedder()
            let (store, graphStore): (any KnowledgeStore, any GraphStore) =
                switch database.backend {
                case .sqlite(let pool): (SQLiteKnowledgeStore(pool: pool, dimensions: embedder.dimensions), SQLiteGraphStore(pool: pool))
                case .postgres(let client): (PostgresKnowledgeStore(client: client, dimensions: embedder.dimensions, logger: quiet), PostgresGraphStore(client: client, logger: quiet))
                }
            let knowledge = KnowledgeService(store: store, embedder: embedder, logger: quiet)
            await knowledge.prepare()
            let indexer = GraphIndexer(store: graphStore, knowledge: store, relationLifetime: relationLifetime, logger: quiet)
            knowledge.follow(with: indexer)
            return try await body(knowledge, GraphService(store: graphStore, knowledge: knowledge, indexer: indexer))
        }
    }

    static func gm(_ campaign: String = "keep") -> SearchFilter { SearchFilter(campaignID: campaign, includeGM: true) }
    static func player(_ campaign: String = "keep") -> SearchFilter { SearchFilter(campaignID: campaign, includeGM: false) }

    /// A small campaign written for these tests, with known answers: Harbor Keep, its people,
    /// two factions, a quest with a step DAG and three sessions linked by causes.
    static func documents(campaign: String = "keep") throws -> [KnowledgeDocument] {
        let text = """
        documents:
          - id: loc.harbor-keep
            domain: lore
            kind: location
            title: Harbor Keep
            aliases: [the keep]
            location: loc.greyport
            text: A squat fortress over the harbour of Greyport.
          - id: loc.greyport
            domain: lore
            kind: location
            title: Greyport
            text: A trading town on a grey coast.
          - id: npc.aldra
            domain: npc
            title: Captain Aldra
            aliases: [Aldra]
            location: loc.harbor-keep
            relations:
              - {type: member_of, target: fac.guard}
              - {type: enemy_of, target: npc.corvin, attitude: -70, since: 2}
              - {type: knows, target: pc.rook, attitude: 30}
              - {type: knows, target: npc.mirelle, visibility: gm, note: secret lover}
            text: The keep's stern captain.
          - id: npc.corvin
            domain: npc
            title: Corvin the Fence
            location: loc.harbor-keep
            faction: fac.thieves
            relations:
              - {type: knows, target: pc.rook, attitude: 10}
              - {type: seeks, target: item.ledger}
            text: A fence who trades in stolen goods.
          - id: npc.mirelle
            domain: npc
            title: Mirelle
            visibility: gm
            location: loc.greyport
            text: A spy nobody at the table has met.
          - id: fac.guard
            domain: lore
            kind: faction
            title: The Harbor Guard
            relations:
              - {type: enemy_of, target: fac.thieves}
            text: The keep's soldiers.
          - id: fac.thieves
            domain: lore
            kind: faction
            title: The Night Thieves
            text: Greyport's thieves' guild.
          - id: item.ledger
            domain: lore
            kind: item
            title: The Black Ledger
            location: loc.harbor-keep
            text: A book of debts.
          - id: quest.ledger
            domain: lore
            kind: quest
            title: Find the Black Ledger
            status: active
            giver: npc.aldra
            involves: [npc.corvin]
            steps:
              - {id: ask, title: Ask around the docks, status: done}
              - {id: bribe, title: Bribe the clerk, status: failed, requires: [ask]}
              - {id: follow, title: Follow Corvin, status: open, requires: [ask]}
              - {id: vault, title: Break into the vault, status: open, requires: [bribe, follow]}
            text: Aldra wants the ledger found.
          - id: ep.s1
            domain: episode
            title: Session 1
            session: 1
            location: loc.harbor-keep
            involves: [npc.aldra, pc.rook]
            causes: [ep.s2]
            text: The party arrived at Harbor Keep and met Captain Aldra.
          - id: ep.s2
            domain: episode
            title: Session 2
            session: 2
            location: loc.harbor-keep
            involves: [npc.corvin, pc.rook]
            causes: [ep.s3]
            text: Corvin the Fence sold Rook a forged pass.
          - id: ep.s3
            domain: episode
            title: Session 3
            session: 3
            location: loc.greyport
            caused_by: [ep.s2]
            text: The forged pass was found and the party fled the keep. Captain Aldra swore revenge on Corvin the Fence.
        """
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try text.write(to: directory.file("campaign.yaml"), atomically: true, encoding: .utf8)
        let loaded = DocumentLoader(defaultDomain: .lore, defaultCampaign: campaign).load(directory.url)
        #expect(loaded.failures.isEmpty, "\(loaded.failures)")
        return loaded.documents
    }
}
