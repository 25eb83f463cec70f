public import Foundation
public import Memory37

/// What one graph read may see: the campaign (and the global scope), the versions its aliases
/// resolve to with their lifetime cutoffs, gm content or not, and the instant expiry is
/// judged at.
public struct GraphView: Sendable {
    public var campaignID: String?
    public var includeGM: Bool
    public var now: Date
    /// Each visible version with the instant (seconds since 1970) before which its unpinned
    /// content counts as expired (`-infinity`: no lifetime) — a resolved ``SearchFilter``'s.
    public var versions: [KnowledgeVersionRef: Double]

    public init(campaignID: String?, includeGM: Bool, now: Date = Date(), versions: [KnowledgeVersionRef: Double]) {
        self.campaignID = campaignID
        self.includeGM = includeGM
        self.now = now
        self.versions = versions
    }

    /// The view of a resolved knowledge filter.
    public init(_ filter: SearchFilter) {
        self.init(campaignID: filter.campaignID, includeGM: filter.includeGM, now: filter.now, versions: filter.versions ?? [:])
    }

    /// The stores' partition keys of the visible versions.
    var partitions: [String] { versions.keys.map(GraphPartition.key).sorted() }

    func admits(_ node: GraphNode) -> Bool {
        guard let cutoff = versions[node.versionRef] else { return false }
        return (node.expiresAt.map { $0 > now } ?? true) && (node.pinned || node.createdAt.timeIntervalSince1970 > cutoff)
    }

    func admits(_ edge: GraphEdge) -> Bool {
        guard let cutoff = versions[edge.versionRef] else { return false }
        return (includeGM || edge.visibility == .players) && (edge.expiresAt.map { $0 > now } ?? true)
            && (edge.pinned || edge.createdAt.timeIntervalSince1970 > cutoff)
    }
}

/// The key a store files a version's rows under: scope and version in one column, so that a
/// read names its visible versions with one `IN` list.
enum GraphPartition {
    static func key(_ ref: KnowledgeVersionRef) -> String { ref.scope + "\u{1F}" + ref.version }

    /// The view's partition keys and their versions, so that rows need not parse their key.
    static func refs(_ view: GraphView) -> [String: KnowledgeVersionRef] {
        Dictionary(view.versions.keys.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
    }

    static func ref(_ key: String) -> KnowledgeVersionRef {
        let parts = key.split(separator: "\u{1F}", maxSplits: 1, omittingEmptySubsequences: false)
        let scope = String(parts[0])
        return KnowledgeVersionRef(campaignID: scope.isEmpty ? nil : scope, version: parts.count > 1 ? String(parts[1]) : "")
    }
}

/// Where the campaign graph lives: beside Memory37's tables in SQLite (the embedded default)
/// or PostgreSQL (several nodes). Rows are filed by version like chunks; every document's
/// rows are replaced as a whole in one transaction. A Cypher engine could implement this too.
public protocol GraphStore: Sendable {
    /// `sqlite` or `postgres`.
    var kind: String { get }

    // MARK: Following the knowledge store

    /// The versions holding any document's rows.
    func versions() async throws -> Set<KnowledgeVersionRef>
    /// The documents of a version the graph holds, with the content hash they were derived from.
    func documents(in ref: KnowledgeVersionRef) async throws -> [String: String]
    /// Replaces each document's nodes, edges and names in its version: all of them, or none.
    func replace(_ documents: [GraphDocument]) async throws
    /// Deletes documents' rows from a version.
    func delete(_ sourceIDs: [String], in ref: KnowledgeVersionRef) async throws
    /// Deletes (or, dry, counts) edges that expired before `now` and are not pinned.
    func deleteExpiredEdges(now: Date, dryRun: Bool) async throws -> Int
    /// Names and aliases (lower-cased) of the nodes of these versions, for mentions.
    func names(in refs: [KnowledgeVersionRef]) async throws -> [EntityName]

    // MARK: Reading

    /// The nodes with these ids in the visible versions (gm ones too: the caller decides).
    func nodes(ids: [String], view: GraphView) async throws -> [GraphNode]
    /// Edges of the visible versions that start or end at one of `ids`, of `types` (nil: any),
    /// except edges of `skippingIncoming` types that end there (a faction's memberships), at
    /// most `limit` of them.
    func edges(touching ids: [String], types: Set<String>?, skippingIncoming: Set<String>, view: GraphView, limit: Int) async throws -> [GraphEdge]
    /// Ids of visible nodes whose name or an alias equals `name` (lower-cased).
    func nodeIDs(named name: String, view: GraphView) async throws -> [String]
    /// Nodes and edges stored, all versions.
    func counts() async throws -> (nodes: Int, edges: Int)
    /// After a bulk load: lets the database's planner see the new rows at once rather than
    /// when its background statistics catch up (PostgreSQL's autovacuum, within a minute).
    func refreshStatistics() async throws
}

extension GraphStore {
    /// Every edge of `types` that starts or ends at one of `ids`.
    public func edges(touching ids: [String], types: Set<String>?, view: GraphView, limit: Int) async throws -> [GraphEdge] {
        try await edges(touching: ids, types: types, skippingIncoming: [], view: view, limit: limit)
    }
}
