import Foundation
import HTTPTypes
import Memory37
import ServiceKit
import TestSupport
import Testing

@Suite("Fallback store and the OpenAI embedder")
struct FallbackAndEmbedderTests {
    static let wren = KnowledgeDocument(sourceID: "npc.wren", campaignID: "demo", domain: .npc, title: "Wren the ferryman", aliases: ["Wren"], body: "Wren poles the ferry across the Brindle.")

    /// A service over a store that fails on demand, prepared and holding the demo documents.
    func demoService(storeTimeout: Duration = .seconds(3)) async throws -> (store: FailingKnowledgeStore, service: KnowledgeService) {
        let store = FailingKnowledgeStore(base: InMemoryKnowledgeStore(dimensions: 256))
        let service = KnowledgeService(store: store, embedder: HashingEmbedder(), storeTimeout: storeTimeout, logger: StoreFixture.quiet)
        await service.prepare()
        _ = try await service.ingest(StoreFixture.demoDocuments())
        return (store, service)
    }

    @Test("when the configured store fails, reads come from the in-memory copy and the service says so")
    func fallback() async throws {
        let (failing, service) = try await demoService()
        #expect(!service.isDegraded)
        failing.failing = true
        let hits = try await service.search("Old Tom innkeeper", filter: StoreFixture.player(), k: 3)
        #expect(hits.first?.chunk.sourceID == "npc.old-tom")
        #expect(service.isDegraded)
        failing.failing = false
        await service.probePrimary()
        #expect(!service.isDegraded)
    }

    @Test("writes the store cannot take are refused, not kept in memory only; content meant for the fallback goes there")
    func writesWhileTheStoreIsDown() async throws {
        let (failing, service) = try await demoService()
        let wren = Self.wren
        failing.failing = true
        // The write that meets the failure: refused with the store's error, and the service degrades.
        do {
            _ = try await service.ingest([wren])
            Issue.record("expected the write to be refused")
        } catch let refused as KnowledgeStoreUnavailable {
            #expect(refused.underlying is FailingKnowledgeStore.Down)
            #expect(refused.apiError.status == .serviceUnavailable)
            #expect(refused.apiError.headers[.retryAfter] == "15")
        }
        #expect(service.isDegraded)
        #expect(try await service.npcProfile("Wren", filter: StoreFixture.player()) == nil)
        // Already degraded and the store still down: refused.
        await #expect(throws: KnowledgeStoreUnavailable.self) { try await service.ingest([wren]) }
        #expect(try await failing.base.documents(campaignID: "demo", sourceIDs: ["npc.wren"]).isEmpty)
        // Content the caller writes again later may go to the fallback alone.
        let report = try await service.ingest([wren], whenStoreUnavailable: .fallbackOnly)
        #expect(report.added == ["npc.wren"])
        #expect(try await service.npcProfile("Wren", filter: StoreFixture.player())?.id == "npc.wren")
        #expect(try await failing.base.documents(campaignID: "demo", sourceIDs: ["npc.wren"]).isEmpty)
        // Back: the same write checks the store itself, switches back and reaches it, without
        // waiting for the next probe.
        failing.failing = false
        #expect(try await service.ingest([wren]).added == ["npc.wren"])
        #expect(!service.isDegraded)
        #expect(try await failing.base.documents(campaignID: "demo", sourceIDs: ["npc.wren"]).map(\.sourceID) == ["npc.wren"])
    }

    @Test("a write the store refuses while it still answers is an error of its own: no degrading, nothing refused after it")
    func writeRefusedByAHealthyStore() async throws {
        let (store, service) = try await demoService()
        let wren = Self.wren
        store.refusingWrites = true
        await #expect(throws: FailingKnowledgeStore.Refused.self) { try await service.ingest([wren]) }
        #expect(!service.isDegraded)
        store.refusingWrites = false
        #expect(try await service.ingest([wren]).added == ["npc.wren"])
    }

    @Test("a store that stops answering is given up after the store timeout: the fallback answers while it is still stuck")
    func stalledStore() async throws {
        let (stalled, service) = try await demoService(storeTimeout: .milliseconds(300))
        stalled.stalling = true
        // Should the timeout not work, the store answers after a minute and the checks below fail.
        let safety = Task.detached {
            try? await Task.sleep(for: .seconds(60))
            stalled.release()
        }
        defer { safety.cancel() }
        let hits = try await service.search("Old Tom innkeeper", filter: StoreFixture.player(), k: 3)
        #expect(hits.first?.chunk.sourceID == "npc.old-tom")
        #expect(service.isDegraded)
        #expect(!stalled.released)
        // Degraded: later reads go straight to the fallback.
        #expect(try await service.npcProfile("Old Tom", filter: StoreFixture.player())?.id == "npc.old-tom")
        #expect(!stalled.released)
        stalled.release()
    }

    @Test("a service started over a store that already holds the documents still fills its fallback, without writing to the store")
    func fallbackAfterRestart() async throws {
        let failing = FailingKnowledgeStore(base: InMemoryKnowledgeStore(dimensions: 256))
        _ = try await KnowledgeService(store: failing, embedder: HashingEmbedder(), logger: StoreFixture.quiet).ingest(StoreFixture.demoDocuments())
        let restarted = KnowledgeService(store: failing, embedder: HashingEmbedder(), logger: StoreFixture.quiet)
        let report = try await restarted.ingest(StoreFixture.demoDocuments())
        #expect(report.added.isEmpty && report.updated.isEmpty && report.chunksWritten == 0 && !report.unchanged.isEmpty)
        let mirrored = try await restarted.fallback.counts()
        let stored = try await failing.base.counts()
        #expect(mirrored.documents == stored.documents && mirrored.chunks == stored.chunks && stored.chunks > 0)
        failing.failing = true
        let hits = try await restarted.search("Old Tom innkeeper", filter: StoreFixture.player(), k: 3)
        #expect(hits.first?.chunk.sourceID == "npc.old-tom" && restarted.isDegraded)
    }

    @Test("the OpenAI embedder speaks /v1/embeddings: batches, order by index, retries a 429")
    func openAIEmbedder() async throws {
        func reply(_ vectors: [[Float]], reversed: Bool = false) -> ScriptedProviderServer.Reply {
            var items = vectors.enumerated().map { #"{"object":"embedding","index":\#($0.offset),"embedding":[\#($0.element.map { "\($0)" }.joined(separator: ","))]}"# }
            if reversed { items.reverse() }
            return .init(body: #"{"object":"list","data":[\#(items.joined(separator: ","))],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}}"#)
        }
        let server = ScriptedProviderServer([
            Wire.error(.tooManyRequests, "slow down", headers: [.retryAfter: "0"]),
            reply([[3, 4, 0, 0], [0, 0, 1, 0]], reversed: true),
            reply([[0, 1, 0, 0]]),
        ])
        let vectors = try await server.run { base in
            var settings = OpenAIEmbedder.Settings()
            settings.baseURL = base
            settings.apiKey = "sk-embed"
            settings.dimensions = 4
            settings.batchSize = 2
            return try await OpenAIEmbedder(settings: settings).embed(["one", "two", "three"])
        }
        #expect(vectors == [[0.6, 0.8, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]])
        #expect(server.requests.count == 3)
        let first = try #require(server.requests.last?.body)
        #expect(first["model"] as? String == "text-embedding-3-small")
        #expect(first["dimensions"] as? Int == 4)
        #expect(first["input"] as? [String] == ["three"])
        #expect(server.requests[1].body["input"] as? [String] == ["one", "two"])
        #expect(server.requests[1].headers[.authorization] == "Bearer sk-embed")
    }

    @Test("a wrong vector length is an error, not a silent mismatch")
    func wrongLength() async throws {
        let server = ScriptedProviderServer([.init(body: #"{"data":[{"index":0,"embedding":[1,2,3]}]}"#)])
        await #expect(throws: EmbedderError.self) {
            try await server.run { base in
                var settings = OpenAIEmbedder.Settings()
                settings.baseURL = base
                settings.dimensions = 4
                return try await OpenAIEmbedder(settings: settings).embed(["x"])
            }
        }
    }
}
