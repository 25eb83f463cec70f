import Foundation
import HTTPTypes
import Memory37
import ServiceKit
import TestSupport
import Testing

@Suite("Fallback store and the OpenAI embedder")
struct FallbackAndEmbedderTests {
    @Test("when the configured store fails, reads come from the in-memory copy and the service says so")
    func fallback() async throws {
        let failing = FailingStore(base: InMemoryKnowledgeStore(dimensions: 256))
        let service = KnowledgeService(store: failing, embedder: HashingEmbedder(), logger: StoreFixture.quiet)
        await service.prepare()
        _ = try await service.ingest(StoreFixture.demoDocuments())
        #expect(!service.isDegraded)
        failing.failing = true
        let hits = try await service.search("Old Tom innkeeper", filter: StoreFixture.player(), k: 3)
        #expect(hits.first?.chunk.sourceID == "npc.old-tom")
        #expect(service.isDegraded)
        failing.failing = false
        await service.probePrimary()
        #expect(!service.isDegraded)
    }

    @Test("a store that stops answering is given up after the store timeout: the fallback answers while it is still stuck")
    func stalledStore() async throws {
        let stalled = FailingStore(base: InMemoryKnowledgeStore(dimensions: 256))
        let service = KnowledgeService(store: stalled, embedder: HashingEmbedder(), storeTimeout: .milliseconds(300), logger: StoreFixture.quiet)
        await service.prepare()
        _ = try await service.ingest(StoreFixture.demoDocuments())
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
        let failing = FailingStore(base: InMemoryKnowledgeStore(dimensions: 256))
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

import Synchronization

/// A store that can be made to fail, standing in for a database that went away.
final class FailingStore: KnowledgeStore, @unchecked Sendable {
    let base: InMemoryKnowledgeStore
    private let flag = Atomic<Bool>(false)
    var failing: Bool {
        get { flag.load(ordering: .relaxed) }
        set { flag.store(newValue, ordering: .relaxed) }
    }
    var kind: String { "failing" }

    init(base: InMemoryKnowledgeStore) { self.base = base }

    private let stallFlag = Atomic<Bool>(false)
    /// Reads wait, ignoring cancellation, until ``release()``: a database that went away.
    var stalling: Bool {
        get { stallFlag.load(ordering: .relaxed) }
        set { stallFlag.store(newValue, ordering: .relaxed) }
    }
    private let gate = Mutex<(released: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))
    var released: Bool { gate.withLock { $0.released } }

    func release() {
        let waiting = gate.withLock { state in
            state.released = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    private func stall() async {
        await withCheckedContinuation { continuation in
            let now = gate.withLock { state in
                if state.released { return true }
                state.waiting.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    struct Down: Error {}
    func check() async throws {
        if stalling { await stall() }
        if failing { throw Down() }
    }

    func prepare() async throws { try await check() }
    func documents(campaignID: String?) async throws -> [StoredDocument] { try await check(); return try await base.documents(campaignID: campaignID) }
    func hasDocuments(campaignID: String) async throws -> Bool { try await check(); return try await base.hasDocuments(campaignID: campaignID) }
    func documents(campaignID: String?, sourceIDs: [String]) async throws -> [StoredDocument] { try await check(); return try await base.documents(campaignID: campaignID, sourceIDs: sourceIDs) }
    func replace(_ documents: [(document: StoredDocument, chunks: [EmbeddedChunk])]) async throws { try await check(); try await base.replace(documents) }
    func delete(campaignID: String?, sourceIDs: [String]) async throws { try await check(); try await base.delete(campaignID: campaignID, sourceIDs: sourceIDs) }
    func textSearch(_ query: String, filter: SearchFilter, limit: Int) async throws -> [String] { try await check(); return try await base.textSearch(query, filter: filter, limit: limit) }
    func vectorSearch(_ vector: [Float], filter: SearchFilter, limit: Int) async throws -> [String] { try await check(); return try await base.vectorSearch(vector, filter: filter, limit: limit) }
    func chunks(ids: [String]) async throws -> [KnowledgeChunk] { try await check(); return try await base.chunks(ids: ids) }
    func chunks(named name: String, filter: SearchFilter) async throws -> [KnowledgeChunk] { try await check(); return try await base.chunks(named: name, filter: filter) }
    func chunks(sourceIDs: [String], filter: SearchFilter) async throws -> [KnowledgeChunk] { try await check(); return try await base.chunks(sourceIDs: sourceIDs, filter: filter) }
    func episodes(filter: SearchFilter, fromSession: Int?, toSession: Int?, limit: Int) async throws -> [KnowledgeChunk] { try await check(); return try await base.episodes(filter: filter, fromSession: fromSession, toSession: toSession, limit: limit) }
    func embeddingModels() async throws -> [String: Int] { try await check(); return try await base.embeddingModels() }
    func chunksToReembed(model: String, limit: Int) async throws -> [KnowledgeChunk] { try await check(); return try await base.chunksToReembed(model: model, limit: limit) }
    func updateVectors(_ vectors: [String: [Float]], model: String) async throws { try await check(); try await base.updateVectors(vectors, model: model) }
    func counts() async throws -> (documents: Int, chunks: Int) { try await check(); return try await base.counts() }
}
