import JSONValues
import Foundation
public import GRDB
import ServiceKit

/// The embedded default: chunks in SQLite with their search terms in an FTS5 table (the
/// project's tokenizer's terms: stop words dropped, Porter-stemmed) and their vectors as float32
/// blobs. Both are mirrored into process memory at start-up — terms into a ``TextIndex``,
/// vectors into a ``VectorIndex`` — and kept in step with every write; queries are answered
/// from the mirror, so a search never waits on disk and ranks by exact BM25 over every term.
public final class SQLiteKnowledgeStore: KnowledgeStore {
    public let kind = "sqlite"
    let pool: DatabasePool
    let mirror: ReadWriteLocked<Mirror>
    /// The change-log revision the mirror reflects. Read and written only inside the pool's
    /// write transactions (which are serialised) or while loading, so it needs no lock of its own
    /// beyond the one that makes it `Sendable`.
    let revision = ReadWriteLocked<Int64>(0)
    /// The registry as of `catalog_rev`, loaded on first use and whenever the counter moved.
    let catalogCache = ReadWriteLocked<(rev: Int64, catalog: VersionCatalog)?>(nil)
    /// Log entries kept; a node further behind than this loads everything again.
    let changeLogRetention: Int64

    /// The in-process copy of what queries need.
    typealias Mirror = SearchIndexes

    public init(pool: DatabasePool, dimensions: Int, changeLogRetention: Int64 = 10_000) {
        self.pool = pool
        self.mirror = ReadWriteLocked(Mirror(dimensions: dimensions))
        self.changeLogRetention = changeLogRetention
    }

    static let columns = "id, campaign_id, domain, source_id, ordinal, title, heading_path, aliases, text, content_hash, metadata, visibility, created_at, expires_at, session_number, version, pinned"

    public func prepare() async throws {
        let dimensions = mirror.read { $0.dimensions }
        // The revision and the rows come from one read transaction: one snapshot.
        let (loaded, loadedRevision) = try await pool.read { db in
            var loaded = Mirror(dimensions: dimensions)
            let current = try Int64.fetchOne(db, sql: "SELECT rev FROM knowledge_revision") ?? 0
            try Self.load(Row.fetchCursor(db, sql: Self.mirrorQuery), into: &loaded)
            return (loaded, current)
        }
        mirror.write { $0 = loaded }
        revision.write { $0 = loadedRevision }
    }

    /// What the mirror needs of a chunk: its filter columns, its terms (the FTS5 columns hold
    /// them already, so nothing is tokenised again) and its vector.
    static let mirrorQuery = """
        SELECT c.id, c.campaign_id, c.domain, c.visibility, c.expires_at, c.created_at, c.version, c.pinned, c.embedding, f.title, f.aliases, f.text
        FROM knowledge_chunks c JOIN knowledge_fts f ON f.rowid = c.rowid
        """

    /// One chunk as the mirror holds it.
    struct MirrorEntry {
        var id: String
        var scope: FilterColumns.Scope
        var heading: [String]
        var body: [String]
        var vector: [Float]

        init(_ row: Row) {
            id = row["id"]
            scope = FilterColumns.Scope(
                version: KnowledgeVersionRef(campaignID: row["campaign_id"], version: row["version"]),
                domain: KnowledgeDomain(rawValue: row["domain"]) ?? .lore,
                visibility: Visibility(rawValue: row["visibility"]) ?? .gm,
                expiresAt: (row["expires_at"] as Double?).map { Date(timeIntervalSince1970: $0) },
                createdAt: Date(timeIntervalSince1970: row["created_at"]), pinned: row["pinned"]
            )
            heading = SQLiteKnowledgeStore.split(row["title"]) + SQLiteKnowledgeStore.split(row["aliases"])
            body = SQLiteKnowledgeStore.split(row["text"])
            vector = SQLiteKnowledgeStore.floats(row["embedding"])
        }

        func insert(into mirror: inout Mirror) {
            mirror.upsert(id: id, scope: scope, heading: heading, body: body, vector: vector)
        }
    }

    /// Streams rows into a mirror being built (start-up: never every row and the mirror at once).
    static func load(_ rows: RowCursor, into mirror: inout Mirror) throws {
        while let row = try rows.next() { MirrorEntry(row).insert(into: &mirror) }
    }

    /// Applies the writes other processes made to the file since this one last looked
    /// (`rpgbot ingest` beside a running server): the server's upkeep calls it every second.
    public func refresh() async throws {
        let known = revision.read { $0 }
        let (current, catalogRevision) = try await pool.read { db -> (Int64, Int64) in
            let row = try Row.fetchOne(db, sql: "SELECT rev, catalog_rev FROM knowledge_revision")
            return (row?["rev"] ?? 0, row?["catalog_rev"] ?? 0)
        }
        if catalogCache.read({ $0?.rev }) != catalogRevision { try await reloadCatalog() }
        guard current > known else { return }
        // Inside the writer, so no write of this process lands between reading the log and
        // applying it.
        try await pool.write { db in
            let known = self.revision.read { $0 }
            guard let row = try Row.fetchOne(db, sql: "SELECT rev, trimmed_through FROM knowledge_revision") else { return }
            let (latest, trimmedThrough): (Int64, Int64) = (row["rev"], row["trimmed_through"])
            guard latest > known else { return }
            if trimmedThrough > known {
                // Changes this node needs were trimmed away: load everything again.
                var loaded = Mirror(dimensions: self.mirror.read { $0.dimensions })
                try Self.load(Row.fetchCursor(db, sql: Self.mirrorQuery), into: &loaded)
                self.mirror.write { $0 = loaded }
            } else {
                let ids = try String.fetchAll(db, sql: "SELECT DISTINCT chunk_id FROM knowledge_chunk_changes WHERE rev > ?", arguments: [known])
                var entries: [MirrorEntry] = []
                for batch in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                    entries += try Row.fetchAll(db, sql: Self.mirrorQuery + " WHERE c.id IN (\(batch.map { _ in "?" }.joined(separator: ",")))", arguments: StatementArguments(batch)).map(MirrorEntry.init)
                }
                // Removed chunks have no row: removing every changed id first leaves them out.
                self.mirror.write { mirror in
                    mirror.remove(Set(ids))
                    for entry in entries { entry.insert(into: &mirror) }
                }
            }
            self.revision.write { $0 = latest }
        }
    }

    /// Takes the next revision for a write transaction and logs the chunk ids it touched; trims
    /// the log now and then. Returns the revision.
    static func logChange(_ chunkIDs: some Sequence<String>, retention: Int64, db: GRDB.Database) throws -> Int64 {
        guard let rev = try Int64.fetchOne(db, sql: "UPDATE knowledge_revision SET rev = rev + 1 WHERE id = 1 RETURNING rev") else {
            throw DatabaseError(message: "knowledge_revision row missing")
        }
        let insert = try db.cachedStatement(sql: "INSERT INTO knowledge_chunk_changes (rev, chunk_id) VALUES (?, ?)")
        for id in Set(chunkIDs) { try insert.execute(arguments: [rev, id]) }
        if rev % 100 == 0, rev > retention {
            try db.execute(sql: "DELETE FROM knowledge_chunk_changes WHERE rev <= ?", arguments: [rev - retention])
            try db.execute(sql: "UPDATE knowledge_revision SET trimmed_through = ? WHERE id = 1", arguments: [rev - retention])
        }
        return rev
    }

    /// After this process's own write under `rev`, in the same write transaction: with no
    /// other process's write in between, the mirror is as current as `rev`.
    func advance(to rev: Int64) {
        revision.write { if rev == $0 + 1 { $0 = rev } }
    }

    static func split(_ terms: String) -> [String] {
        terms.split(separator: " ").map(String.init)
    }

    public func documents(campaignID: String?, version: String?) async throws -> [StoredDocument] {
        try await documents(campaignID: campaignID, version: version, only: nil)
    }


    public func hasDocuments(campaignID: String) async throws -> Bool {
        try await pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM knowledge_documents WHERE scope = ?)", arguments: [campaignID]) ?? false
        }
    }

    public func documents(campaignID: String?, version: String?, sourceIDs: [String]) async throws -> [StoredDocument] {
        sourceIDs.isEmpty ? [] : try await documents(campaignID: campaignID, version: version, only: sourceIDs)
    }

    /// The scope's documents (of one version), or only those named.
    private func documents(campaignID: String?, version: String?, only sourceIDs: [String]?) async throws -> [StoredDocument] {
        var sql = "SELECT source_id, domain, title, content_hash, version FROM knowledge_documents WHERE scope = ?"
        var arguments: StatementArguments = [campaignID ?? ""]
        if let version {
            sql += " AND version = ?"
            arguments += [version]
        }
        if let sourceIDs {
            sql += " AND source_id IN (\(sourceIDs.map { _ in "?" }.joined(separator: ",")))"
            arguments += StatementArguments(sourceIDs)
        }
        let query = sql + " ORDER BY source_id, version"
        let values = arguments
        return try await pool.read { db in
            try Row.fetchAll(db, sql: query, arguments: values).map { row in
                StoredDocument(sourceID: row["source_id"], campaignID: campaignID, domain: KnowledgeDomain(rawValue: row["domain"]) ?? .lore, title: row["title"], contentHash: row["content_hash"], version: row["version"])
            }
        }
    }

    /// A chunk with the terms its three FTS5 columns hold.
    struct AnalyzedChunk {
        var embedded: EmbeddedChunk
        var title: [String]
        var aliases: [String]
        var body: [String]

        init(_ embedded: EmbeddedChunk) {
            let chunk = embedded.chunk
            self.embedded = embedded
            title = TextTokenizer.terms(chunk.title)
            aliases = TextTokenizer.terms(chunk.aliases.joined(separator: " "))
            body = TextTokenizer.terms((chunk.headingPath + [chunk.text]).joined(separator: " "))
        }
    }

    public func replace(_ documents: [(document: StoredDocument, chunks: [EmbeddedChunk])]) async throws {
        // Tokenised before the write transaction, which then holds the lock only for SQL.
        let analyzed = documents.map { ($0.document, $0.chunks.map(AnalyzedChunk.init)) }
        try await pool.write { db in
            var removed: [String] = []
            for (document, chunks) in analyzed {
                removed += try Self.write(document, chunks: chunks, db: db)
            }
            let written = analyzed.flatMap { $0.1.map(\.embedded.chunk.id) }
            let rev = try Self.logChange(removed + written, retention: self.changeLogRetention, db: db)
            // Applied inside the writer, so a refresh never applies an older state after it.
            self.mirror.write { mirror in
                mirror.remove(Set(removed))
                for (_, chunks) in analyzed {
                    for analyzed in chunks {
                        let embedded = analyzed.embedded
                        mirror.upsert(id: embedded.chunk.id, scope: FilterColumns.Scope(embedded.chunk), heading: analyzed.title + analyzed.aliases, body: analyzed.body, vector: embedded.vector)
                    }
                }
            }
            self.advance(to: rev)
        }
    }

    /// Replaces one document's rows in the caller's transaction; returns the chunk ids removed.
    static func write(_ document: StoredDocument, chunks: [AnalyzedChunk], db: GRDB.Database) throws -> [String] {
        let removed = try deleteDocument(scope: document.campaignID ?? "", version: document.version, sourceID: document.sourceID, db: db)
        try db.execute(
            sql: "INSERT INTO knowledge_documents (scope, version, source_id, domain, title, content_hash, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [document.campaignID ?? "", document.version, document.sourceID, document.domain.rawValue, document.title, document.contentHash, Date().timeIntervalSince1970]
        )
        let insertChunk = try db.cachedStatement(sql: """
            INSERT INTO knowledge_chunks (id, scope, campaign_id, domain, source_id, ordinal, title, heading_path, aliases, text,
                content_hash, metadata, visibility, created_at, expires_at, session_number, embedding, embedding_model, version, pinned)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let insertText = try db.cachedStatement(sql: "INSERT INTO knowledge_fts (rowid, title, aliases, text) VALUES (?, ?, ?, ?)")
        let insertName = try db.cachedStatement(sql: "INSERT INTO knowledge_names (name, chunk_rowid) VALUES (?, ?)")
        for analyzed in chunks {
            let embedded = analyzed.embedded
            let chunk = embedded.chunk
            try insertChunk.execute(arguments: [
                chunk.id, chunk.campaignID ?? "", chunk.campaignID, chunk.domain.rawValue, chunk.sourceID, chunk.ordinal, chunk.title,
                JSONValue.array(chunk.headingPath.map { .string($0) }).canonicalText, JSONValue.array(chunk.aliases.map { .string($0) }).canonicalText,
                chunk.text, chunk.contentHash, JSONValue.object(chunk.metadata).canonicalText, chunk.visibility.rawValue,
                chunk.createdAt.timeIntervalSince1970, chunk.expiresAt?.timeIntervalSince1970, chunk.sessionNumber,
                blob(embedded.vector), embedded.model, chunk.version, chunk.pinned,
            ])
            let rowid = db.lastInsertedRowID
            try insertText.execute(arguments: [
                rowid, analyzed.title.joined(separator: " "), analyzed.aliases.joined(separator: " "), analyzed.body.joined(separator: " "),
            ])
            for name in Set(([chunk.title] + chunk.aliases).map { $0.lowercased() }) where !name.isEmpty {
                try insertName.execute(arguments: [name, rowid])
            }
        }
        return removed
    }

    /// Deletes a document's rows in the caller's transaction; returns the chunk ids removed.
    /// `version` nil: from every version.
    static func deleteDocument(scope: String, version: String?, sourceID: String, db: GRDB.Database) throws -> [String] {
        let condition = "scope = ? AND source_id = ?" + (version == nil ? "" : " AND version = ?")
        var arguments: StatementArguments = [scope, sourceID]
        if let version { arguments += [version] }
        let rows = try Row.fetchAll(db, sql: "SELECT rowid, id FROM knowledge_chunks WHERE \(condition)", arguments: arguments)
        for row in rows {
            let rowid: Int64 = row["rowid"]
            try db.execute(sql: "DELETE FROM knowledge_fts WHERE rowid = ?", arguments: [rowid])
            try db.execute(sql: "DELETE FROM knowledge_names WHERE chunk_rowid = ?", arguments: [rowid])
        }
        try db.execute(sql: "DELETE FROM knowledge_chunks WHERE \(condition)", arguments: arguments)
        try db.execute(sql: "DELETE FROM knowledge_documents WHERE \(condition)", arguments: arguments)
        return rows.map { $0["id"] }
    }

    public func delete(campaignID: String?, version: String?, sourceIDs: [String]) async throws {
        try await pool.write { db in
            let removed = try sourceIDs.flatMap { try Self.deleteDocument(scope: campaignID ?? "", version: version, sourceID: $0, db: db) }
            let rev = try Self.logChange(removed, retention: self.changeLogRetention, db: db)
            self.mirror.write { $0.remove(Set(removed)) }
            self.advance(to: rev)
        }
    }

    /// The filter as SQL over `knowledge_chunks` aliased `c`.
    static func whereClause(_ filter: SearchFilter) -> (String, StatementArguments) {
        var sql = "(c.campaign_id IS NULL OR c.campaign_id = ?) AND (c.expires_at IS NULL OR c.expires_at > ?)"
        var arguments: StatementArguments = [filter.campaignID, filter.now.timeIntervalSince1970]
        if !filter.includeGM { sql += " AND c.visibility = 'players'" }
        if !filter.domains.isEmpty {
            sql += " AND c.domain IN (" + filter.domains.map { _ in "?" }.joined(separator: ",") + ")"
            for domain in filter.domains.sorted(by: { $0.rawValue < $1.rawValue }) { arguments += [domain.rawValue] }
        }
        if let versions = filter.versions {
            // One term per version the read sees, with its lifetime cutoff.
            let sorted = versions.sorted { $0.key.description < $1.key.description }
            let terms = sorted.map { _ in "(c.scope = ? AND c.version = ? AND (c.pinned = 1 OR c.created_at > ?))" }
            sql += " AND (" + (terms.isEmpty ? "0" : terms.joined(separator: " OR ")) + ")"
            for (ref, cutoff) in sorted { arguments += [ref.scope, ref.version, cutoff.isFinite ? cutoff : -1e300] }
        }
        return (sql, arguments)
    }

    public func textSearch(_ query: String, filter: SearchFilter, limit: Int) async throws -> [String] {
        let terms = TextTokenizer.terms(query)
        return mirror.read { $0.textSearch(terms: terms, filter: filter, limit: limit) }
    }

    public func vectorSearch(_ vector: [Float], filter: SearchFilter, limit: Int) async throws -> [String] {
        mirror.read { $0.vectorSearch(vector, filter: filter, limit: limit) }
    }

    public func chunks(ids: [String]) async throws -> [KnowledgeChunk] {
        guard !ids.isEmpty else { return [] }
        let found = try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.columns) FROM knowledge_chunks WHERE id IN (\(ids.map { _ in "?" }.joined(separator: ",")))", arguments: StatementArguments(ids)).map(Self.chunk)
        }
        let byID = Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return ids.compactMap { byID[$0] }
    }

    public func chunks(named name: String, filter: SearchFilter) async throws -> [KnowledgeChunk] {
        let (clause, filterArguments) = Self.whereClause(filter)
        return try await pool.read { db in
            var arguments: StatementArguments = [name.lowercased()]
            arguments += filterArguments
            return try Row.fetchAll(db, sql: """
                SELECT DISTINCT \(Self.columns.split(separator: ",").map { "c." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))
                FROM knowledge_names n JOIN knowledge_chunks c ON c.rowid = n.chunk_rowid
                WHERE n.name = ? AND \(clause) ORDER BY c.source_id, c.ordinal
                """, arguments: arguments).map(Self.chunk)
        }
    }

    public func chunks(sourceIDs: [String], filter: SearchFilter) async throws -> [KnowledgeChunk] {
        guard !sourceIDs.isEmpty else { return [] }
        let (clause, filterArguments) = Self.whereClause(filter)
        return try await pool.read { db in
            var arguments = StatementArguments(sourceIDs)
            arguments += filterArguments
            return try Row.fetchAll(db, sql: """
                SELECT \(Self.columns) FROM knowledge_chunks c
                WHERE c.source_id IN (\(sourceIDs.map { _ in "?" }.joined(separator: ","))) AND \(clause) ORDER BY c.source_id, c.ordinal, c.id
                """, arguments: arguments).map(Self.chunk)
        }
    }

    public func episodes(filter: SearchFilter, fromSession: Int?, toSession: Int?, limit: Int) async throws -> [KnowledgeChunk] {
        var episodeFilter = filter
        episodeFilter.domains = [.episode]
        let (clause, filterArguments) = Self.whereClause(episodeFilter)
        return try await pool.read { db in
            var arguments = filterArguments
            arguments += [fromSession ?? Int.min, toSession ?? Int.max, limit]
            return try Row.fetchAll(db, sql: """
                SELECT \(Self.columns) FROM knowledge_chunks c
                WHERE \(clause) AND COALESCE(c.session_number, 0) BETWEEN ? AND ?
                ORDER BY COALESCE(c.session_number, 0), c.source_id, c.ordinal LIMIT ?
                """, arguments: arguments).map(Self.chunk)
        }
    }

    public func embeddingModels() async throws -> [String: Int] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT embedding_model, COUNT(*) AS n FROM knowledge_chunks GROUP BY embedding_model").reduce(into: [:]) { result, row in
                result[row["embedding_model"] as String] = row["n"] as Int
            }
        }
    }

    public func chunksToReembed(model: String, limit: Int) async throws -> [KnowledgeChunk] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.columns) FROM knowledge_chunks WHERE embedding_model <> ? ORDER BY id LIMIT ?", arguments: [model, limit]).map(Self.chunk)
        }
    }

    public func updateVectors(_ vectors: [String: [Float]], model: String) async throws {
        try await pool.write { db in
            for (id, vector) in vectors {
                try db.execute(sql: "UPDATE knowledge_chunks SET embedding = ?, embedding_model = ? WHERE id = ?", arguments: [Self.blob(vector), model, id])
            }
            let rev = try Self.logChange(vectors.keys, retention: self.changeLogRetention, db: db)
            let ids = Array(vectors.keys)
            var updated: [KnowledgeChunk] = []
            for batch in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                updated += try Row.fetchAll(db, sql: "SELECT \(Self.columns) FROM knowledge_chunks WHERE id IN (\(batch.map { _ in "?" }.joined(separator: ",")))", arguments: StatementArguments(batch)).map(Self.chunk)
            }
            self.mirror.write { mirror in
                for chunk in updated {
                    if let vector = vectors[chunk.id] { mirror.updateVector(chunk, vector: vector) }
                }
            }
            self.advance(to: rev)
        }
    }

    public func counts() async throws -> (documents: Int, chunks: Int) {
        try await pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM knowledge_documents") ?? 0, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM knowledge_chunks") ?? 0)
        }
    }

    // MARK: - Rows

    static func chunk(_ row: Row) throws -> KnowledgeChunk {
        let metadata = (try? JSONValue.parse(row["metadata"] as String))?.objectValue ?? [:]
        return KnowledgeChunk(
            id: row["id"], campaignID: row["campaign_id"], domain: KnowledgeDomain(rawValue: row["domain"]) ?? .lore,
            sourceID: row["source_id"], title: row["title"], headingPath: strings(row["heading_path"]), aliases: strings(row["aliases"]),
            text: row["text"], contentHash: row["content_hash"], metadata: metadata,
            visibility: Visibility(rawValue: row["visibility"]) ?? .gm,
            createdAt: Date(timeIntervalSince1970: row["created_at"]),
            expiresAt: (row["expires_at"] as Double?).map { Date(timeIntervalSince1970: $0) },
            sessionNumber: row["session_number"], ordinal: row["ordinal"], version: row["version"], pinned: row["pinned"]
        )
    }

    static func strings(_ text: String) -> [String] {
        guard case .array(let values)? = try? JSONValue.parse(text) else { return [] }
        return values.compactMap(\.stringValue)
    }

    static func blob(_ vector: [Float]) -> Data {
        vector.withUnsafeBufferPointer { Data(buffer: $0) }
    }

    static func floats(_ data: Data?) -> [Float] {
        guard let data, data.count % 4 == 0 else { return [] }
        return data.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self)) }
    }
}
