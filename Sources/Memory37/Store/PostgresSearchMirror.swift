import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// The PostgreSQL store's in-process search indexes (`RPGBOT_KNOWLEDGE_SEARCH=in-process`):
/// the same `TextIndex` and `VectorIndex` the SQLite store uses, loaded from the database at
/// start-up and kept current from its change log, so every node answers searches from memory
/// while PostgreSQL stays the one durable, shared store.
///
/// Every write transaction takes the next revision from `knowledge_revision` (a one-row
/// counter whose row lock orders writers by commit) and logs the documents it changed under
/// it in `knowledge_changes`. Before a search, a node reads the changes after the revision it
/// has and reloads those documents as they are now; its own writes are applied directly.
actor PostgresSearchMirror {
    let indexes: ReadWriteLocked<SearchIndexes>
    private let client: PostgresClient
    private let logger: Logger
    private var revision: Int64 = 0
    /// Chunk ids in the indexes, by document (`scope` NUL `source id`).
    private var documents: [String: [String]] = [:]

    init(client: PostgresClient, dimensions: Int, logger: Logger) {
        self.client = client
        self.logger = logger
        self.indexes = ReadWriteLocked(SearchIndexes(vectors: VectorIndex(dimensions: dimensions)))
    }

    static func key(_ scope: String, _ source: String) -> String { scope + "\u{0}" + source }

    /// Loads every chunk and the revision they belong to, from one snapshot.
    func load() async throws {
        let dimensions = indexes.read { $0.vectors.dimensions }
        var fresh = SearchIndexes(vectors: VectorIndex(dimensions: dimensions))
        var freshDocuments: [String: [String]] = [:]
        let loadedRevision = try await client.withTransaction(logger: logger) { connection -> Int64 in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: logger)
            var current: Int64 = 0
            for try await value in try await connection.query("SELECT rev FROM knowledge_revision", logger: logger).decode(Int64.self) { current = value }
            let rows = try await connection.query("SELECT \(unescaped: Self.columns) FROM knowledge_chunks", logger: logger)
            for try await row in rows.decode(Row.self) {
                let (entry, key) = Self.entry(row)
                fresh.upsert(entry)
                freshDocuments[key, default: []].append(entry.id)
            }
            return current
        }
        indexes.write { $0 = fresh }
        documents = freshDocuments
        revision = loadedRevision
    }

    private var inFlight: Task<Void, any Error>?

    /// Applies the changes other nodes committed since the last look. Callers that arrive
    /// while a look is under way share it (a hybrid search's text and vector halves ask at
    /// the same moment), so a search costs one round trip, not two.
    func catchUp() async throws {
        if let inFlight { return try await inFlight.value }
        let look = Task { try await self.lookForChanges() }
        inFlight = look
        defer { inFlight = nil }
        try await look.value
    }

    private func lookForChanges() async throws {
        var changed: [(scope: String, source: String)] = []
        var latest = revision
        for try await (rev, scope, source) in try await client.query("SELECT rev, scope, source_id FROM knowledge_changes WHERE rev > \(revision) ORDER BY rev", logger: logger).decode((Int64, String, String).self) {
            changed.append((scope, source))
            latest = max(latest, rev)
        }
        guard !changed.isEmpty else { return }
        try await reload(changed)
        revision = latest
    }

    /// After this node's own write committed under `rev`: the documents' new chunks go in
    /// directly (nothing is read back).
    func applied(_ replaced: [(document: StoredDocument, chunks: [SearchIndexes.Entry])], deleted: [(scope: String, source: String)], rev: Int64) {
        indexes.write { indexes in
            for (scope, source) in deleted {
                indexes.remove(Set(documents.removeValue(forKey: Self.key(scope, source)) ?? []))
            }
            for (document, entries) in replaced {
                let key = Self.key(document.campaignID ?? "", document.sourceID)
                indexes.remove(Set(documents[key] ?? []))
                for entry in entries { indexes.upsert(entry) }
                documents[key] = entries.map(\.id)
            }
        }
        // With no other writer in between, the log holds nothing this node lacks up to `rev`;
        // otherwise the catch-up reads this revision too and reloads the same documents.
        if rev == revision + 1 { revision = rev }
    }

    private func reload(_ changed: [(scope: String, source: String)]) async throws {
        let unique = Array(Set(changed.map { Self.key($0.scope, $0.source) })).sorted()
        let scopes = unique.map { String($0.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)[0]) }
        let sources = unique.map { String($0.split(separator: "\u{0}", maxSplits: 1, omittingEmptySubsequences: false)[1]) }
        var freshDocuments: [String: [String]] = [:]
        let rows = try await client.query("""
            SELECT \(unescaped: Self.qualifiedColumns) FROM knowledge_chunks c
            JOIN unnest(\(scopes)::text[], \(sources)::text[]) AS d(scope, source_id) ON c.scope = d.scope AND c.source_id = d.source_id
            """, logger: logger)
        var entries: [SearchIndexes.Entry] = []
        for try await row in rows.decode(Row.self) {
            let (entry, key) = Self.entry(row)
            entries.append(entry)
            freshDocuments[key, default: []].append(entry.id)
        }
        indexes.write { indexes in
            for key in unique { indexes.remove(Set(documents.removeValue(forKey: key) ?? [])) }
            for entry in entries { indexes.upsert(entry) }
        }
        for (key, ids) in freshDocuments { documents[key] = ids }
    }

    static let columns = "id, scope, source_id, campaign_id, domain, visibility, expires_at, title, aliases, heading_path, text, embedding::text"
    static let qualifiedColumns = "c.id, c.scope, c.source_id, c.campaign_id, c.domain, c.visibility, c.expires_at, c.title, c.aliases, c.heading_path, c.text, c.embedding::text"

    typealias Row = (String, String, String, String?, String, String, Double?, String, String, String, String, String)

    private static func entry(_ row: Row) -> (SearchIndexes.Entry, String) {
        let (id, scope, source, campaign, domain, visibility, expires, title, aliases, headings, text, embedding) = row
        let terms = TextIndex.terms(title: title, aliases: SQLiteKnowledgeStore.strings(aliases), headingPath: SQLiteKnowledgeStore.strings(headings), text: text)
        let entry = SearchIndexes.Entry(
            id: id,
            scope: FilterColumns.Scope(
                campaignID: campaign, domain: KnowledgeDomain(rawValue: domain) ?? .lore, visibility: Visibility(rawValue: visibility) ?? .gm,
                expiresAt: expires.map { Date(timeIntervalSince1970: $0) }
            ),
            heading: terms.heading, body: terms.body,
            vector: parseVector(embedding)
        )
        return (entry, key(scope, source))
    }

    /// pgvector's text form `[0.1,0.2,…]`.
    static func parseVector(_ text: String) -> [Float] {
        text.utf8.count > 2 ? text.dropFirst().dropLast().split(separator: ",").compactMap { Float($0) } : []
    }
}

/// The two in-process indexes of a store, changed together.
struct SearchIndexes {
    var text = TextIndex()
    var vectors: VectorIndex

    /// One chunk as the indexes need it.
    struct Entry {
        var id: String
        var scope: FilterColumns.Scope
        var heading: [String]
        var body: [String]
        var vector: [Float]
    }

    mutating func upsert(_ entry: Entry) {
        text.upsert(id: entry.id, scope: entry.scope, heading: entry.heading, body: entry.body)
        // Vectors of another length belong to another model: `rpgbot reembed` redoes them.
        if entry.vector.count == vectors.dimensions { vectors.upsert(id: entry.id, scope: entry.scope, vector: entry.vector) }
    }

    mutating func remove(_ ids: Set<String>) {
        text.remove(ids)
        vectors.remove(ids)
    }
}
