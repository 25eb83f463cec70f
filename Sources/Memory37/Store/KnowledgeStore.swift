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
    /// The versions the read sees, each with the instant (seconds since 1970) before which its
    /// chunks count as expired unless pinned (`-infinity`: no lifetime). The knowledge service
    /// fills it in from the aliases; nil — every version of the visible scopes — is for
    /// maintenance and tests.
    public var versions: [KnowledgeVersionRef: Double]?

    public init(campaignID: String?, domains: Set<KnowledgeDomain> = [], includeGM: Bool = false, now: Date = Date(), versions: [KnowledgeVersionRef: Double]? = nil) {
        self.campaignID = campaignID
        self.domains = domains
        self.includeGM = includeGM
        self.now = now
        self.versions = versions
    }

    public func admits(_ chunk: KnowledgeChunk) -> Bool {
        (chunk.campaignID == nil || chunk.campaignID == campaignID)
            && (domains.isEmpty || domains.contains(chunk.domain))
            && (includeGM || chunk.visibility == .players)
            && (chunk.expiresAt.map { $0 > now } ?? true)
            && admitsVersion(of: chunk)
    }

    private func admitsVersion(of chunk: KnowledgeChunk) -> Bool {
        guard let versions else { return true }
        guard let createdAfter = versions[chunk.versionRef] else { return false }
        return chunk.pinned || chunk.createdAt.timeIntervalSince1970 > createdAfter
    }

    /// Whether the read may see anything of this version of a scope at all.
    func admits(version ref: KnowledgeVersionRef, domain: KnowledgeDomain) -> Bool {
        guard ref.campaignID == nil || ref.campaignID == campaignID, domains.isEmpty || domains.contains(domain) else { return false }
        return versions.map { $0[ref] != nil } ?? true
    }

    /// The cutoff of a version this read admits (`-infinity`: none).
    func createdAfter(_ ref: KnowledgeVersionRef) -> Double {
        versions?[ref] ?? -.infinity
    }
}

/// What a store knows of a stored document: enough to skip unchanged ones on re-ingest.
public struct StoredDocument: Sendable, Equatable {
    public var sourceID: String
    public var campaignID: String?
    public var domain: KnowledgeDomain
    public var title: String
    public var contentHash: String
    /// The version of its scope it belongs to.
    public var version: String

    public init(sourceID: String, campaignID: String?, domain: KnowledgeDomain, title: String, contentHash: String, version: String? = nil) {
        self.sourceID = sourceID
        self.campaignID = campaignID
        self.domain = domain
        self.title = title
        self.contentHash = contentHash
        self.version = version ?? KnowledgeVersion.workingID(domain)
    }

    public var versionRef: KnowledgeVersionRef { KnowledgeVersionRef(campaignID: campaignID, version: version) }
}

/// How many documents and chunks a version holds.
public struct VersionCounts: Sendable, Equatable {
    public var documents: Int
    public var chunks: Int

    public init(documents: Int, chunks: Int) {
        self.documents = documents
        self.chunks = chunks
    }
}

/// What a cleanup removed (or, dry, would remove).
public struct CleanupReport: Sendable, Equatable {
    /// Expired documents by domain.
    public var expiredDocuments: [KnowledgeDomain: Int] = [:]
    public var expiredChunks = 0
    /// Retired versions deleted with their documents.
    public var retiredVersions: [KnowledgeVersionRef] = []
    public var retiredChunks = 0
    /// Another node held the cleanup lock: nothing was done.
    public var skipped = false
    /// Rows the following indexes removed for their own lifetimes (expired graph relations).
    public var followerExpired = 0

    public init() {}
}

/// What cleanup deletes: documents expired at `now` (explicitly, or created before their
/// scope's lifetime cutoff and not pinned), and retired versions no alias points to that were
/// retired before `retiredBefore`.
public struct CleanupRequest: Sendable {
    public var now: Date
    /// Scope → domain → the instant before which unpinned content has expired (`-infinity`:
    /// a campaign's override that never expires).
    public var cutoffs: [String: [KnowledgeDomain: Double]]
    /// The lifetime cutoffs of scopes not listed in `cutoffs`.
    public var defaultCutoffs: [KnowledgeDomain: Double]
    public var retiredBefore: Date
    public var dryRun: Bool

    public init(now: Date, cutoffs: [String: [KnowledgeDomain: Double]], defaultCutoffs: [KnowledgeDomain: Double], retiredBefore: Date, dryRun: Bool) {
        self.now = now
        self.cutoffs = cutoffs
        self.defaultCutoffs = defaultCutoffs
        self.retiredBefore = retiredBefore
        self.dryRun = dryRun
    }

    func cutoff(scope: String, domain: KnowledgeDomain) -> Double? {
        cutoffs[scope]?[domain] ?? defaultCutoffs[domain]
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
    /// Documents of one scope (a campaign, or nil for the global ones), of one version or
    /// (nil) of every version.
    func documents(campaignID: String?, version: String?) async throws -> [StoredDocument]
    /// Whether the campaign has any document of its own.
    func hasDocuments(campaignID: String) async throws -> Bool
    /// The named documents of one scope (and version, unless nil) that exist.
    func documents(campaignID: String?, version: String?, sourceIDs: [String]) async throws -> [StoredDocument]
    /// Replaces each document's chunks in its version with `chunks` (all of one document),
    /// several documents in one transaction: all of them, or none.
    func replace(_ documents: [(document: StoredDocument, chunks: [EmbeddedChunk])]) async throws
    /// Deletes documents of a scope from one version, or (nil) from every version.
    func delete(campaignID: String?, version: String?, sourceIDs: [String]) async throws
    /// Chunk ids by text relevance (BM25 or its equivalent), best first.
    func textSearch(_ query: String, filter: SearchFilter, limit: Int) async throws -> [String]
    /// Chunk ids by cosine similarity to `vector`, best first.
    func vectorSearch(_ vector: [Float], filter: SearchFilter, limit: Int) async throws -> [String]
    func chunks(ids: [String]) async throws -> [KnowledgeChunk]
    /// Chunks whose title or an alias equals `name`, ignoring case.
    func chunks(named name: String, filter: SearchFilter) async throws -> [KnowledgeChunk]
    /// Every chunk of the given documents visible through `filter`, in document order.
    func chunks(sourceIDs: [String], filter: SearchFilter) async throws -> [KnowledgeChunk]
    /// The chunks of the given documents in every version of one scope, with their vectors:
    /// what ingestion copies into a new version and reuses vectors from.
    func embeddedChunks(campaignID: String?, sourceIDs: [String]) async throws -> [EmbeddedChunk]
    /// The campaign's episode chunks by session number, then document order.
    func episodes(filter: SearchFilter, fromSession: Int?, toSession: Int?, limit: Int) async throws -> [KnowledgeChunk]
    /// Chunk counts by embedding model.
    func embeddingModels() async throws -> [String: Int]
    /// Up to `limit` chunks whose vectors were not made by `model`.
    func chunksToReembed(model: String, limit: Int) async throws -> [KnowledgeChunk]
    func updateVectors(_ vectors: [String: [Float]], model: String) async throws
    func counts() async throws -> (documents: Int, chunks: Int)
    /// Documents and chunks of every version that holds any.
    func versionCounts() async throws -> [KnowledgeVersionRef: VersionCounts]
    /// The version registry as it is now (a store shared by several processes notices their
    /// changes at the latest when it refreshes).
    func catalog() async throws -> VersionCatalog
    /// Changes the registry in one transaction: `change` runs on the current registry and may
    /// throw to change nothing; what it changed is stored atomically.
    func updateCatalog<T: Sendable>(_ change: @Sendable (inout VersionCatalog) throws -> T) async throws -> T
    /// Deletes expired documents and retired versions past their grace period (see
    /// ``CleanupRequest``), or with `dryRun` only reports them. Two cleanups at once (on
    /// several nodes) delete each row once.
    func cleanup(_ request: CleanupRequest) async throws -> CleanupReport
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

    /// Documents of one scope in every version.
    public func documents(campaignID: String?) async throws -> [StoredDocument] {
        try await documents(campaignID: campaignID, version: nil)
    }

    public func documents(campaignID: String?, sourceIDs: [String]) async throws -> [StoredDocument] {
        try await documents(campaignID: campaignID, version: nil, sourceIDs: sourceIDs)
    }

    /// Deletes documents of a scope from every version.
    public func delete(campaignID: String?, sourceIDs: [String]) async throws {
        try await delete(campaignID: campaignID, version: nil, sourceIDs: sourceIDs)
    }
}
