import Foundation
import JSONValues
import Memory37
import Persistence
import PostgresNIO
import ServiceKit
import Synchronization
import TestSupport
import Testing

/// An embedder that counts the texts it embeds.
final class CountingEmbedder: Embedder {
    let base = HashingEmbedder()
    private let texts = Atomic<Int>(0)
    var model: String { base.model }
    var dimensions: Int { base.dimensions }
    var embedded: Int { texts.load(ordering: .relaxed) }

    func embed(_ batch: [String]) async throws -> [[Float]] {
        texts.add(batch.count, ordering: .relaxed)
        return try await base.embed(batch)
    }
}

/// Versions, aliases and lifetimes on every store.
@Suite("Knowledge versions, aliases and lifetimes")
struct KnowledgeVersionTests {
    static func lore(_ id: String, _ body: String, campaign: String? = "demo") -> KnowledgeDocument {
        KnowledgeDocument(sourceID: id, campaignID: campaign, domain: .lore, title: id, body: body)
    }

    /// Three lore documents of several paragraphs each, so a document has several chunks.
    static let v1: [KnowledgeDocument] = [
        lore("lore.harbour", "## The watch\nThe harbour of Saltmere is guarded by the Tide Watch.\n\n## The lantern\nIts lantern burns green when smugglers are sighted."),
        lore("lore.chapel", "## The floods\nThe Tide Chapel floods at every spring tide.\n\n## The candles\nSister Maren keeps its candles dry in oilcloth."),
        lore("lore.mill", "## The grain\nThe old mill grinds barley for the whole valley.\n\n## The wheel\nIts wheel stopped the night the miller vanished."),
    ]

    static func top(_ service: KnowledgeService, _ query: String, pins: [KnowledgeDomain: String] = [:]) async throws -> (id: String?, versions: [KnowledgeDomain: String]) {
        let read = try await service.resolve(StoreFixture.gm(domains: [.lore]), pins: pins)
        let hits = try await service.search(query, filter: read.filter, k: 1, mode: .bm25)
        return (hits.first?.chunk.id, read.versions)
    }

    @Test("ingest v1, publish, alias; v2 from v1 embeds only the changed document; switch, pin, roll back", arguments: StoreKind.available)
    func versionsAndAliases(kind: StoreKind) async throws {
        let embedder = CountingEmbedder()
        try await StoreFixture.withService(kind, embedder: embedder) { service in
            let first = try await service.ingest(Self.v1, options: IngestOptions(version: "lore-v1", alias: "lore_latest", actor: "gm-1"))
            #expect(first.version?.state == .published)
            #expect(first.alias?.to == "lore-v1")
            #expect(first.added.count == 3)
            let v1Chunks = first.chunksWritten
            #expect(embedder.embedded == v1Chunks)
            #expect(try await Self.top(service, "mill wheel miller vanished").id == "demo:lore.mill#1@lore-v1")

            // v2 starts from v1 through its alias and changes one document.
            var changed = Self.v1[2]
            changed.body = "## The grain\nThe old mill grinds barley for the whole valley.\n\n## The wheel\nA new miller, Hobb, keeps the wheel turning day and night."
            let before = embedder.embedded
            let second = try await service.ingest([changed], options: IngestOptions(version: "lore-v2", from: "lore_latest", publish: true))
            #expect(second.version?.state == .published)
            #expect(second.updated.isEmpty && second.added == ["lore.mill"])
            #expect(Set(second.carried) == ["lore.harbour", "lore.chapel"])
            // Only the changed paragraph is new text: the first paragraph's vector is reused.
            #expect(embedder.embedded - before == 1, "embedded \(embedder.embedded - before) texts")
            #expect(second.chunksEmbedded == 1)

            // The alias still reads v1 until it is switched.
            #expect(try await Self.top(service, "Hobb miller turning").id != "demo:lore.mill#1@lore-v2")
            #expect(try await Self.top(service, "mill").versions[.lore] == "lore-v1")
            let change = try await service.setAlias("lore_latest", campaignID: "demo", to: "lore-v2", by: "gm-1")
            #expect(change.from == "lore-v1" && change.to == "lore-v2")
            let switched = try await Self.top(service, "Hobb miller turning")
            #expect(switched.id == "demo:lore.mill#1@lore-v2")
            #expect(switched.versions[.lore] == "lore-v2")
            // Carried documents answer from v2 too.
            #expect(try await Self.top(service, "lantern green smugglers").id == "demo:lore.harbour#1@lore-v2")
            // Pinned: v1 explicitly, by id.
            let pinned = try await Self.top(service, "mill wheel miller vanished", pins: [.lore: "lore-v1"])
            #expect(pinned.id == "demo:lore.mill#1@lore-v1")
            #expect(pinned.versions[.lore] == "lore-v1")
            // Rolled back: v1 again, and the history has all three switches.
            let undone = try await service.rollbackAlias("lore_latest", campaignID: "demo", by: "gm-2")
            #expect(undone.from == "lore-v2" && undone.to == "lore-v1")
            #expect(try await Self.top(service, "mill wheel miller vanished").id == "demo:lore.mill#1@lore-v1")
            let history = try await service.catalog().history.filter { $0.name == "lore_latest" }
            #expect(history.map(\.to) == ["lore-v1", "lore-v2", "lore-v1"])
            #expect(history.last?.changedBy == "gm-2")

            // Listing: counts and aliases per version.
            let listed = try await service.versions(campaignID: "demo")
            let v1 = try #require(listed.first { $0.version.id == "lore-v1" })
            let v2 = try #require(listed.first { $0.version.id == "lore-v2" })
            #expect(v1.counts.documents == 3 && v1.counts.chunks == v1Chunks)
            #expect(v2.counts.documents == 3)
            #expect(v1.aliases == ["lore_latest"] && v2.aliases.isEmpty)
            #expect(v1.version.createdBy == "gm-1")

            // Working-version ingestion is untouched: no version, no alias.
            _ = try await service.ingest([Self.lore("lore.well", "A wishing well that answers in riddles.")])
            let pinnedWorking = try await Self.top(service, "wishing well riddles", pins: [.lore: "lore-working"])
            #expect(pinnedWorking.id == "demo:lore.well#0")
            #expect(try await Self.top(service, "wishing well riddles").id != "demo:lore.well#0", "lore_latest points to lore-v1, not the working version")
        }
    }

    @Test("bad input: unknown version or alias, a draft aliased, a published version written, bad ids, mixed domains — nothing half-written", arguments: StoreKind.available)
    func badInput(kind: StoreKind) async throws {
        try await StoreFixture.withService(kind) { service in
            _ = try await service.ingest(Self.v1, options: IngestOptions(version: "lore-v1", publish: true))
            _ = try await service.ingest([Self.lore("lore.x", "A draft document.")], options: IngestOptions(version: "lore-draft"))
            func code(_ body: () async throws -> Void) async -> (Int, String)? {
                do {
                    try await body()
                    return nil
                } catch let error as APIError {
                    return (error.problem.status, error.problem.code)
                } catch {
                    return (0, "\(error)")
                }
            }
            #expect(await code { _ = try await service.resolve(StoreFixture.gm(), pins: [.lore: "lore-v9"]) }?.1 == "unknown_version")
            #expect(await code { _ = try await service.setAlias("lore_latest", campaignID: "demo", to: "lore-nope", by: "t") }?.0 == 404)
            #expect(await code { _ = try await service.setAlias("lore_latest", campaignID: "demo", to: "lore-draft", by: "t") }?.1 == "version_not_published")
            #expect(await code { _ = try await service.setAlias("srd_latest", campaignID: "demo", to: "lore-v1", by: "t") }?.0 == 422)
            #expect(await code { _ = try await service.setAlias("Bad Name", campaignID: "demo", to: "lore-v1", by: "t") }?.0 == 422)
            #expect(await code { _ = try await service.setAlias("lore_latest", campaignID: "other", to: "lore-v1", by: "t") }?.1 == "unknown_version", "another campaign's version is not this one's")
            #expect(await code { _ = try await service.rollbackAlias("lore_latest", campaignID: "demo", by: "t") }?.1 == "nothing_to_roll_back")
            let before = try await service.versions(campaignID: "demo").first { $0.version.id == "lore-v1" }?.counts
            #expect(await code { _ = try await service.ingest([Self.lore("lore.y", "More.")], options: IngestOptions(version: "lore-v1")) }?.1 == "version_published")
            #expect(try await service.versions(campaignID: "demo").first { $0.version.id == "lore-v1" }?.counts == before)
            #expect(await code { _ = try await service.ingest([Self.lore("lore.y", "More.")], options: IngestOptions(version: "Lore V2")) }?.0 == 422)
            #expect(await code { _ = try await service.ingest([Self.lore("lore.y", "More.")], options: IngestOptions(version: "npc-working")) }?.0 == 422)
            let mixed = [Self.lore("lore.y", "More."), KnowledgeDocument(sourceID: "npc.z", campaignID: "demo", domain: .npc, title: "Z", body: "An NPC.")]
            #expect(await code { _ = try await service.ingest(mixed, options: IngestOptions(version: "lore-v3")) }?.0 == 422)
            #expect(await code { _ = try await service.ingest([Self.lore("lore.y", "More.")], options: IngestOptions(version: "lore-v4", from: "lore-v9")) }?.1 == "unknown_version")
            #expect(await code { _ = try await service.ingest([Self.lore("lore.y", "More.")], options: IngestOptions(publish: true)) }?.0 == 422)
            #expect(await code { _ = try await service.retire("lore-working", campaignID: "demo") }?.1 == "version_working")
            // None of the refused ingestions left a version behind.
            #expect(try await service.versions(campaignID: "demo").map(\.version.id).sorted() == ["lore-draft", "lore-v1"])
        }
    }

    @Test("lifetimes: an expired episode disappears from reads at once and from the store at cleanup; pinned stays; retired versions go after the grace", arguments: StoreKind.available)
    func lifetimes(kind: StoreKind) async throws {
        try await StoreFixture.withService(kind, lifetimes: [.episode: 3_600], retiredGrace: 0) { service in
            func episode(_ id: String, _ text: String, pinned: Bool = false, lifetime: Double? = nil) -> KnowledgeDocument {
                KnowledgeDocument(sourceID: id, campaignID: "demo", domain: .episode, title: id, metadata: ["session": .number(1)], body: text, lifetime: lifetime, pinned: pinned)
            }
            _ = try await service.ingest([
                episode("episode.old", "The party burned the ferry at the crossing."),
                episode("episode.kept", "The party swore an oath at the ferry crossing.", pinned: true),
                episode("episode.short", "The party crossed the ferry at dawn.", lifetime: 60),
            ])
            let filter = StoreFixture.gm(domains: [.episode])
            func visible(at now: Date) async throws -> Set<String> {
                var at = filter
                at.now = now
                return Set(try await service.search("ferry crossing party", filter: at, k: 10, mode: .bm25).map(\.chunk.sourceID))
            }
            #expect(try await visible(at: Date()) == ["episode.old", "episode.kept", "episode.short"])
            // Two minutes on, the document's own ttl (60 s) has run out: hidden, before any cleanup.
            #expect(try await visible(at: Date().addingTimeInterval(120)) == ["episode.old", "episode.kept"])
            // Two hours on, the domain's lifetime (1 h) has run out too; the pinned one stays.
            let later = Date().addingTimeInterval(7_200)
            #expect(try await visible(at: later) == ["episode.kept"])
            var sessionFilter = StoreFixture.gm()
            sessionFilter.now = later
            #expect(try await service.sessionFetch(filter: sessionFilter).map(\.sourceID) == ["episode.kept"])

            // A campaign policy overrides the default: episodes never expire there.
            try await service.setPolicies([.episode: Double?.none], campaignID: "demo")
            #expect(try await visible(at: later) == ["episode.old", "episode.kept"])
            try await service.setPolicies([:], campaignID: "demo")

            // A retired version no alias points to is deleted with its documents.
            _ = try await service.ingest(KnowledgeVersionTests.v1, options: IngestOptions(version: "lore-old", publish: true))
            _ = try await service.retire("lore-old", campaignID: "demo")

            let dry = try await service.cleanup(dryRun: true, now: later)
            #expect(dry.expiredDocuments[.episode] == 2)
            #expect(dry.retiredVersions.map(\.version) == ["lore-old"])
            #expect(try await service.primary.documents(campaignID: "demo").count == 6, "a dry run deletes nothing")
            let report = try await service.cleanup(now: later)
            #expect(report == dry)
            let left = try await service.primary.documents(campaignID: "demo").map(\.sourceID)
            #expect(left == ["episode.kept"])
            #expect(try await service.versions(campaignID: "demo").allSatisfy { $0.version.id != "lore-old" })
            // Nothing more to do the second time.
            let again = try await service.cleanup(now: later)
            #expect(again.expiredChunks == 0 && again.retiredVersions.isEmpty)
        }
    }

    /// The conditions of both SRD editions, imported once for every store.
    static let conditions: [FiveEDatabaseImporter.Edition: [KnowledgeDocument]] = Dictionary(uniqueKeysWithValues: FiveEDatabaseImporter.Edition.allCases.map { edition in
        (edition, FiveEDatabaseImporter(edition: edition).load(StoreFixture.fiveE).documents.filter { $0.metadata["category"] == .string("conditions") })
    })

    @Test("the SRD in two editions: exhaustion answers from 2014 through srd_latest, from 2024 after the switch", arguments: StoreKind.available)
    func srdEditions(kind: StoreKind) async throws {
        let (old, new) = (Self.conditions[.srd2014] ?? [], Self.conditions[.srd2024] ?? [])
        #expect(old.count == 15 && new.count == 15)
        try await StoreFixture.withService(kind) { service in
            _ = try await service.ingest(old, options: IngestOptions(version: "srd-2014", alias: "srd_latest"))
            _ = try await service.ingest(new, options: IngestOptions(version: "srd-2024", publish: true))
            let question = "how does exhaustion work, what happens at each level"
            let read = try await service.resolve(StoreFixture.player(domains: [.srd]))
            #expect(read.versions[.srd] == "srd-2014")
            #expect(try await service.rulesLookup(question, filter: read.filter, k: 1).first?.chunk.sourceID == "/api/2014/conditions/exhaustion")
            #expect(try await service.rulesLookup("Exhaustion", filter: StoreFixture.player(), k: 1).first?.chunk.sourceID == "/api/2014/conditions/exhaustion")
            _ = try await service.setAlias("srd_latest", campaignID: nil, to: "srd-2024", by: "service")
            #expect(try await service.rulesLookup(question, filter: StoreFixture.player(), k: 1).first?.chunk.sourceID == "/api/2024/conditions/exhaustion")
            let byName = try await service.rulesLookup("Exhaustion", filter: StoreFixture.player(), k: 5)
            #expect(byName.first?.chunk.sourceID == "/api/2024/conditions/exhaustion")
            #expect(byName.allSatisfy { $0.chunk.version == "srd-2024" }, "\(byName.map(\.chunk.id))")
            // The campaign may pin the older edition for itself.
            let pinned = try await service.resolve(StoreFixture.player(domains: [.srd]), pins: [.srd: "srd-2014"])
            #expect(try await service.rulesLookup(question, filter: pinned.filter, k: 1).first?.chunk.sourceID == "/api/2014/conditions/exhaustion")
        }
    }
}

@Suite("Knowledge versions across PostgreSQL nodes")
struct KnowledgeVersionNodesTests {
    static let enabled = PostgresTestServer.isConfigured || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"

    /// Two nodes (services over their own connections) on one fresh database.
    static func withTwoNodes(inProcess: Bool = true, _ body: @Sendable (KnowledgeService, KnowledgeService) async throws -> Void) async throws {
        let url = try await PostgresTestServer.makeDatabase(prefix: "knowledge_versions")
        let first = try DatabaseHandle.open(url, logger: StoreFixture.quiet)
        let second = try DatabaseHandle.open(url, logger: StoreFixture.quiet)
        try await withRunningDatabase(first) { first in
            try await withRunningDatabase(second) { second in
                let migrations = MigrationRunner()
                migrations.register(KnowledgeMigrations.all)
                _ = try await migrations.apply(to: first)
                guard case .postgres(let clientA) = first.backend, case .postgres(let clientB) = second.backend else { return }
                let nodeA = KnowledgeService(store: PostgresKnowledgeStore(client: clientA, dimensions: 256, logger: StoreFixture.quiet, inProcessSearch: inProcess), embedder: HashingEmbedder(), lifetimes: [.episode: 60], logger: StoreFixture.quiet)
                let nodeB = KnowledgeService(store: PostgresKnowledgeStore(client: clientB, dimensions: 256, logger: StoreFixture.quiet, inProcessSearch: inProcess), embedder: HashingEmbedder(), lifetimes: [.episode: 60], logger: StoreFixture.quiet)
                await nodeA.prepare()
                await nodeB.prepare()
                try await body(nodeA, nodeB)
            }
        }
    }

    @Test("an alias switched on node A is what node B's next read sees", .enabled(if: enabled, "needs PostgreSQL"), arguments: [true, false])
    func switchReachesOtherNode(inProcess: Bool) async throws {
        try await Self.withTwoNodes(inProcess: inProcess) { nodeA, nodeB in
            _ = try await nodeA.ingest(KnowledgeVersionTests.v1, options: IngestOptions(version: "lore-v1", alias: "lore_latest"))
            var changed = KnowledgeVersionTests.v1[2]
            changed.body = "## The grain\nThe old mill grinds barley for the whole valley.\n\n## The wheel\nA new miller, Hobb, keeps the wheel turning."
            _ = try await nodeA.ingest([changed], options: IngestOptions(version: "lore-v2", from: "lore-v1", publish: true))
            #expect(try await KnowledgeVersionTests.top(nodeB, "Hobb miller").versions[.lore] == "lore-v1")
            _ = try await nodeA.setAlias("lore_latest", campaignID: "demo", to: "lore-v2", by: "gm")
            // No sleep, no refresh: B's very next read resolves through the new alias.
            let seen = try await KnowledgeVersionTests.top(nodeB, "Hobb miller")
            #expect(seen.versions[.lore] == "lore-v2")
            #expect(seen.id == "demo:lore.mill#1@lore-v2")
            _ = try await nodeB.rollbackAlias("lore_latest", campaignID: "demo", by: "gm")
            #expect(try await KnowledgeVersionTests.top(nodeA, "Hobb miller").versions[.lore] == "lore-v1")
        }
    }

    @Test("cleanup run on two nodes at once deletes each row once", .enabled(if: enabled, "needs PostgreSQL"))
    func concurrentCleanup() async throws {
        try await Self.withTwoNodes { nodeA, nodeB in
            let episodes = (0..<40).map { KnowledgeDocument(sourceID: "episode.e\($0)", campaignID: "demo", domain: .episode, title: "Episode \($0)", metadata: ["session": .number(Double($0))], body: "Session \($0): the party rested at the mill.") }
            _ = try await nodeA.ingest(episodes)
            let later = Date().addingTimeInterval(3_600)
            async let first = nodeA.cleanup(now: later)
            async let second = nodeB.cleanup(now: later)
            let reports = try await [first, second]
            // One node did the work, or both did part of it: either way each document went once.
            #expect(reports.reduce(0) { $0 + ($1.expiredDocuments[.episode] ?? 0) } == 40)
            #expect(try await nodeA.primary.documents(campaignID: "demo").isEmpty)
            #expect(try await nodeB.search("party rested mill", filter: StoreFixture.gm(), k: 5, mode: .bm25).isEmpty)
        }
    }
}
