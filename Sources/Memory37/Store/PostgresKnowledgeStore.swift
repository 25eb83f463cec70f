import JSONValues
import Foundation
import Logging
public import PostgresNIO
import ServiceKit

/// The scale-out store: chunks in PostgreSQL, text through a weighted `tsvector` with a GIN
/// index (title and aliases weight A, text D), vectors through pgvector with an HNSW index
/// (cosine). Filtered vector queries use pgvector's iterative index scans, so a query limited
/// to one campaign and domain still returns k results.
public struct PostgresKnowledgeStore: KnowledgeStore {
    public let kind = "postgres"
    let client: PostgresClient
    let dimensions: Int
    let logger: Logger
    /// With in-process search: the indexes every query is answered from.
    let mirror: PostgresSearchMirror?

    /// Revisions of the change log kept: a node further behind than this loads everything again.
    let changeLogRetention: Int64
    /// Without in-process search: the registry as of its counter, read again when it moves.
    let catalogCache = ReadWriteLocked<(rev: Int64, catalog: VersionCatalog)?>(nil)

    /// - Parameters:
    ///   - inProcessSearch: answer reads from an in-process copy kept current from the change
    ///     log, instead of querying the database.
    ///   - changeLogRetention: revisions of the change log kept (the default covers any node
    ///     that reads at least once while 10,000 write transactions commit).
    public init(client: PostgresClient, dimensions: Int, logger: Logger, inProcessSearch: Bool = true, changeLogRetention: Int = 10_000) {
        self.client = client
        self.dimensions = dimensions
        self.logger = logger
        self.changeLogRetention = Int64(max(1, changeLogRetention))
        self.mirror = inProcessSearch ? PostgresSearchMirror(client: client, dimensions: dimensions, logger: logger) : nil
    }

    /// With in-process search, the copy reads are answered from: the last state this node saw
    /// stays searchable when the database goes away.
    public var inMemoryCopy: InMemoryKnowledgeStore? { mirror?.replica }

    public func refresh() async throws {
        try await mirror?.catchUp()
    }

    var indexName: String { "knowledge_chunks_embedding_\(dimensions)" }

    /// The HNSW index covers the vectors of the configured length (a partial expression index:
    /// the column itself holds any length, so a model change never breaks a write). Nodes that
    /// search in process never query it, and keeping it current is most of a write's cost, so
    /// only a node that searches in the database creates it.
    public func prepare() async throws {
        if mirror == nil {
            try await client.query(PostgresQuery(unsafeSQL: """
                CREATE INDEX IF NOT EXISTS \(indexName) ON knowledge_chunks
                USING hnsw ((embedding::vector(\(dimensions))) vector_cosine_ops) WHERE vector_dims(embedding) = \(dimensions)
                """), logger: logger)
        }
        try await mirror?.load()
    }

    /// Takes the next revision (the counter's row stays locked until commit, which orders
    /// writers), logs the documents this transaction changes under it, and trims the entries
    /// that fell out of the retention.
    func logChanges(scopes: [String], versions: [String], sources: [String], connection: PostgresConnection) async throws -> Int64 {
        var revision: Int64 = 0
        let rows = try await connection.query("""
            UPDATE knowledge_revision SET rev = rev + 1, trimmed_through = GREATEST(trimmed_through, rev + 1 - \(changeLogRetention))
            WHERE id = 1 RETURNING rev
            """, logger: logger)
        for try await value in rows.decode(Int64.self) { revision = value }
        try await connection.query("""
            WITH trimmed AS (DELETE FROM knowledge_changes WHERE rev <= \(revision - changeLogRetention))
            INSERT INTO knowledge_changes (rev, scope, version, source_id)
            SELECT \(revision), scope, version, source_id FROM unnest(\(scopes)::text[], \(versions)::text[], \(sources)::text[]) AS d(scope, version, source_id)
            """, logger: logger)
        return revision
    }

    /// Deletes documents (scope, version and source id side by side) and their chunks in the
    /// caller's transaction.
    func deleteDocuments(scopes: [String], versions: [String], sources: [String], connection: PostgresConnection) async throws {
        try await connection.query("""
            DELETE FROM knowledge_chunks c USING unnest(\(scopes)::text[], \(versions)::text[], \(sources)::text[]) AS d(scope, version, source_id)
            WHERE c.scope = d.scope AND c.version = d.version AND c.source_id = d.source_id
            """, logger: logger)
        try await connection.query("""
            DELETE FROM knowledge_documents k USING unnest(\(scopes)::text[], \(versions)::text[], \(sources)::text[]) AS d(scope, version, source_id)
            WHERE k.scope = d.scope AND k.version = d.version AND k.source_id = d.source_id
            """, logger: logger)
    }

    public func documents(campaignID: String?, version: String?) async throws -> [StoredDocument] {
        try await documents("""
            SELECT source_id, domain, title, content_hash, version FROM knowledge_documents
            WHERE scope = \(campaignID ?? "") AND (\(version)::text IS NULL OR version = \(version)) ORDER BY source_id, version
            """, campaignID: campaignID)
    }

    /// One transaction; the chunks of all documents go in with one multi-row INSERT from
    /// arrays (`unnest`), so a batch costs a handful of round trips, not one per chunk.
    public func hasDocuments(campaignID: String) async throws -> Bool {
        for try await exists in try await client.query("SELECT EXISTS (SELECT 1 FROM knowledge_documents WHERE scope = \(campaignID))", logger: logger).decode(Bool.self) {
            return exists
        }
        return false
    }

    public func documents(campaignID: String?, version: String?, sourceIDs: [String]) async throws -> [StoredDocument] {
        try await documents("""
            SELECT source_id, domain, title, content_hash, version FROM knowledge_documents
            WHERE scope = \(campaignID ?? "") AND (\(version)::text IS NULL OR version = \(version)) AND source_id = ANY(\(sourceIDs)) ORDER BY source_id, version
            """, campaignID: campaignID)
    }

    private func documents(_ query: PostgresQuery, campaignID: String?) async throws -> [StoredDocument] {
        var documents: [StoredDocument] = []
        for try await (source, domain, title, hash, version) in try await client.query(query, logger: logger).decode((String, String, String, String, String).self) {
            documents.append(StoredDocument(sourceID: source, campaignID: campaignID, domain: KnowledgeDomain(rawValue: domain) ?? .lore, title: title, contentHash: hash, version: version))
        }
        return documents
    }

    public func replace(_ documents: [(document: StoredDocument, chunks: [EmbeddedChunk])]) async throws {
        guard !documents.isEmpty else { return }
        let scopes = documents.map { $0.document.campaignID ?? "" }
        let versions = documents.map(\.document.version)
        let sources = documents.map(\.document.sourceID)
        let chunks = documents.flatMap(\.chunks)
        func column<T>(_ value: (EmbeddedChunk) -> T) -> [T] { chunks.map(value) }
        let now = Date().timeIntervalSince1970
        let revision = try await client.withTransaction(logger: logger) { connection -> Int64 in
            let revision = try await logChanges(scopes: scopes, versions: versions, sources: sources, connection: connection)
            try await deleteDocuments(scopes: scopes, versions: versions, sources: sources, connection: connection)
            try await connection.query("""
                INSERT INTO knowledge_documents (scope, version, source_id, domain, title, content_hash, updated_at)
                SELECT scope, version, source_id, domain, title, content_hash, \(now)
                FROM unnest(\(scopes)::text[], \(versions)::text[], \(sources)::text[], \(documents.map(\.document.domain.rawValue))::text[],
                            \(documents.map(\.document.title))::text[], \(documents.map(\.document.contentHash))::text[])
                     AS d(scope, version, source_id, domain, title, content_hash)
                """, logger: logger)
            guard !chunks.isEmpty else { return revision }
            // Arrays cannot hold NULL here: '' , -1 and Int32.min stand for "none" and are mapped back.
            try await connection.query("""
                INSERT INTO knowledge_chunks (id, scope, campaign_id, domain, source_id, ordinal, title, heading_path, aliases, names, text,
                    content_hash, metadata, visibility, created_at, expires_at, session_number, search, embedding, embedding_model, version, pinned)
                SELECT id, scope, NULLIF(scope, ''), domain, source_id, ordinal, title, heading_path, aliases,
                    string_to_array(names, E'\\n'), text, content_hash, metadata, visibility, created_at, NULLIF(expires_at, -1),
                    NULLIF(session_number, -2147483648),
                    setweight(to_tsvector('english', weighted), 'A') || setweight(to_tsvector('english', body), 'D'),
                    embedding::vector, embedding_model, version, pinned
                FROM unnest(
                    \(column { $0.chunk.id })::text[], \(column { $0.chunk.campaignID ?? "" })::text[], \(column { $0.chunk.domain.rawValue })::text[],
                    \(column { $0.chunk.sourceID })::text[], \(column { $0.chunk.ordinal })::int[], \(column { $0.chunk.title })::text[],
                    \(column { JSONValue.array($0.chunk.headingPath.map { .string($0) }).canonicalText })::text[],
                    \(column { JSONValue.array($0.chunk.aliases.map { .string($0) }).canonicalText })::text[],
                    \(column { Array(Set(([$0.chunk.title] + $0.chunk.aliases).map { $0.lowercased() }.filter { !$0.isEmpty })).sorted().joined(separator: "\n") })::text[],
                    \(column { $0.chunk.text })::text[], \(column { $0.chunk.contentHash })::text[],
                    \(column { JSONValue.object($0.chunk.metadata).canonicalText })::text[], \(column { $0.chunk.visibility.rawValue })::text[],
                    \(column { $0.chunk.createdAt.timeIntervalSince1970 })::float8[], \(column { $0.chunk.expiresAt?.timeIntervalSince1970 ?? -1 })::float8[],
                    \(column { $0.chunk.sessionNumber ?? Int(Int32.min) })::int[],
                    \(column { ([$0.chunk.title] + $0.chunk.aliases).joined(separator: " ") })::text[],
                    \(column { ($0.chunk.headingPath + [$0.chunk.text]).joined(separator: "\n") })::text[],
                    \(column { Self.vectorLiteral($0.vector) })::text[], \(column { $0.model })::text[],
                    \(column { $0.chunk.version })::text[], \(column { $0.chunk.pinned })::bool[]
                ) AS c(id, scope, domain, source_id, ordinal, title, heading_path, aliases, names, text, content_hash, metadata,
                       visibility, created_at, expires_at, session_number, weighted, body, embedding, embedding_model, version, pinned)
                """, logger: logger)
            return revision
        }
        await mirror?.applied(rev: revision) { $0.apply(replaced: documents, deleted: []) }
    }

    public func delete(campaignID: String?, version: String?, sourceIDs: [String]) async throws {
        let scope = campaignID ?? ""
        guard !sourceIDs.isEmpty else { return }
        let (revision, deleted) = try await client.withTransaction(logger: logger) { connection -> (Int64, [(version: KnowledgeVersionRef, sourceID: String)]) in
            var deleted: [(version: KnowledgeVersionRef, sourceID: String)] = []
            for try await (deletedVersion, source) in try await connection.query("""
                DELETE FROM knowledge_documents WHERE scope = \(scope) AND (\(version)::text IS NULL OR version = \(version)) AND source_id = ANY(\(sourceIDs))
                RETURNING version, source_id
                """, logger: logger).decode((String, String).self) {
                deleted.append((KnowledgeVersionRef(campaignID: campaignID, version: deletedVersion), source))
            }
            try await connection.query("""
                DELETE FROM knowledge_chunks c USING unnest(\(deleted.map(\.version.version))::text[], \(deleted.map(\.sourceID))::text[]) AS d(version, source_id)
                WHERE c.scope = \(scope) AND c.version = d.version AND c.source_id = d.source_id
                """, logger: logger)
            let revision = try await logChanges(scopes: deleted.map { _ in scope }, versions: deleted.map(\.version.version), sources: deleted.map(\.sourceID), connection: connection)
            return (revision, deleted)
        }
        await mirror?.applied(rev: revision) { $0.apply(replaced: [], deleted: deleted) }
    }

    /// The filter as SQL, its values bound through `bindings`.
    static func whereClause(_ filter: SearchFilter, _ bindings: inout PostgresBindings) -> String {
        var sql = "(campaign_id IS NULL OR campaign_id = $\(bindings.count + 1)) AND (expires_at IS NULL OR expires_at > $\(bindings.count + 2))"
        bindings.append(filter.campaignID)
        bindings.append(filter.now.timeIntervalSince1970)
        if !filter.includeGM { sql += " AND visibility = 'players'" }
        if !filter.domains.isEmpty {
            sql += " AND domain = ANY($\(bindings.count + 1))"
            bindings.append(filter.domains.map(\.rawValue).sorted())
        }
        if let versions = filter.versions {
            // The versions the read sees, each with its lifetime cutoff, as three arrays.
            let sorted = versions.sorted { $0.key.description < $1.key.description }
            let first = bindings.count + 1
            sql += """
                 AND EXISTS (SELECT 1 FROM unnest($\(first)::text[], $\(first + 1)::text[], $\(first + 2)::float8[]) AS v(scope, version, created_after)
                 WHERE v.scope = knowledge_chunks.scope AND v.version = knowledge_chunks.version AND (knowledge_chunks.pinned OR knowledge_chunks.created_at > v.created_after))
                """
            bindings.append(sorted.map(\.key.scope))
            bindings.append(sorted.map(\.key.version))
            bindings.append(sorted.map { $0.value.isFinite ? $0.value : -1e300 })
        }
        return sql
    }

    public func textSearch(_ query: String, filter: SearchFilter, limit: Int) async throws -> [String] {
        if let mirror { return try await mirror.reading { try await $0.textSearch(query, filter: filter, limit: limit) } }
        let words = TextTokenizer.words(query).filter { !TextTokenizer.stopwords.contains($0) }
        guard !words.isEmpty else { return [] }
        var bindings = PostgresBindings()
        bindings.append(Array(Set(words)).sorted().prefix(32).joined(separator: " | "))
        let clause = Self.whereClause(filter, &bindings)
        bindings.append(limit)
        let sql = """
            SELECT id FROM knowledge_chunks, to_tsquery('english', $1) AS q
            WHERE search @@ q AND \(clause)
            ORDER BY ts_rank(search, q) DESC, id LIMIT $\(bindings.count)
            """
        return try await ids(PostgresQuery(unsafeSQL: sql, binds: bindings))
    }

    public func vectorSearch(_ vector: [Float], filter: SearchFilter, limit: Int) async throws -> [String] {
        if let mirror { return try await mirror.reading { try await $0.vectorSearch(vector, filter: filter, limit: limit) } }
        guard vector.count == dimensions else { return [] }
        var bindings = PostgresBindings()
        bindings.append(Self.vectorLiteral(vector))
        let clause = Self.whereClause(filter, &bindings)
        bindings.append(limit)
        let sql = """
            SELECT id FROM (
                SELECT id, embedding::vector(\(dimensions)) <=> $1::vector(\(dimensions)) AS distance FROM knowledge_chunks
                WHERE vector_dims(embedding) = \(dimensions) AND \(clause)
                ORDER BY embedding::vector(\(dimensions)) <=> $1::vector(\(dimensions)) LIMIT $\(bindings.count)
            ) AS nearest ORDER BY distance, id
            """
        return try await client.withTransaction(logger: logger) { connection in
            // Keep scanning the graph until enough rows pass the filter (pgvector 0.8).
            try await connection.query("SET LOCAL hnsw.iterative_scan = relaxed_order", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "SET LOCAL hnsw.ef_search = \(max(40, min(1000, limit * 2)))"), logger: logger)
            var result: [String] = []
            for try await id in try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger).decode(String.self) {
                result.append(id)
            }
            return result
        }
    }

    static let columns = "id, campaign_id, domain, source_id, ordinal, title, heading_path, aliases, text, content_hash, metadata, visibility, created_at, expires_at, session_number, version, pinned"

    public func chunks(ids: [String]) async throws -> [KnowledgeChunk] {
        guard !ids.isEmpty else { return [] }
        if let mirror { return try await mirror.reading { try await $0.chunks(ids: ids) } }
        var bindings = PostgresBindings()
        bindings.append(ids)
        let found = try await chunks(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM knowledge_chunks WHERE id = ANY($1)", binds: bindings))
        let byID = Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return ids.compactMap { byID[$0] }
    }

    public func chunks(named name: String, filter: SearchFilter) async throws -> [KnowledgeChunk] {
        if let mirror { return try await mirror.reading { try await $0.chunks(named: name, filter: filter) } }
        var bindings = PostgresBindings()
        bindings.append([name.lowercased()])
        let clause = Self.whereClause(filter, &bindings)
        return try await chunks(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM knowledge_chunks WHERE names @> $1 AND \(clause) ORDER BY source_id, ordinal", binds: bindings))
    }

    public func chunks(sourceIDs: [String], filter: SearchFilter) async throws -> [KnowledgeChunk] {
        if let mirror { return try await mirror.reading { try await $0.chunks(sourceIDs: sourceIDs, filter: filter) } }
        var bindings = PostgresBindings()
        bindings.append(sourceIDs)
        let clause = Self.whereClause(filter, &bindings)
        return try await chunks(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM knowledge_chunks WHERE source_id = ANY($1) AND \(clause) ORDER BY source_id, ordinal, id", binds: bindings))
    }

    public func episodes(filter: SearchFilter, fromSession: Int?, toSession: Int?, limit: Int) async throws -> [KnowledgeChunk] {
        if let mirror { return try await mirror.reading { try await $0.episodes(filter: filter, fromSession: fromSession, toSession: toSession, limit: limit) } }
        var episodeFilter = filter
        episodeFilter.domains = [.episode]
        var bindings = PostgresBindings()
        let clause = Self.whereClause(episodeFilter, &bindings)
        bindings.append(fromSession ?? Int(Int32.min))
        bindings.append(toSession ?? Int(Int32.max))
        bindings.append(limit)
        let count = bindings.count
        return try await chunks(PostgresQuery(unsafeSQL: """
            SELECT \(Self.columns) FROM knowledge_chunks WHERE \(clause) AND COALESCE(session_number, 0) BETWEEN $\(count - 2) AND $\(count - 1)
            ORDER BY COALESCE(session_number, 0), source_id, ordinal LIMIT $\(count)
            """, binds: bindings))
    }

    public func embeddingModels() async throws -> [String: Int] {
        var models: [String: Int] = [:]
        for try await (model, count) in try await client.query("SELECT embedding_model, COUNT(*)::bigint FROM knowledge_chunks GROUP BY embedding_model", logger: logger).decode((String, Int64).self) {
            models[model] = Int(count)
        }
        return models
    }

    public func chunksToReembed(model: String, limit: Int) async throws -> [KnowledgeChunk] {
        var bindings = PostgresBindings()
        bindings.append(model)
        bindings.append(limit)
        return try await chunks(PostgresQuery(unsafeSQL: "SELECT \(Self.columns) FROM knowledge_chunks WHERE embedding_model <> $1 ORDER BY id LIMIT $2", binds: bindings))
    }

    public func updateVectors(_ vectors: [String: [Float]], model: String) async throws {
        guard !vectors.isEmpty else { return }
        let ids = Array(vectors.keys)
        let revision = try await client.withTransaction(logger: logger) { connection -> Int64 in
            try await connection.query("""
                UPDATE knowledge_chunks c SET embedding = v.embedding::vector, embedding_model = \(model)
                FROM unnest(\(ids)::text[], \(ids.map { Self.vectorLiteral(vectors[$0] ?? []) })::text[]) AS v(id, embedding)
                WHERE c.id = v.id
                """, logger: logger)
            var scopes: [String] = []
            var versions: [String] = []
            var sources: [String] = []
            for try await (scope, version, source) in try await connection.query("SELECT DISTINCT scope, version, source_id FROM knowledge_chunks WHERE id = ANY(\(ids))", logger: logger).decode((String, String, String).self) {
                scopes.append(scope)
                versions.append(version)
                sources.append(source)
            }
            return try await logChanges(scopes: scopes, versions: versions, sources: sources, connection: connection)
        }
        await mirror?.applied(rev: revision) { $0.setVectors(vectors, model: model) }
    }

    public func counts() async throws -> (documents: Int, chunks: Int) {
        var result = (0, 0)
        for try await (documents, chunks) in try await client.query("SELECT (SELECT COUNT(*) FROM knowledge_documents)::bigint, (SELECT COUNT(*) FROM knowledge_chunks)::bigint", logger: logger).decode((Int64, Int64).self) {
            result = (Int(documents), Int(chunks))
        }
        return result
    }

    // MARK: - Rows

    private func ids(_ query: PostgresQuery) async throws -> [String] {
        var result: [String] = []
        for try await id in try await client.query(query, logger: logger).decode(String.self) { result.append(id) }
        return result
    }

    private func chunks(_ query: PostgresQuery) async throws -> [KnowledgeChunk] {
        var result: [KnowledgeChunk] = []
        for try await row in try await client.query(query, logger: logger) {
            result.append(try Self.chunk(row.makeRandomAccess()))
        }
        return result
    }

    /// A chunk from a row whose first columns are ``columns``.
    static func chunk(_ cells: PostgresRandomAccessRow) throws -> KnowledgeChunk {
        KnowledgeChunk(
            id: try cells[0].decode(String.self), campaignID: try cells[1].decode(String?.self),
            domain: KnowledgeDomain(rawValue: try cells[2].decode(String.self)) ?? .lore, sourceID: try cells[3].decode(String.self),
            title: try cells[5].decode(String.self), headingPath: SQLiteKnowledgeStore.strings(try cells[6].decode(String.self)),
            aliases: SQLiteKnowledgeStore.strings(try cells[7].decode(String.self)), text: try cells[8].decode(String.self),
            contentHash: try cells[9].decode(String.self), metadata: (try? JSONValue.parse(try cells[10].decode(String.self)))?.objectValue ?? [:],
            visibility: Visibility(rawValue: try cells[11].decode(String.self)) ?? .gm,
            createdAt: Date(timeIntervalSince1970: try cells[12].decode(Double.self)),
            expiresAt: try cells[13].decode(Double?.self).map { Date(timeIntervalSince1970: $0) },
            sessionNumber: try cells[14].decode(Int?.self), ordinal: try cells[4].decode(Int.self),
            version: try cells[15].decode(String.self), pinned: try cells[16].decode(Bool.self)
        )
    }

    /// pgvector's text form: `[0.1,0.2,…]`.
    static func vectorLiteral(_ vector: [Float]) -> String {
        "[" + vector.map { $0.isFinite ? "\($0)" : "0" }.joined(separator: ",") + "]"
    }
}
