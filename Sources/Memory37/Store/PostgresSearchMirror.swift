import Foundation
import Logging
import PostgresNIO
import ServiceKit

/// The PostgreSQL store's in-process copy (`RPGBOT_KNOWLEDGE_SEARCH=in-process`): every chunk
/// with its vector in an ``InMemoryKnowledgeStore`` — the same `TextIndex` and `VectorIndex`
/// the SQLite store ranks with — loaded at start-up and kept current from the database's
/// change log, so every node answers reads from memory while PostgreSQL stays the one durable,
/// shared store.
///
/// Every write transaction takes the next revision from `knowledge_revision` (a one-row
/// counter whose row lock orders writers by commit) and logs the documents it changed under
/// it in `knowledge_changes`. Before a read, a node fetches the changes after the revision it
/// has and reloads those documents as they are now — one round trip; its own writes are
/// applied directly. Old log entries are trimmed by writers; a node that fell behind the trim
/// loads everything again.
actor PostgresSearchMirror {
    let replica: InMemoryKnowledgeStore
    private let client: PostgresClient
    private let logger: Logger
    private var revision: Int64 = 0
    /// The registry counter the replica's catalog reflects (-1: not loaded yet).
    private var catalogRevision: Int64 = -1
    private var needsFullLoad = true
    private var looksStarted = 0
    private var lookInFlight: (number: Int, task: Task<Void, any Error>)?

    init(client: PostgresClient, dimensions: Int, logger: Logger) {
        self.client = client
        self.logger = logger
        self.replica = InMemoryKnowledgeStore(dimensions: dimensions)
    }

    /// Loads every chunk from one snapshot (again, when called after start-up).
    func load() async throws {
        needsFullLoad = true
        try await catchUp()
    }

    /// Brings the copy up to date before a read: once per ``ReadScope`` when there is one.
    nonisolated func synchronize() async throws {
        guard let scope = ReadScope.current else { return try await catchUp() }
        try await scope.synchronization(of: self) { Task { try await self.catchUp() } }.value
    }

    /// `body` over the copy, brought up to date first.
    nonisolated func reading<T>(_ body: (InMemoryKnowledgeStore) async throws -> T) async throws -> T {
        try await synchronize()
        return try await body(replica)
    }

    /// Applies every change committed before this call. Looks at the log run one at a time
    /// (two overlapping looks could apply an older state of a document after a newer one);
    /// callers that arrive while a look is under way share the next one, which starts after it.
    func catchUp() async throws {
        let needed = looksStarted + 1
        while true {
            if let (number, task) = lookInFlight {
                let result = await task.result
                if number >= needed { return try result.get() }
                continue
            }
            looksStarted += 1
            let number = looksStarted
            let task = Task { try await self.look(number) }
            lookInFlight = (number, task)
            return try await task.value
        }
    }

    private func look(_ number: Int) async throws {
        defer { if lookInFlight?.number == number { lookInFlight = nil } }
        if needsFullLoad { return try await loadAll() }
        var changed: [KeyPair] = []
        var latest = revision
        var trimmedThrough: Int64 = 0
        var catalogNow: Int64 = 0
        let rows = try await client.query("""
            SELECT r.trimmed_through, r.catalog_rev, c.rev, c.scope, c.version, c.source_id FROM knowledge_revision r
            LEFT JOIN knowledge_changes c ON c.rev > \(revision) ORDER BY c.rev
            """, logger: logger)
        for try await (trimmed, catalogRev, rev, scope, version, source) in rows.decode((Int64, Int64, Int64?, String?, String?, String?).self) {
            trimmedThrough = trimmed
            catalogNow = catalogRev
            if let rev, let scope, let version, let source {
                changed.append(KeyPair(scope: scope, version: version, source: source))
                latest = max(latest, rev)
            }
        }
        if catalogNow != catalogRevision { try await loadCatalog() }
        // Changes this node needs were trimmed away: start again from a snapshot.
        if trimmedThrough > revision { return try await loadAll() }
        guard !changed.isEmpty else { return }
        try await reload(changed)
        revision = max(revision, latest)
    }

    /// Rows are added to the replacement in batches as they arrive, so the load never holds
    /// every row and the whole copy at once.
    private func loadAll() async throws {
        let replica = self.replica
        let (replacement, loadedRevision) = try await client.withTransaction(logger: logger) { connection -> (InMemoryKnowledgeStore.Replacement, Int64) in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: logger)
            var current: Int64 = 0
            for try await value in try await connection.query("SELECT rev FROM knowledge_revision", logger: logger).decode(Int64.self) { current = value }
            let rows = try await connection.query("SELECT \(unescaped: Self.columns) FROM knowledge_chunks c ORDER BY c.scope, c.version, c.source_id, c.ordinal", logger: logger)
            var replacement = replica.makeReplacement()
            var batch = DocumentBatch()
            for try await row in rows {
                if let full = try batch.add(row, flushingAt: Self.loadBatch) { await InMemoryKnowledgeStore.add(full, to: &replacement) }
            }
            await InMemoryKnowledgeStore.add(batch.finish(), to: &replacement)
            return (replacement, current)
        }
        replica.install(replacement)
        revision = loadedRevision
        needsFullLoad = false
        try await loadCatalog()
    }

    /// Reads the version registry into the replica.
    private func loadCatalog() async throws {
        let (rev, catalog) = try await PostgresKnowledgeStore.loadCatalog(client: client, logger: logger)
        replica.installCatalog(catalog)
        catalogRevision = rev
    }

    /// After this node changed the registry itself under `rev`.
    func catalogChanged(rev: Int64, _ catalog: VersionCatalog) {
        guard rev > catalogRevision else { return }
        replica.installCatalog(catalog)
        catalogRevision = rev
    }

    /// Chunks tokenised together while loading.
    static let loadBatch = 4_096

    /// After this node's own write committed under `rev`: the new state goes in directly
    /// (nothing is read back).
    func applied(rev: Int64, _ change: (InMemoryKnowledgeStore) throws -> Void) rethrows {
        try change(replica)
        // With no other writer in between, the log holds nothing this node lacks up to `rev`;
        // otherwise the next look reads this revision too and reloads the same documents.
        if rev == revision + 1 { revision = rev }
    }

    private func reload(_ changed: [KeyPair]) async throws {
        let unique = Array(Set(changed)).sorted { ($0.scope, $0.version, $0.source) < ($1.scope, $1.version, $1.source) }
        let rows = try await client.query("""
            SELECT \(unescaped: Self.columns) FROM knowledge_chunks c
            JOIN unnest(\(unique.map(\.scope))::text[], \(unique.map(\.version))::text[], \(unique.map(\.source))::text[]) AS d(scope, version, source_id)
              ON c.scope = d.scope AND c.version = d.version AND c.source_id = d.source_id
            ORDER BY c.scope, c.version, c.source_id, c.ordinal
            """, logger: logger)
        let documents = try await Self.documents(rows)
        let present = Set(documents.map { KeyPair(scope: $0.document.campaignID ?? "", version: $0.document.version, source: $0.document.sourceID) })
        let deleted = unique.filter { !present.contains($0) }.map { (version: KnowledgeVersionRef(campaignID: $0.scope.isEmpty ? nil : $0.scope, version: $0.version), sourceID: $0.source) }
        replica.apply(replaced: documents, deleted: deleted)
    }

    private struct KeyPair: Hashable {
        var scope: String
        var version: String
        var source: String
    }

    /// The store's chunk columns, then the vector and its model (cells 17 and 18).
    static let columns = (PostgresKnowledgeStore.columns.components(separatedBy: ", ") + ["embedding", "embedding_model"]).map { "c." + $0 }.joined(separator: ", ")

    /// Rows ordered by document, grouped into documents.
    private static func documents(_ rows: PostgresRowSequence) async throws -> [(document: StoredDocument, chunks: [EmbeddedChunk])] {
        var batch = DocumentBatch()
        var documents: [(document: StoredDocument, chunks: [EmbeddedChunk])] = []
        for try await row in rows {
            if let full = try batch.add(row, flushingAt: .max) { documents += full }
        }
        return documents + batch.finish()
    }

    /// Groups rows ordered by document into documents. The copy serves reads only, so a
    /// document's record is made from its chunks (ingestion asks the database what is stored).
    struct DocumentBatch {
        private var documents: [(document: StoredDocument, chunks: [EmbeddedChunk])] = []
        private var chunkCount = 0

        /// Adds a row; returns the complete documents gathered so far once they hold `limit`
        /// chunks (the document being read stays for the next batch).
        mutating func add(_ row: PostgresRow, flushingAt limit: Int) throws -> [(document: StoredDocument, chunks: [EmbeddedChunk])]? {
            let cells = row.makeRandomAccess()
            let chunk = try PostgresKnowledgeStore.chunk(cells)
            let embedded = EmbeddedChunk(chunk: chunk, vector: try PostgresSearchMirror.vector(cells[17]), model: try cells[18].decode(String.self))
            if let last = documents.last?.document, last.sourceID == chunk.sourceID, last.campaignID == chunk.campaignID, last.version == chunk.version {
                documents[documents.count - 1].chunks.append(embedded)
                chunkCount += 1
                return nil
            }
            var full: [(document: StoredDocument, chunks: [EmbeddedChunk])]?
            if chunkCount >= limit {
                full = documents
                documents = []
                chunkCount = 0
            }
            documents.append((StoredDocument(sourceID: chunk.sourceID, campaignID: chunk.campaignID, domain: chunk.domain, title: chunk.title, contentHash: chunk.contentHash, version: chunk.version), [embedded]))
            chunkCount += 1
            return full
        }

        mutating func finish() -> [(document: StoredDocument, chunks: [EmbeddedChunk])] {
            defer { documents = [] }
            return documents
        }
    }

    /// A pgvector value: its binary form (`uint16` dimensions, `uint16` unused, then big-endian
    /// float4s — parsing the text form took half of a 100,000-chunk load), or the text form
    /// `[0.1,0.2,…]` should the server send that.
    static func vector(_ cell: PostgresCell) throws -> [Float] {
        guard cell.format == .binary else { return parseVector(try cell.decode(String.self)) }
        guard var bytes = cell.bytes, let count = bytes.readInteger(as: UInt16.self), bytes.readInteger(as: UInt16.self) != nil,
              bytes.readableBytes == Int(count) * 4 else { return [] }
        var vector = [Float]()
        vector.reserveCapacity(Int(count))
        for _ in 0..<count { vector.append(Float(bitPattern: bytes.readInteger(as: UInt32.self) ?? 0)) }
        return vector
    }

    static func parseVector(_ text: String) -> [Float] {
        text.utf8.count > 2 ? text.dropFirst().dropLast().split(separator: ",").compactMap { Float($0) } : []
    }
}
