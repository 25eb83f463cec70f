import Foundation
import Memory37
import Persistence
import ServiceKit
import TestSupport
import Testing

/// Two processes on one SQLite file — a running server and `rpgbot ingest` — each with its own
/// connections and its own in-process indexes: what one writes, the other's `refresh` applies.
@Suite("SQLite: writes by another process on the same file")
struct SQLiteSharedFileTests {
    static let ferry = KnowledgeDocument(sourceID: "lore.ferry", campaignID: "demo", domain: .lore, title: "The night ferry", body: "A lantern ferry crosses the marsh at midnight; the ferryman asks for a copper coin.")

    /// Two services on one file, each as its own process would open it.
    static func withTwo(retention: Int64 = 10_000, _ body: @Sendable (KnowledgeService, KnowledgeService) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let url = DatabaseURL.sqlite(path: directory.file("shared.sqlite").path)
        let first = try DatabaseHandle.open(url, logger: StoreFixture.quiet)
        try await withRunningDatabase(first) { first in
            let migrations = MigrationRunner()
            migrations.register(KnowledgeMigrations.all)
            _ = try await migrations.apply(to: first)
            let second = try DatabaseHandle.open(url, logger: StoreFixture.quiet)
            try await withRunningDatabase(second) { second in
                func service(_ database: DatabaseHandle) async throws -> KnowledgeService {
                    guard case .sqlite(let pool) = database.backend else { throw TestSetupError("not SQLite") }
                    let service = KnowledgeService(store: SQLiteKnowledgeStore(pool: pool, dimensions: 256, changeLogRetention: retention), embedder: HashingEmbedder(), logger: StoreFixture.quiet)
                    await service.prepare()
                    return service
                }
                try await body(try await service(first), try await service(second))
            }
        }
    }

    @Test("an ingest, a re-ingest and a deletion by the other process reach this one's search after a refresh")
    func writesPropagate() async throws {
        try await Self.withTwo { server, cli in
            _ = try await cli.ingest([Self.ferry])
            #expect(try await server.search("lantern ferry midnight", filter: StoreFixture.gm()).isEmpty)
            await server.refresh()
            #expect(try await server.search("lantern ferry midnight", filter: StoreFixture.gm()).first?.chunk.sourceID == "lore.ferry")
            #expect(try await server.search("lantern ferry midnight", filter: StoreFixture.gm(), mode: .vector).first?.chunk.sourceID == "lore.ferry")

            // Changed text: the old words are gone, the new ones found.
            var edited = Self.ferry
            edited.body = "The ferry no longer runs; the ferryman drowned in the flood."
            _ = try await cli.ingest([edited])
            await server.refresh()
            #expect(try await server.search("lantern midnight copper", filter: StoreFixture.gm(), mode: .bm25).isEmpty)
            #expect(try await server.search("ferryman drowned flood", filter: StoreFixture.gm()).first?.chunk.sourceID == "lore.ferry")

            // This process's own writes still show at once, and the other sees them too.
            _ = try await server.ingest([KnowledgeDocument(sourceID: "lore.bell", campaignID: "demo", domain: .lore, title: "The drowned bell", body: "The bell rings under the water at low tide.")])
            #expect(try await server.search("bell rings under water", filter: StoreFixture.gm()).first?.chunk.sourceID == "lore.bell")
            await cli.refresh()
            #expect(try await cli.search("bell rings under water", filter: StoreFixture.gm()).first?.chunk.sourceID == "lore.bell")

            try await cli.primary.delete(campaignID: "demo", sourceIDs: ["lore.ferry"])
            await server.refresh()
            #expect(try await server.search("ferryman drowned flood", filter: StoreFixture.gm()).allSatisfy { $0.chunk.sourceID != "lore.ferry" })
        }
    }

    @Test("a node further behind than the change log's retention loads everything again")
    func behindTheTrim() async throws {
        try await Self.withTwo(retention: 2) { server, cli in
            for index in 0..<205 {
                _ = try await cli.ingest([KnowledgeDocument(sourceID: "lore.note-\(index)", campaignID: "demo", domain: .lore, title: "Note \(index)", body: "Marsh note number \(index) mentions the heron\(index).")])
            }
            try await cli.primary.delete(campaignID: "demo", sourceIDs: ["lore.note-0"])
            await server.refresh()
            #expect(try await server.search("heron204", filter: StoreFixture.gm(), mode: .bm25).first?.chunk.sourceID == "lore.note-204")
            #expect(try await server.search("heron0", filter: StoreFixture.gm(), mode: .bm25).isEmpty)
            #expect(try await server.primary.counts().chunks == 204)
        }
    }

    @Test("an alias switched by the other process is what this one reads after its next refresh (the server's upkeep runs it every second)")
    func aliasSwitchPropagates() async throws {
        try await Self.withTwo { server, cli in
            _ = try await cli.ingest([Self.ferry], options: IngestOptions(version: "lore-v1", alias: "lore_latest"))
            var edited = Self.ferry
            edited.body = "The ferry no longer runs; the ferryman drowned in the flood."
            _ = try await cli.ingest([edited], options: IngestOptions(version: "lore-v2", publish: true))
            await server.refresh()
            #expect(try await server.resolve(StoreFixture.gm(domains: [.lore])).versions[.lore] == "lore-v1")
            _ = try await cli.setAlias("lore_latest", campaignID: "demo", to: "lore-v2", by: "cli")
            await server.refresh()
            let read = try await server.resolve(StoreFixture.gm(domains: [.lore]))
            #expect(read.versions[.lore] == "lore-v2")
            #expect(try await server.search("ferryman drowned flood", filter: read.filter, k: 1).first?.chunk.id == "demo:lore.ferry#0@lore-v2")
        }
    }
}
