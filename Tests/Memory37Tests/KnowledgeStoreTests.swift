import JSONValues
import Foundation
import Memory37
import Persistence
import PostgresNIO
import ServiceKit
import TestSupport
import Testing

/// One suite, every store: in memory, SQLite, PostgreSQL + pgvector.
@Suite("Knowledge stores")
struct KnowledgeStoreTests {
    @Test("ingest, search and every read function", arguments: StoreKind.available)
    func ingestAndRead(kind: StoreKind) async throws {
        try await StoreFixture.withService(kind) { service in
            let report = try await service.ingest(StoreFixture.demoDocuments())
            #expect(report.added.count == 24)
            #expect(report.failed.isEmpty)

            let tavern = try await service.search("who runs the tavern by the harbour", filter: StoreFixture.player(), k: 5)
            // Old Tom's own profile, or the town page that says he runs The Rusty Anchor.
            #expect(tavern.prefix(2).contains { $0.chunk.title.contains("Old Tom") || $0.chunk.text.contains("run by Old Tom") }, "\(tavern.map(\.chunk.id))")
            let top = try #require(tavern.first)
            #expect(top.bm25Rank != nil || top.vectorRank != nil)
            #expect(!top.snippet.isEmpty)

            let lore = try await service.loreSearch("smugglers gull coin", filter: StoreFixture.player(), k: 3)
            #expect(["lore.factions", "faction.gullcoin-syndicate"].contains(lore.first?.chunk.sourceID))
            #expect(lore.allSatisfy { $0.chunk.domain == .lore })

            let rules = try await service.rulesLookup("house rules", filter: StoreFixture.player())
            #expect(rules.first?.chunk.sourceID == "rules.house-rules")
            #expect(rules.first?.aliasHit == true)

            let episodes = try await service.sessionFetch(filter: StoreFixture.player())
            #expect(episodes.map(\.sourceID) == ["episode.session-01", "episode.session-02", "episode.session-03"])
            #expect(episodes.first?.sessionNumber == 1)

            let npc = try #require(try await service.npcProfile("Old Tom", filter: StoreFixture.player()))
            #expect(npc.id == "npc.old-tom")
            #expect(npc.fields["role"] == .string("innkeeper of The Rusty Anchor"))
            #expect(npc.text.contains("wooden leg"))
            #expect(try await service.npcProfile("npc.maren", filter: StoreFixture.player())?.name == "Sister Maren Holt")
            #expect(try await service.npcProfile("Nobody At All", filter: StoreFixture.player()) == nil)

            let art = try await service.artSuggest("a flooded chapel with candles and a priestess", filter: StoreFixture.player(), k: 2)
            #expect(art.first?.chunk.sourceID == "art.tide-chapel")
            #expect(art.allSatisfy { $0.chunk.domain == .art })

            let supported = try await service.loreAssert("Old Tom has a wooden leg", filter: StoreFixture.player())
            #expect(supported.verdict == .supported)
            let contradicted = try await service.loreAssert("Captain Ilse Varrow offers 80 gold pieces to investigate the Drowned Bell", filter: StoreFixture.player())
            #expect(contradicted.verdict == .contradicted)
            let unknown = try await service.loreAssert("Dragons rule the northern mountains", filter: StoreFixture.player())
            #expect(unknown.verdict == .unknown)
        }
    }

    @Test("re-ingest: unchanged writes nothing, changed is replaced, removed goes with prune", arguments: StoreKind.available)
    func incremental(kind: StoreKind) async throws {
        try await StoreFixture.withService(kind) { service in
            var documents = StoreFixture.demoDocuments()
            _ = try await service.ingest(documents)
            let before = try await service.counts()
            let again = try await service.ingest(documents)
            #expect(again.unchanged.count == documents.count)
            #expect(again.added.isEmpty && again.updated.isEmpty && again.chunksWritten == 0)

            let index = try #require(documents.firstIndex { $0.sourceID == "npc.old-tom" })
            documents[index].body += "\n\nHe keeps a pet gull named Admiral."
            let removed = documents.remove(at: documents.firstIndex { $0.sourceID == "npc.vessa-crane" }!)
            let changed = try await service.ingest(documents, prune: true, pruneScope: .some("demo"))
            #expect(changed.updated == ["npc.old-tom"])
            #expect(changed.removed == [removed.sourceID])
            #expect(try await service.counts().documents == before.documents - 1)
            let gull = try await service.search("pet gull Admiral", filter: StoreFixture.player(), k: 1)
            #expect(gull.first?.chunk.sourceID == "npc.old-tom")
            #expect(try await service.npcProfile("Vessa", filter: StoreFixture.gm()) == nil)
        }
    }

    @Test("players never see gm knowledge or another campaign's; global knowledge is shared", arguments: StoreKind.available)
    func isolation(kind: StoreKind) async throws {
        try await StoreFixture.withService(kind) { service in
            _ = try await service.ingest([
                KnowledgeDocument(sourceID: "secret", campaignID: "alpha", domain: .lore, title: "The vault code", visibility: .gm, body: "The vault under the mill opens with the word marigold."),
                KnowledgeDocument(sourceID: "open", campaignID: "alpha", domain: .lore, title: "The mill", body: "The old mill stands by the river; its vault is sealed."),
                KnowledgeDocument(sourceID: "other", campaignID: "beta", domain: .lore, title: "Beta's vault", body: "In beta the vault under the mill holds marigold seeds."),
                KnowledgeDocument(sourceID: "rules.vaults", campaignID: nil, domain: .srd, title: "Vaults", body: "Opening a sealed vault takes a DC 15 check."),
                KnowledgeDocument(sourceID: "old", campaignID: "alpha", domain: .lore, title: "Expired rumour", body: "A rumour about the vault and marigold.", expiresAt: Date(timeIntervalSinceNow: -60)),
            ])
            for mode in SearchMode.allCases {
                let player = try await service.search("vault mill marigold", filter: StoreFixture.player("alpha"), k: 10, mode: mode)
                #expect(Set(player.map(\.chunk.sourceID)).isSubset(of: ["open", "rules.vaults"]), "\(mode): \(player.map(\.chunk.sourceID))")
                let gm = try await service.search("vault mill marigold", filter: StoreFixture.gm("alpha"), k: 10, mode: mode)
                #expect(!gm.contains { $0.chunk.sourceID == "other" || $0.chunk.sourceID == "old" })
                #expect(gm.contains { $0.chunk.sourceID == "secret" }, "\(mode)")
            }
            #expect(try await service.loreAssert("The vault opens with the word marigold", filter: StoreFixture.player("alpha")).verdict != .supported)
            #expect(try await service.loreAssert("The vault opens with the word marigold", filter: StoreFixture.gm("alpha")).verdict == .supported)
        }
    }

    @Test("a changed embedding model is detected and reembed redoes the vectors", arguments: StoreKind.available)
    func reembed(kind: StoreKind) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await StoreFixture.withService(kind, embedder: HashingEmbedder(dimensions: 256)) { service in
            _ = try await service.ingest(Array(StoreFixture.demoDocuments().prefix(3)))
            #expect(try await service.primary.embeddingModels().keys.sorted() == ["hashing-v4-256"])
            #expect(try await service.reembed() == 0)
            // Another model of the same length takes over: every vector is stale.
            let other = KnowledgeService(store: service.primary, embedder: RenamedEmbedder(base: HashingEmbedder(dimensions: 256)), logger: StoreFixture.quiet)
            let chunks = try await service.counts().chunks
            #expect(try await other.reembed() == chunks)
            #expect(try await other.primary.embeddingModels() == ["renamed-256": chunks])
        }
    }
}

extension KnowledgeStoreTests {
    @Test("the SQLite store rebuilds its in-process search indexes from the database: the same answers after a reopen")
    func sqliteReopen() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let queries = ["Old Tom innkeeper", "the drowned bell", "what does the harbour smell like", "Saltmere"]
        func answers(ingest: Bool) async throws -> [[String]] {
            let database = try DatabaseHandle.open(.sqlite(path: directory.file("k.sqlite").path), logger: StoreFixture.quiet)
            return try await withRunningDatabase(database) { database in
                let migrations = MigrationRunner()
                migrations.register(KnowledgeMigrations.all)
                _ = try await migrations.apply(to: database)
                guard case .sqlite(let pool) = database.backend else { return [] }
                let service = KnowledgeService(store: SQLiteKnowledgeStore(pool: pool, dimensions: 256), embedder: HashingEmbedder(), logger: StoreFixture.quiet)
                await service.prepare()
                if ingest { _ = try await service.ingest(StoreFixture.demoDocuments()) }
                var result: [[String]] = []
                for query in queries {
                    for mode in SearchMode.allCases {
                        result.append(try await service.search(query, filter: StoreFixture.gm(), k: 5, mode: mode).map(\.chunk.id))
                    }
                }
                return result
            }
        }
        let before = try await answers(ingest: true)
        #expect(before.allSatisfy { !$0.isEmpty })
        #expect(try await answers(ingest: false) == before)
    }
}

/// A hashing embedder under another model name, to change the model without changing vectors' length.
struct RenamedEmbedder: Embedder {
    let base: HashingEmbedder
    var model: String { "renamed-\(base.dimensions)" }
    var dimensions: Int { base.dimensions }
    func embed(_ texts: [String]) async throws -> [[Float]] { try await base.embed(texts.map { $0.uppercased() }) }
}

@Suite("PostgreSQL with in-process search on several nodes")
struct PostgresNodesTests {
    /// A fresh database with the knowledge migrations applied: its URL and a client on it.
    static func withMigratedDatabase(_ prefix: String, _ body: @Sendable (DatabaseURL, PostgresClient) async throws -> Void) async throws {
        let url = try await PostgresTestServer.makeDatabase(prefix: prefix)
        let database = try DatabaseHandle.open(url, logger: StoreFixture.quiet)
        try await withRunningDatabase(database) { database in
            let migrations = MigrationRunner()
            migrations.register(KnowledgeMigrations.all)
            _ = try await migrations.apply(to: database)
            guard case .postgres(let client) = database.backend else { return }
            try await body(url, client)
        }
    }

    @Test("a node sees another node's writes and deletions at its next search", .enabled(if: PostgresTestServer.isConfigured || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1", "needs PostgreSQL"))
    func nodesCatchUp() async throws {
        let url = try await PostgresTestServer.makeDatabase(prefix: "knowledge_nodes")
        let first = try DatabaseHandle.open(url, logger: StoreFixture.quiet)
        let second = try DatabaseHandle.open(url, logger: StoreFixture.quiet)
        try await withRunningDatabase(first) { first in
            try await withRunningDatabase(second) { second in
                let migrations = MigrationRunner()
                migrations.register(KnowledgeMigrations.all)
                _ = try await migrations.apply(to: first)
                guard case .postgres(let clientA) = first.backend, case .postgres(let clientB) = second.backend else { return }
                let nodeA = KnowledgeService(store: PostgresKnowledgeStore(client: clientA, dimensions: 256, logger: StoreFixture.quiet, inProcessSearch: true), embedder: HashingEmbedder(), logger: StoreFixture.quiet)
                _ = try await nodeA.ingest(StoreFixture.demoDocuments())
                // B starts after A's first ingestion: it loads what is there.
                let nodeB = KnowledgeService(store: PostgresKnowledgeStore(client: clientB, dimensions: 256, logger: StoreFixture.quiet, inProcessSearch: true), embedder: HashingEmbedder(), logger: StoreFixture.quiet)
                await nodeB.prepare()
                #expect(!nodeB.isDegraded)
                #expect(try await nodeB.search("Old Tom innkeeper", filter: StoreFixture.player(), k: 3, mode: .bm25).first?.chunk.sourceID == "npc.old-tom")
                // A writes a new document and changes one: B finds both at its next search.
                let lighthouse = KnowledgeDocument(sourceID: "lore.kestrel-light", campaignID: "demo", domain: .lore, title: "Kestrel Light", body: "A lighthouse keeper named Odile counts the gulls every dusk.")
                _ = try await nodeA.ingest([lighthouse])
                #expect(try await nodeB.search("lighthouse keeper gulls", filter: StoreFixture.player(), k: 3, mode: .bm25).first?.chunk.sourceID == "lore.kestrel-light")
                #expect(try await nodeB.search("lighthouse keeper gulls", filter: StoreFixture.player(), k: 3, mode: .vector).first?.chunk.sourceID == "lore.kestrel-light")
                var moved = lighthouse
                moved.body = "The lighthouse stands dark now; its keeper rows cargo for smugglers."
                _ = try await nodeA.ingest([moved])
                let hits = try await nodeB.search("gulls dusk", filter: StoreFixture.player(), k: 5, mode: .bm25)
                #expect(!hits.contains { $0.chunk.sourceID == "lore.kestrel-light" })
                // A deletes it: gone from B's answers too; B's own write is visible to A.
                try await nodeA.primary.delete(campaignID: "demo", sourceIDs: ["lore.kestrel-light"])
                #expect(try await nodeB.search("lighthouse smugglers cargo", filter: StoreFixture.player(), k: 5, mode: .bm25).allSatisfy { $0.chunk.sourceID != "lore.kestrel-light" })
                _ = try await nodeB.ingest([KnowledgeDocument(sourceID: "lore.ferry", campaignID: "demo", domain: .lore, title: "The Ferry", body: "A flat ferry crosses the channel twice a day, poled by twins.")])
                #expect(try await nodeA.search("ferry poled by twins", filter: StoreFixture.player(), k: 3, mode: .bm25).first?.chunk.sourceID == "lore.ferry")
                #expect(try await nodeB.search("ferry poled by twins", filter: StoreFixture.player(), k: 3, mode: .bm25).first?.chunk.sourceID == "lore.ferry")
                // The read functions answer from the same copy: an NPC and an episode A writes.
                _ = try await nodeA.ingest([
                    KnowledgeDocument(sourceID: "npc.odile", campaignID: "demo", domain: .npc, title: "Odile", aliases: ["the keeper"], body: "Odile keeps the Kestrel Light."),
                    KnowledgeDocument(sourceID: "episode.s9", campaignID: "demo", domain: .episode, title: "Session 9", metadata: ["session": .number(9)], body: "The party met Odile."),
                ])
                #expect(try await nodeB.npcProfile("the keeper", filter: StoreFixture.player())?.id == "npc.odile")
                #expect(try await nodeB.sessionFetch(filter: StoreFixture.player(), fromSession: 9).map(\.sourceID) == ["episode.s9"])
                // The background refresh applies A's writes to B's copy without any read on B.
                _ = try await nodeA.ingest([KnowledgeDocument(sourceID: "lore.quiet", campaignID: "demo", domain: .lore, title: "Quiet Cove", body: "Nobody goes to the quiet cove.")])
                #expect(try await nodeB.fallback.chunks(sourceIDs: ["lore.quiet"], filter: StoreFixture.player()).isEmpty)
                await nodeB.refresh()
                #expect(try await nodeB.fallback.chunks(sourceIDs: ["lore.quiet"], filter: StoreFixture.player()).map(\.title) == ["Quiet Cove"])
            }
        }
    }

    @Test("when its database goes away, a node keeps answering from its in-process copy, degraded", .enabled(if: PostgresTestServer.isConfigured, "needs PostgreSQL"))
    func databaseGone() async throws {
        try await Self.withMigratedDatabase("knowledge_gone") { url, client in
            guard case .postgres(let location) = url else { return }
            let store = PostgresKnowledgeStore(client: client, dimensions: 256, logger: StoreFixture.quiet, inProcessSearch: true)
            let service = KnowledgeService(store: store, embedder: HashingEmbedder(), storeTimeout: .seconds(1), logger: StoreFixture.quiet)
            await service.prepare()
            // One copy, not two: the fallback is the store's own.
            #expect(service.fallback === store.inMemoryCopy)
            _ = try await service.ingest(StoreFixture.demoDocuments())
            let admin = try DatabaseURL(parsing: PostgresTestServer.adminURL ?? "")
            _ = try await PostgresTestServer.withClient(admin) { admin in
                try await admin.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(location.database) WITH (FORCE)"), logger: StoreFixture.quiet)
            }
            #expect(try await service.search("Old Tom innkeeper", filter: StoreFixture.player(), k: 3).first?.chunk.sourceID == "npc.old-tom")
            #expect(service.isDegraded)
            #expect(try await service.npcProfile("Old Tom", filter: StoreFixture.player())?.id == "npc.old-tom")
        }
    }

    @Test("a node's copy loaded in batches holds exactly what the database holds", .enabled(if: PostgresTestServer.isConfigured, "needs PostgreSQL"))
    func batchedLoad() async throws {
        try await Self.withMigratedDatabase("knowledge_load") { _, client in
            let writer = KnowledgeService(store: PostgresKnowledgeStore(client: client, dimensions: 256, logger: StoreFixture.quiet, inProcessSearch: false), embedder: HashingEmbedder(), logger: StoreFixture.quiet)
            await writer.prepare()
            // More chunks than one load batch, three per document, so batches end between documents.
            let documents = (0..<1_500).map { index in
                KnowledgeDocument(sourceID: String(format: "lore.place-%04d", index), campaignID: "demo", domain: .lore, title: "Place \(index)",
                                  body: "## Gate\nThe gate of place \(index).\n\n## Hall\nThe hall of place \(index).\n\n## Well\nThe well of place \(index).")
            }
            _ = try await writer.ingest(documents)
            let reader = PostgresKnowledgeStore(client: client, dimensions: 256, logger: StoreFixture.quiet, inProcessSearch: true)
            try await reader.prepare()
            let filter = StoreFixture.gm()
            let sources = documents.map(\.sourceID)
            let stored = try await writer.primary.chunks(sourceIDs: sources, filter: filter)
            let loaded = try await reader.chunks(sourceIDs: sources, filter: filter)
            #expect(stored.count > 4_096)
            #expect(loaded == stored)
            #expect(try await reader.inMemoryCopy?.counts().chunks == stored.count)
        }
    }

    @Test("a node further behind than the change log reaches loads everything again; writers trim the log", .enabled(if: PostgresTestServer.isConfigured || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1", "needs PostgreSQL"))
    func trimmedLog() async throws {
        try await Self.withMigratedDatabase("knowledge_trim") { _, client in
            func node() -> KnowledgeService {
                KnowledgeService(store: PostgresKnowledgeStore(client: client, dimensions: 256, logger: StoreFixture.quiet, inProcessSearch: true, changeLogRetention: 2), embedder: HashingEmbedder(), logger: StoreFixture.quiet)
            }
            let writer = node()
            await writer.prepare()
            _ = try await writer.ingest([KnowledgeDocument(sourceID: "lore.old", campaignID: "demo", domain: .lore, title: "Old Mill", body: "The old mill grinds barley.")])
            let reader = node()
            await reader.prepare()
            #expect(try await reader.search("mill barley", filter: StoreFixture.player(), k: 1, mode: .bm25).first?.chunk.sourceID == "lore.old")
            // Five write transactions while the reader is idle: the log keeps two of them.
            for index in 1...4 {
                _ = try await writer.ingest([KnowledgeDocument(sourceID: "lore.new-\(index)", campaignID: "demo", domain: .lore, title: "Stone \(index)", body: "Standing stone number \(index) hums at night.")])
            }
            try await writer.primary.delete(campaignID: "demo", sourceIDs: ["lore.old"])
            var revisions: [Int64] = []
            for try await rev in try await client.query("SELECT DISTINCT rev FROM knowledge_changes ORDER BY rev", logger: StoreFixture.quiet).decode(Int64.self) { revisions.append(rev) }
            #expect(revisions.count == 2)
            // The reader needs changes that are gone: it reloads and sees every one of them.
            let stones = try await reader.search("standing stone hums", filter: StoreFixture.player(), k: 10, mode: .bm25)
            #expect(Set(stones.map(\.chunk.sourceID)) == ["lore.new-1", "lore.new-2", "lore.new-3", "lore.new-4"])
            #expect(try await reader.search("mill barley", filter: StoreFixture.player(), k: 5, mode: .bm25).isEmpty)
        }
    }
}
