public import Foundation

/// Which chunks a query may see.
public struct SearchFilter: Sendable {
    /// The campaign asking: its chunks and the global ones. nil: global chunks only.
    public var campaignID: String?
    /// Empty: every domain.
    public var domains: Set<KnowledgeDomain>
    /// Whether `gm` chunks are visible (game masters and services).
    public var includeGM: Bool
    /// Chunks that expired before this instant are hidden.
    public var now: Date

    public init(campaignID: String?, domains: Set<KnowledgeDomain> = [], includeGM: Bool = false, now: Date = Date()) {
        self.campaignID = campaignID
        self.domains = domains
        self.includeGM = includeGM
        self.now = now
    }

    public func admits(_ chunk: KnowledgeChunk) -> Bool {
        (chunk.campaignID == nil || chunk.campaignID == campaignID)
            && (domains.isEmpty || domains.contains(chunk.domain))
            && (includeGM || chunk.visibility == .players)
            && (chunk.expiresAt.map { $0 > now } ?? true)
    }
}

/// What a store knows of a stored document: enough to skip unchanged ones on re-ingest.
public struct StoredDocument: Sendable, Equatable {
    public var sourceID: String
    public var campaignID: String?
    public var domain: KnowledgeDomain
    public var title: String
    public var contentHash: String

    public init(sourceID: String, campaignID: String?, domain: KnowledgeDomain, title: String, contentHash: String) {
        self.sourceID = sourceID
        self.campaignID = campaignID
        self.domain = domain
        self.title = title
        self.contentHash = contentHash
    }
}

/// Where chunks, their text index and their vectors live: in memory, SQLite (FTS5 and an
/// in-process vector scan over float32 blobs) or PostgreSQL (tsvector and pgvector HNSW).
///
/// Every write of one document is atomic: its old chunks are replaced by the new ones in one
/// transaction, so a failure never leaves half a document.
public protocol KnowledgeStore: Sendable {
    /// `memory`, `sqlite` or `postgres`.
    var kind: String { get }
    /// Loads what the store keeps in memory (the vector matrix); called once before use.
    func prepare() async throws
    /// Documents of one scope (a campaign, or nil for the global ones).
    func documents(campaignID: String?) async throws -> [StoredDocument]
    /// Whether the campaign has any document of its own.
    func hasDocuments(campaignID: String) async throws -> Bool
    /// The named documents of one scope that exist.
    func documents(campaignID: String?, sourceIDs: [String]) async throws -> [StoredDocument]
    /// Replaces the document's chunks with `chunks` (all of one document), atomically.
    func replace(_ document: StoredDocument, chunks: [EmbeddedChunk]) async throws
    /// Replaces several documents in one transaction: all of them, or none.
    func replace(_ documents: [(document: StoredDocument, chunks: [EmbeddedChunk])]) async throws
    func delete(campaignID: String?, sourceIDs: [String]) async throws
    /// Chunk ids by text relevance (BM25 or its equivalent), best first.
    func textSearch(_ query: String, filter: SearchFilter, limit: Int) async throws -> [String]
    /// Chunk ids by cosine similarity to `vector`, best first.
    func vectorSearch(_ vector: [Float], filter: SearchFilter, limit: Int) async throws -> [String]
    func chunks(ids: [String]) async throws -> [KnowledgeChunk]
    /// Chunks whose title or an alias equals `name`, ignoring case.
    func chunks(named name: String, filter: SearchFilter) async throws -> [KnowledgeChunk]
    /// Every chunk of the given documents visible through `filter`, in document order.
    func chunks(sourceIDs: [String], filter: SearchFilter) async throws -> [KnowledgeChunk]
    /// The campaign's episode chunks by session number, then document order.
    func episodes(filter: SearchFilter, fromSession: Int?, toSession: Int?, limit: Int) async throws -> [KnowledgeChunk]
    /// Chunk counts by embedding model.
    func embeddingModels() async throws -> [String: Int]
    /// Up to `limit` chunks whose vectors were not made by `model`.
    func chunksToReembed(model: String, limit: Int) async throws -> [KnowledgeChunk]
    func updateVectors(_ vectors: [String: [Float]], model: String) async throws
    func counts() async throws -> (documents: Int, chunks: Int)
    /// A complete in-memory copy the store keeps of itself, if any: the knowledge service
    /// falls back to it rather than keeping a second copy.
    var inMemoryCopy: InMemoryKnowledgeStore? { get }
    /// Brings an in-process copy up to date with writes made elsewhere (other nodes); nothing
    /// to do for a store without one.
    func refresh() async throws
}

extension KnowledgeStore {
    public var inMemoryCopy: InMemoryKnowledgeStore? { nil }
    public func refresh() async throws {}

    public func replace(_ document: StoredDocument, chunks: [EmbeddedChunk]) async throws {
        try await replace([(document, chunks)])
    }
}
