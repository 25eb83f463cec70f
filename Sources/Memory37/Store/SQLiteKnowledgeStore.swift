import Foundation
public import GRDB
import ServiceKit
import Synchronization

/// The embedded default: chunks in SQLite, text through FTS5 with `bm25()` (title and aliases
/// weighted 5, text 1, Porter stemming), vectors as float32 blobs mirrored into an in-process
/// ``VectorIndex`` at start-up and kept in step with every write.
public final class SQLiteKnowledgeStore: KnowledgeStore {
    public let kind = "sqlite"
    let pool: DatabasePool
    private let vectors: Mutex<VectorIndex>

    public init(pool: DatabasePool, dimensions: Int) {
        self.pool = pool
        self.vectors = Mutex(VectorIndex(dimensions: dimensions))
    }

    static let columns = "id, campaign_id, domain, source_id, ordinal, title, heading_path, aliases, text, content_hash, metadata, visibility, created_at, expires_at, session_number"

    public func prepare() async throws {
        let dimensions = vectors.withLock { $0.dimensions }
        let index = try await pool.read { db in
            var index = VectorIndex(dimensions: dimensions)
            let rows = try Row.fetchCursor(db, sql: "SELECT \(Self.columns), embedding FROM knowledge_chunks")
            while let row = try rows.next() {
                let vector = Self.floats(row["embedding"])
                // Vectors of another length belong to another model: `rpgbot reembed` redoes them.
                guard vector.count == dimensions else { continue }
                index.upsert(try Self.chunk(row), vector: vector)
            }
            return index
        }
        vectors.withLock { $0 = index }
    }

    public func documents(campaignID: String?) async throws -> [StoredDocument] {
        try await documents(campaignID: campaignID, only: nil)
    }


    public func documents(campaignID: String?, sourceIDs: [String]) async throws -> [StoredDocument] {
        sourceIDs.isEmpty ? [] : try await documents(campaignID: campaignID, only: sourceIDs)
    }

    /// The scope's documents, or only those named.
    private func documents(campaignID: String?, only sourceIDs: [String]?) async throws -> [StoredDocument] {
        var sql = "SELECT source_id, domain, title, content_hash FROM knowledge_documents WHERE scope = ?"
        var arguments: StatementArguments = [campaignID ?? ""]
        if let sourceIDs {
            sql += " AND source_id IN (\(sourceIDs.map { _ in "?" }.joined(separator: ",")))"
            arguments += StatementArguments(sourceIDs)
        }
        let query = sql + " ORDER BY source_id"
        let values = arguments
        return try await pool.read { db in
            try Row.fetchAll(db, sql: query, arguments: values).map { row in
                StoredDocument(sourceID: row["source_id"], campaignID: campaignID, domain: KnowledgeDomain(rawValue: row["domain"]) ?? .lore, title: row["title"], contentHash: row["content_hash"])
            }
        }
    }

    public func replace(_ documents: [(document: StoredDocument, chunks: [EmbeddedChunk])]) async throws {
        let removed = try await pool.write { db -> [String] in
            var removed: [String] = []
            for (document, chunks) in documents {
                removed += try Self.write(document, chunks: chunks, db: db)
            }
            return removed
        }
        vectors.withLock { index in
            index.remove(Set(removed))
            for (_, chunks) in documents {
                for embedded in chunks where embedded.vector.count == index.dimensions {
                    index.upsert(embedded.chunk, vector: embedded.vector)
                }
            }
        }
    }

    /// Replaces one document's rows in the caller's transaction; returns the chunk ids removed.
    static func write(_ document: StoredDocument, chunks: [EmbeddedChunk], db: GRDB.Database) throws -> [String] {
        let removed = try deleteDocument(scope: document.campaignID ?? "", sourceID: document.sourceID, db: db)
        try db.execute(
            sql: "INSERT INTO knowledge_documents (scope, source_id, domain, title, content_hash, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: [document.campaignID ?? "", document.sourceID, document.domain.rawValue, document.title, document.contentHash, Date().timeIntervalSince1970]
        )
        let insertChunk = try db.cachedStatement(sql: """
            INSERT INTO knowledge_chunks (id, scope, campaign_id, domain, source_id, ordinal, title, heading_path, aliases, text,
                content_hash, metadata, visibility, created_at, expires_at, session_number, embedding, embedding_model)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let insertText = try db.cachedStatement(sql: "INSERT INTO knowledge_fts (rowid, title, aliases, text) VALUES (?, ?, ?, ?)")
        let insertName = try db.cachedStatement(sql: "INSERT INTO knowledge_names (name, chunk_rowid) VALUES (?, ?)")
        for embedded in chunks {
            let chunk = embedded.chunk
            try insertChunk.execute(arguments: [
                chunk.id, chunk.campaignID ?? "", chunk.campaignID, chunk.domain.rawValue, chunk.sourceID, chunk.ordinal, chunk.title,
                JSONValue.array(chunk.headingPath.map { .string($0) }).canonicalText, JSONValue.array(chunk.aliases.map { .string($0) }).canonicalText,
                chunk.text, chunk.contentHash, JSONValue.object(chunk.metadata).canonicalText, chunk.visibility.rawValue,
                chunk.createdAt.timeIntervalSince1970, chunk.expiresAt?.timeIntervalSince1970, chunk.sessionNumber,
                blob(embedded.vector), embedded.model,
            ])
            let rowid = db.lastInsertedRowID
            try insertText.execute(arguments: [
                rowid, normalized(chunk.title), normalized(chunk.aliases.joined(separator: " ")), normalized((chunk.headingPath + [chunk.text]).joined(separator: " ")),
            ])
            for name in Set(([chunk.title] + chunk.aliases).map { $0.lowercased() }) where !name.isEmpty {
                try insertName.execute(arguments: [name, rowid])
            }
        }
        return removed
    }

    /// Deletes a document's rows in the caller's transaction; returns the chunk ids removed.
    static func deleteDocument(scope: String, sourceID: String, db: GRDB.Database) throws -> [String] {
        let rows = try Row.fetchAll(db, sql: "SELECT rowid, id FROM knowledge_chunks WHERE scope = ? AND source_id = ?", arguments: [scope, sourceID])
        for row in rows {
            let rowid: Int64 = row["rowid"]
            try db.execute(sql: "DELETE FROM knowledge_fts WHERE rowid = ?", arguments: [rowid])
            try db.execute(sql: "DELETE FROM knowledge_names WHERE chunk_rowid = ?", arguments: [rowid])
        }
        try db.execute(sql: "DELETE FROM knowledge_chunks WHERE scope = ? AND source_id = ?", arguments: [scope, sourceID])
        try db.execute(sql: "DELETE FROM knowledge_documents WHERE scope = ? AND source_id = ?", arguments: [scope, sourceID])
        return rows.map { $0["id"] }
    }

    public func delete(campaignID: String?, sourceIDs: [String]) async throws {
        let removed = try await pool.write { db in
            try sourceIDs.flatMap { try Self.deleteDocument(scope: campaignID ?? "", sourceID: $0, db: db) }
        }
        vectors.withLock { $0.remove(Set(removed)) }
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
        return (sql, arguments)
    }

    static func normalized(_ text: String) -> String {
        TextTokenizer.terms(text).joined(separator: " ")
    }

    /// The query's words, each quoted, any of them: FTS5 syntax characters in user text are
    /// never interpreted. Very common words are left out (``CommonTermPolicy``).
    static func matchExpression(_ query: String, total: Int, db: GRDB.Database) throws -> String? {
        var seen = Set<String>()
        let words = TextTokenizer.terms(query).filter { seen.insert($0).inserted }.prefix(32)
        guard !words.isEmpty else { return nil }
        let counts = try Row.fetchAll(db, sql: "SELECT term, doc FROM knowledge_fts_vocabulary WHERE term IN (\(words.map { _ in "?" }.joined(separator: ",")))", arguments: StatementArguments(Array(words)))
        let frequencies = counts.map { (term: $0["term"] as String, documents: $0["doc"] as Int) }
        guard !frequencies.isEmpty else { return nil }
        let selection = CommonTermPolicy.select(frequencies, total: total)
        return selection.terms.map { "\"\($0)\"" }.joined(separator: selection.conjunctive ? " AND " : " OR ")
    }

    public func textSearch(_ query: String, filter: SearchFilter, limit: Int) async throws -> [String] {
        let (clause, filterArguments) = Self.whereClause(filter)
        // The mirrored matrix holds a row per chunk: its size is the corpus size, for free.
        let total = vectors.withLock { $0.count }
        return try await pool.read { db in
            guard let expression = try Self.matchExpression(query, total: total, db: db) else { return [] }
            var arguments: StatementArguments = [expression]
            arguments += filterArguments
            arguments += [limit]
            return try String.fetchAll(db, sql: """
                SELECT c.id FROM knowledge_fts f JOIN knowledge_chunks c ON c.rowid = f.rowid
                WHERE knowledge_fts MATCH ? AND \(clause)
                ORDER BY bm25(knowledge_fts, 5.0, 5.0, 1.0), c.id LIMIT ?
                """, arguments: arguments)
        }
    }

    public func vectorSearch(_ vector: [Float], filter: SearchFilter, limit: Int) async throws -> [String] {
        vectors.withLock { $0.search(vector, filter: filter, limit: limit) }
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
                WHERE c.source_id IN (\(sourceIDs.map { _ in "?" }.joined(separator: ","))) AND \(clause) ORDER BY c.source_id, c.ordinal
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
        }
        let updated = try await chunks(ids: Array(vectors.keys))
        self.vectors.withLock { index in
            for chunk in updated {
                if let vector = vectors[chunk.id], vector.count == index.dimensions { index.upsert(chunk, vector: vector) }
            }
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
            sessionNumber: row["session_number"], ordinal: row["ordinal"]
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
