public import Memory37
import Synchronization

/// A knowledge store that can be made to fail or to stall, standing in for a database that
/// went away; otherwise it is `base`.
public final class FailingKnowledgeStore: KnowledgeStore, Sendable {
    public let base: InMemoryKnowledgeStore
    private let flag = Atomic<Bool>(false)
    public var failing: Bool {
        get { flag.load(ordering: .relaxed) }
        set { flag.store(newValue, ordering: .relaxed) }
    }
    public var kind: String { "failing" }

    private let refusingFlag = Atomic<Bool>(false)
    /// Writes fail with ``Refused`` while reads still answer: a store that rejects the data.
    public var refusingWrites: Bool {
        get { refusingFlag.load(ordering: .relaxed) }
        set { refusingFlag.store(newValue, ordering: .relaxed) }
    }
    public struct Refused: Error {}

    public init(base: InMemoryKnowledgeStore) { self.base = base }

    private let stallFlag = Atomic<Bool>(false)
    /// Reads wait, ignoring cancellation, until ``release()``: a database that went away.
    public var stalling: Bool {
        get { stallFlag.load(ordering: .relaxed) }
        set { stallFlag.store(newValue, ordering: .relaxed) }
    }
    private let gate = Mutex<(released: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))
    public var released: Bool { gate.withLock { $0.released } }

    public func release() {
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

    public struct Down: Error {}
    private func check() async throws {
        if stalling { await stall() }
        if failing { throw Down() }
    }

    public func prepare() async throws { try await check() }
    public func documents(campaignID: String?, version: String?) async throws -> [StoredDocument] { try await check(); return try await base.documents(campaignID: campaignID, version: version) }
    public func hasDocuments(campaignID: String) async throws -> Bool { try await check(); return try await base.hasDocuments(campaignID: campaignID) }
    public func documents(campaignID: String?, version: String?, sourceIDs: [String]) async throws -> [StoredDocument] { try await check(); return try await base.documents(campaignID: campaignID, version: version, sourceIDs: sourceIDs) }
    public func replace(_ documents: [(document: StoredDocument, chunks: [EmbeddedChunk])]) async throws {
        try await check()
        if refusingWrites { throw Refused() }
        try await base.replace(documents)
    }
    public func delete(campaignID: String?, version: String?, sourceIDs: [String]) async throws { try await check(); try await base.delete(campaignID: campaignID, version: version, sourceIDs: sourceIDs) }
    public func textSearch(_ query: String, filter: SearchFilter, limit: Int) async throws -> [String] { try await check(); return try await base.textSearch(query, filter: filter, limit: limit) }
    public func vectorSearch(_ vector: [Float], filter: SearchFilter, limit: Int) async throws -> [String] { try await check(); return try await base.vectorSearch(vector, filter: filter, limit: limit) }
    public func chunks(ids: [String]) async throws -> [KnowledgeChunk] { try await check(); return try await base.chunks(ids: ids) }
    public func chunks(named name: String, filter: SearchFilter) async throws -> [KnowledgeChunk] { try await check(); return try await base.chunks(named: name, filter: filter) }
    public func chunks(sourceIDs: [String], filter: SearchFilter) async throws -> [KnowledgeChunk] { try await check(); return try await base.chunks(sourceIDs: sourceIDs, filter: filter) }
    public func episodes(filter: SearchFilter, fromSession: Int?, toSession: Int?, limit: Int) async throws -> [KnowledgeChunk] { try await check(); return try await base.episodes(filter: filter, fromSession: fromSession, toSession: toSession, limit: limit) }
    public func embeddingModels() async throws -> [String: Int] { try await check(); return try await base.embeddingModels() }
    public func chunksToReembed(model: String, limit: Int) async throws -> [KnowledgeChunk] { try await check(); return try await base.chunksToReembed(model: model, limit: limit) }
    public func updateVectors(_ vectors: [String: [Float]], model: String) async throws { try await check(); try await base.updateVectors(vectors, model: model) }
    public func counts() async throws -> (documents: Int, chunks: Int) { try await check(); return try await base.counts() }
    public func embeddedChunks(campaignID: String?, sourceIDs: [String]) async throws -> [EmbeddedChunk] { try await check(); return try await base.embeddedChunks(campaignID: campaignID, sourceIDs: sourceIDs) }
    public func versionCounts() async throws -> [KnowledgeVersionRef: VersionCounts] { try await check(); return try await base.versionCounts() }
    public func catalog() async throws -> VersionCatalog { try await check(); return try await base.catalog() }
    public func updateCatalog<T: Sendable>(_ change: @Sendable (inout VersionCatalog) throws -> T) async throws -> T {
        try await check()
        if refusingWrites { throw Refused() }
        return try await base.updateCatalog(change)
    }
    public func cleanup(_ request: CleanupRequest) async throws -> CleanupReport { try await check(); return try await base.cleanup(request) }
}
