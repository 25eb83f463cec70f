public import Foundation
public import GRDB
import JSONValues
public import Memory37

/// The graph in the embedded SQLite database: one query per hop, over indexes on both ends of
/// an edge.
public struct SQLiteGraphStore: GraphStore {
    public let kind = "sqlite"
    let pool: DatabasePool

    public init(pool: DatabasePool) {
        self.pool = pool
    }

    public func versions() async throws -> Set<KnowledgeVersionRef> {
        try await pool.read { db in
            Set(try String.fetchAll(db, sql: "SELECT DISTINCT part FROM graph_documents").map(GraphPartition.ref))
        }
    }

    public func documents(in ref: KnowledgeVersionRef) async throws -> [String: String] {
        try await pool.read { db in
            var documents: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT source_id, content_hash FROM graph_documents WHERE part = ?", arguments: [GraphPartition.key(ref)]) {
                documents[row["source_id"]] = row["content_hash"]
            }
            return documents
        }
    }

    public func replace(_ documents: [GraphDocument]) async throws {
        guard !documents.isEmpty else { return }
        try await pool.write { db in
            for document in documents {
                let part = GraphPartition.key(document.ref)
                try Self.deleteRows(db, part: part, sourceID: document.sourceID)
                try db.execute(sql: "INSERT INTO graph_documents (part, source_id, content_hash) VALUES (?, ?, ?)", arguments: [part, document.sourceID, document.contentHash])
                let nodeStatement = try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO graph_nodes (part, id, source_id, kind, name, aliases, domain, visibility, session, status, summary, chunk_id, created_at, expires_at, pinned)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for node in document.nodes {
                    try nodeStatement.execute(arguments: [
                        part, node.id, document.sourceID, node.kind, node.name, GraphRows.encode(node.aliases), node.domain.rawValue,
                        node.visibility.rawValue, node.session, node.status, node.summary, node.chunkID,
                        node.createdAt.timeIntervalSince1970, node.expiresAt?.timeIntervalSince1970, node.pinned,
                    ])
                }
                let edgeStatement = try db.cachedStatement(sql: """
                    INSERT INTO graph_edges (part, source_id, seq, from_id, to_id, type, attitude, weight, since, until, note, visibility, expires_at, pinned, chunk_ids, snippet, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for (seq, edge) in document.edges.enumerated() {
                    try edgeStatement.execute(arguments: [
                        part, document.sourceID, seq, edge.from, edge.to, edge.type, edge.attitude, edge.weight, edge.since, edge.until,
                        edge.note, edge.visibility.rawValue, edge.expiresAt?.timeIntervalSince1970, edge.pinned,
                        GraphRows.encode(edge.chunkIDs), edge.snippet, edge.createdAt.timeIntervalSince1970,
                    ])
                }
                let nameStatement = try db.cachedStatement(sql: "INSERT INTO graph_names (part, source_id, name, id) VALUES (?, ?, ?, ?)")
                for (name, id, _) in document.names {
                    try nameStatement.execute(arguments: [part, document.sourceID, name, id])
                }
            }
        }
    }

    static func deleteRows(_ db: Database, part: String, sourceID: String) throws {
        for table in ["graph_documents", "graph_nodes", "graph_edges", "graph_names"] {
            try db.execute(sql: "DELETE FROM \(table) WHERE part = ? AND source_id = ?", arguments: [part, sourceID])
        }
    }

    public func delete(_ sourceIDs: [String], in ref: KnowledgeVersionRef) async throws {
        let part = GraphPartition.key(ref)
        try await pool.write { db in
            for sourceID in sourceIDs { try Self.deleteRows(db, part: part, sourceID: sourceID) }
        }
    }

    public func deleteExpiredEdges(now: Date, dryRun: Bool) async throws -> Int {
        let condition = "expires_at IS NOT NULL AND expires_at <= ? AND pinned = 0"
        if dryRun {
            return try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM graph_edges WHERE \(condition)", arguments: [now.timeIntervalSince1970]) ?? 0 }
        }
        return try await pool.write { db in
            try db.execute(sql: "DELETE FROM graph_edges WHERE \(condition)", arguments: [now.timeIntervalSince1970])
            return db.changesCount
        }
    }

    public func names(in refs: [KnowledgeVersionRef]) async throws -> [EntityName] {
        guard !refs.isEmpty else { return [] }
        let parts = refs.map(GraphPartition.key)
        return try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT n.name, n.id, g.domain FROM graph_names n JOIN graph_nodes g ON g.part = n.part AND g.id = n.id WHERE n.part IN (\(GraphRows.placeholders(parts.count)))", arguments: StatementArguments(parts))
                .map { (name: $0["name"] as String, id: $0["id"] as String, mentionable: $0["domain"] as String != KnowledgeDomain.srd.rawValue) }
        }
    }

    public func nodes(ids: [String], view: GraphView) async throws -> [GraphNode] {
        guard !ids.isEmpty, !view.versions.isEmpty else { return [] }
        let parts = view.partitions
        let refs = GraphPartition.refs(view)
        let pool = self.pool
        return try await GraphRows.concurrently(GraphRows.pieces(ids)) { piece in
            try await pool.read { db in
                var nodes: [GraphNode] = []
                let sql = "SELECT \(GraphRows.nodeColumns) FROM graph_nodes WHERE id IN (\(GraphRows.placeholders(piece.count))) AND part IN (\(GraphRows.placeholders(parts.count)))"
                // Cached: a traversal asks the same shapes (one place, 24 ids…) over and over.
                let rows = try Row.fetchCursor(try db.cachedStatement(sql: sql), arguments: StatementArguments(piece + parts))
                while let row = try rows.next() { nodes.append(GraphRows.node(row, refs: refs)) }
                return nodes
            }
        }
    }

    public func edges(touching ids: [String], types: Set<String>?, skippingIncoming: Set<String>, view: GraphView, limit: Int) async throws -> [GraphEdge] {
        guard !ids.isEmpty, !view.versions.isEmpty else { return [] }
        let parts = view.partitions
        let refs = GraphPartition.refs(view)
        let typeList = types.map { $0.sorted() } ?? []
        // `+part`: without statistics SQLite would take a handful of partitions for the more
        // selective condition and scan each (every edge of the campaign) instead of looking the
        // few ids up in the from/to indexes.
        var clauses = ["+part IN (\(GraphRows.placeholders(parts.count)))", "(expires_at IS NULL OR expires_at > ?)"]
        if !typeList.isEmpty { clauses.append("type IN (\(GraphRows.placeholders(typeList.count)))") }
        if !view.includeGM { clauses.append("visibility = 'players'") }
        let condition = clauses.joined(separator: " AND ")
        let shared: [DatabaseValue] = parts.map(\.databaseValue) + [view.now.timeIntervalSince1970.databaseValue] + typeList.map(\.databaseValue)
        let pool = self.pool
        let all = ids.map(\.databaseValue)
        let skipped = skippingIncoming.sorted().map(\.databaseValue)
        let edges = try await GraphRows.concurrently(GraphRows.pieces(ids)) { piece in
            try await pool.read { db in
                // An edge between two pieces is returned by the piece it starts in only.
                let sql = """
                    SELECT \(GraphRows.edgeColumns) FROM graph_edges WHERE from_id IN (\(GraphRows.placeholders(piece.count))) AND \(condition)
                    UNION ALL
                    SELECT \(GraphRows.edgeColumns) FROM graph_edges WHERE to_id IN (\(GraphRows.placeholders(piece.count))) AND from_id NOT IN (\(GraphRows.placeholders(all.count))) AND \(condition)\(skipped.isEmpty ? "" : " AND type NOT IN (\(GraphRows.placeholders(skipped.count)))")
                    LIMIT ?
                    """
                let values = piece.map(\.databaseValue)
                let arguments: [DatabaseValue] = values + shared + values + all + shared + skipped + [limit.databaseValue]
                var edges: [GraphEdge] = []
                // A cursor's rows read the statement's columns in place instead of copying each row first.
                let rows = try Row.fetchCursor(try db.cachedStatement(sql: sql), arguments: StatementArguments(arguments))
                while let row = try rows.next() { edges.append(GraphRows.edge(row, refs: refs)) }
                return edges
            }
        }
        return Array(edges.prefix(limit))
    }

    public func nodeIDs(named name: String, view: GraphView) async throws -> [String] {
        let parts = view.partitions
        guard !parts.isEmpty else { return [] }
        return try await pool.read { db in
            try String.fetchAll(try db.cachedStatement(sql: "SELECT DISTINCT id FROM graph_names WHERE name = ? AND part IN (\(GraphRows.placeholders(parts.count))) ORDER BY id"), arguments: StatementArguments([name.lowercased()] + parts))
        }
    }

    /// Nothing to do: these queries name the indexes they need (`+part`) and do not depend on
    /// statistics, which SQLite would only gather on an explicit full ANALYZE.
    public func refreshStatistics() async throws {}

    public func counts() async throws -> (nodes: Int, edges: Int) {
        try await pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM graph_nodes") ?? 0, try Int.fetchOne(db, sql: "SELECT count(*) FROM graph_edges") ?? 0)
        }
    }
}

/// SQLite rows as graph values.
extension GraphRows {
    // Rows are read by position, in the order of `nodeColumns` and `edgeColumns`: looking a
    // column up by name costs a case-insensitive comparison per column per row.

    static func node(_ row: Row, refs: [String: KnowledgeVersionRef]) -> GraphNode {
        let part: String = row[0]
        let ref = refs[part] ?? GraphPartition.ref(part)
        return GraphNode(
            id: row[1], kind: row[3], name: row[4], aliases: decode(row[5]),
            domain: KnowledgeDomain(rawValue: row[6]) ?? .lore, visibility: Visibility(rawValue: row[7]) ?? .gm,
            session: row[8], status: row[9], summary: row[10], sourceID: row[2], chunkID: row[11],
            campaignID: ref.campaignID, version: ref.version, createdAt: Date(timeIntervalSince1970: row[12]),
            expiresAt: (row[13] as Double?).map(Date.init(timeIntervalSince1970:)), pinned: row[14]
        )
    }

    static func edge(_ row: Row, refs: [String: KnowledgeVersionRef]) -> GraphEdge {
        let part: String = row[0]
        let ref = refs[part] ?? GraphPartition.ref(part)
        return GraphEdge(
            from: row[2], to: row[3], type: row[4], attitude: row[5], weight: row[6],
            since: row[7], until: row[8], note: row[9], visibility: Visibility(rawValue: row[10]) ?? .gm,
            expiresAt: (row[11] as Double?).map(Date.init(timeIntervalSince1970:)), pinned: row[12],
            sourceID: row[1], chunkIDs: decode(row[13]), snippet: row[14],
            campaignID: ref.campaignID, version: ref.version, createdAt: Date(timeIntervalSince1970: row[15])
        )
    }
}
