public import Foundation
public import Logging
public import Memory37
public import PostgresNIO

/// The graph in PostgreSQL, shared by every node of a cluster: one round trip per hop, arrays
/// bound as parameters (`= ANY($1)`), every document's rows replaced in one transaction.
public struct PostgresGraphStore: GraphStore {
    public let kind = "postgres"
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func versions() async throws -> Set<KnowledgeVersionRef> {
        var refs = Set<KnowledgeVersionRef>()
        for try await part in try await client.query("SELECT DISTINCT part FROM graph_documents", logger: logger).decode(String.self) {
            refs.insert(GraphPartition.ref(part))
        }
        return refs
    }

    public func documents(in ref: KnowledgeVersionRef) async throws -> [String: String] {
        var documents: [String: String] = [:]
        let part = GraphPartition.key(ref)
        for try await (source, hash) in try await client.query("SELECT source_id, content_hash FROM graph_documents WHERE part = \(part)", logger: logger).decode((String, String).self) {
            documents[source] = hash
        }
        return documents
    }

    public func replace(_ documents: [GraphDocument]) async throws {
        guard !documents.isEmpty else { return }
        let parts = documents.map { GraphPartition.key($0.ref) }
        let sources = documents.map(\.sourceID)
        let nodes = documents.flatMap { document in document.nodes.map { (GraphPartition.key(document.ref), document.sourceID, $0) } }
        let edges = documents.flatMap { document in document.edges.enumerated().map { (GraphPartition.key(document.ref), document.sourceID, $0.offset, $0.element) } }
        let names = documents.flatMap { document in document.names.map { (GraphPartition.key(document.ref), document.sourceID, $0.name, $0.id) } }
        try await client.withTransaction(logger: logger) { connection in
            try await Self.deleteRows(parts: parts, sources: sources, connection: connection, logger: logger)
            try await connection.query("""
                INSERT INTO graph_documents (part, source_id, content_hash)
                SELECT * FROM unnest(\(parts)::text[], \(sources)::text[], \(documents.map(\.contentHash))::text[])
                """, logger: logger)
            if !nodes.isEmpty {
                // Arrays cannot hold NULL here: -2147483648, '' and -1 stand for "none".
                try await connection.query("""
                    INSERT INTO graph_nodes (part, id, source_id, kind, name, aliases, domain, visibility, session, status, summary, chunk_id, created_at, expires_at, pinned)
                    SELECT part, id, source_id, kind, name, aliases, domain, visibility, NULLIF(session, -2147483648), NULLIF(status, ''), summary, chunk_id,
                        created_at, NULLIF(expires_at, -1), pinned
                    FROM unnest(\(nodes.map(\.0))::text[], \(nodes.map(\.2.id))::text[], \(nodes.map(\.1))::text[], \(nodes.map(\.2.kind))::text[],
                        \(nodes.map(\.2.name))::text[], \(nodes.map { GraphRows.encode($0.2.aliases) })::text[], \(nodes.map(\.2.domain.rawValue))::text[],
                        \(nodes.map(\.2.visibility.rawValue))::text[], \(nodes.map { $0.2.session ?? Int(Int32.min) })::int[], \(nodes.map { $0.2.status ?? "" })::text[],
                        \(nodes.map(\.2.summary))::text[], \(nodes.map(\.2.chunkID))::text[], \(nodes.map(\.2.createdAt.timeIntervalSince1970))::float8[],
                        \(nodes.map { $0.2.expiresAt?.timeIntervalSince1970 ?? -1 })::float8[], \(nodes.map(\.2.pinned))::bool[])
                        AS n(part, id, source_id, kind, name, aliases, domain, visibility, session, status, summary, chunk_id, created_at, expires_at, pinned)
                    ON CONFLICT (part, id) DO UPDATE SET source_id = EXCLUDED.source_id, kind = EXCLUDED.kind, name = EXCLUDED.name
                    """, logger: logger)
            }
            if !edges.isEmpty {
                try await connection.query("""
                    INSERT INTO graph_edges (part, source_id, seq, from_id, to_id, type, attitude, weight, since, until, note, visibility, expires_at, pinned, chunk_ids, snippet, created_at)
                    SELECT part, source_id, seq, from_id, to_id, type, NULLIF(attitude, -2147483648), weight, NULLIF(since, -2147483648), NULLIF(until, -2147483648),
                        NULLIF(note, E'\\u0001'), visibility, NULLIF(expires_at, -1), pinned, chunk_ids, snippet, created_at
                    FROM unnest(\(edges.map(\.0))::text[], \(edges.map(\.1))::text[], \(edges.map(\.2))::int[], \(edges.map(\.3.from))::text[],
                        \(edges.map(\.3.to))::text[], \(edges.map(\.3.type))::text[], \(edges.map { $0.3.attitude ?? Int(Int32.min) })::int[],
                        \(edges.map(\.3.weight))::float8[], \(edges.map { $0.3.since ?? Int(Int32.min) })::int[], \(edges.map { $0.3.until ?? Int(Int32.min) })::int[],
                        \(edges.map { $0.3.note ?? "\u{1}" })::text[], \(edges.map(\.3.visibility.rawValue))::text[],
                        \(edges.map { $0.3.expiresAt?.timeIntervalSince1970 ?? -1 })::float8[], \(edges.map(\.3.pinned))::bool[],
                        \(edges.map { GraphRows.encode($0.3.chunkIDs) })::text[], \(edges.map(\.3.snippet))::text[], \(edges.map(\.3.createdAt.timeIntervalSince1970))::float8[])
                        AS e(part, source_id, seq, from_id, to_id, type, attitude, weight, since, until, note, visibility, expires_at, pinned, chunk_ids, snippet, created_at)
                    """, logger: logger)
            }
            if !names.isEmpty {
                try await connection.query("""
                    INSERT INTO graph_names (part, source_id, name, id)
                    SELECT * FROM unnest(\(names.map(\.0))::text[], \(names.map(\.1))::text[], \(names.map(\.2))::text[], \(names.map(\.3))::text[])
                    """, logger: logger)
            }
        }
    }

    static func deleteRows(parts: [String], sources: [String], connection: PostgresConnection, logger: Logger) async throws {
        for table in ["graph_documents", "graph_nodes", "graph_edges", "graph_names"] {
            try await connection.query(PostgresQuery(unsafeSQL: """
                DELETE FROM \(table) t USING unnest($1::text[], $2::text[]) AS d(part, source_id)
                WHERE t.part = d.part AND t.source_id = d.source_id
                """, binds: {
                    var binds = PostgresBindings()
                    binds.append(parts)
                    binds.append(sources)
                    return binds
                }()), logger: logger)
        }
    }

    public func delete(_ sourceIDs: [String], in ref: KnowledgeVersionRef) async throws {
        guard !sourceIDs.isEmpty else { return }
        let parts = Array(repeating: GraphPartition.key(ref), count: sourceIDs.count)
        try await client.withTransaction(logger: logger) { connection in
            try await Self.deleteRows(parts: parts, sources: sourceIDs, connection: connection, logger: logger)
        }
    }

    public func deleteExpiredEdges(now: Date, dryRun: Bool) async throws -> Int {
        let instant = now.timeIntervalSince1970
        let sql: PostgresQuery = dryRun
            ? "SELECT count(*) FROM graph_edges WHERE expires_at IS NOT NULL AND expires_at <= \(instant) AND NOT pinned"
            : "WITH gone AS (DELETE FROM graph_edges WHERE expires_at IS NOT NULL AND expires_at <= \(instant) AND NOT pinned RETURNING 1) SELECT count(*) FROM gone"
        var count = 0
        for try await value in try await client.query(sql, logger: logger).decode(Int.self) { count = value }
        return count
    }

    public func names(in refs: [KnowledgeVersionRef]) async throws -> [EntityName] {
        guard !refs.isEmpty else { return [] }
        var names: [EntityName] = []
        let query: PostgresQuery = "SELECT n.name, n.id, g.domain FROM graph_names n JOIN graph_nodes g ON g.part = n.part AND g.id = n.id WHERE n.part = ANY(\(refs.map(GraphPartition.key))::text[])"
        for try await (name, id, domain) in try await client.query(query, logger: logger).decode((String, String, String).self) {
            names.append((name, id, domain != KnowledgeDomain.srd.rawValue))
        }
        return names
    }

    public func nodes(ids: [String], view: GraphView) async throws -> [GraphNode] {
        guard !ids.isEmpty, !view.versions.isEmpty else { return [] }
        let refs = GraphPartition.refs(view)
        let (client, logger, partitions) = (self.client, self.logger, view.partitions)
        return try await GraphRows.concurrently(GraphRows.pieces(ids)) { piece in
            var binds = PostgresBindings()
            binds.append(piece)
            binds.append(partitions)
            let rows = try await client.query(PostgresQuery(unsafeSQL: "SELECT \(GraphRows.nodeColumns) FROM graph_nodes WHERE id = ANY($1::text[]) AND part = ANY($2::text[])", binds: binds), logger: logger)
            var nodes: [GraphNode] = []
            for try await row in rows {
                let cells = row.makeRandomAccess()
                let part = try cells[0].decode(String.self)
                let ref = refs[part] ?? GraphPartition.ref(part)
                nodes.append(GraphNode(
                    id: try cells[1].decode(String.self), kind: try cells[3].decode(String.self), name: try cells[4].decode(String.self),
                    aliases: GraphRows.decode(try cells[5].decode(String.self)), domain: KnowledgeDomain(rawValue: try cells[6].decode(String.self)) ?? .lore,
                    visibility: Visibility(rawValue: try cells[7].decode(String.self)) ?? .gm, session: try cells[8].decode(Int?.self),
                    status: try cells[9].decode(String?.self), summary: try cells[10].decode(String.self), sourceID: try cells[2].decode(String.self),
                    chunkID: try cells[11].decode(String.self), campaignID: ref.campaignID, version: ref.version,
                    createdAt: Date(timeIntervalSince1970: try cells[12].decode(Double.self)),
                    expiresAt: try cells[13].decode(Double?.self).map(Date.init(timeIntervalSince1970:)), pinned: try cells[14].decode(Bool.self)
                ))
            }
            return nodes
        }
    }

    public func edges(touching ids: [String], types: Set<String>?, skippingIncoming: Set<String>, view: GraphView, limit: Int) async throws -> [GraphEdge] {
        guard !ids.isEmpty, !view.versions.isEmpty else { return [] }
        let refs = GraphPartition.refs(view)
        var condition = "part = ANY($3::text[]) AND (expires_at IS NULL OR expires_at > $4)"
        if types != nil { condition += " AND type = ANY($7::text[])" }
        if !view.includeGM { condition += " AND visibility = 'players'" }
        // An edge between two pieces is returned by the piece it starts in only.
        let sql = """
            SELECT \(GraphRows.edgeColumns) FROM graph_edges WHERE from_id = ANY($1::text[]) AND \(condition)
            UNION ALL
            SELECT \(GraphRows.edgeColumns) FROM graph_edges WHERE to_id = ANY($1::text[]) AND NOT (from_id = ANY($2::text[])) AND NOT (type = ANY($6::text[])) AND \(condition)
            LIMIT $5
            """
        let (client, logger, partitions, now, typeList) = (self.client, self.logger, view.partitions, view.now.timeIntervalSince1970, types.map { $0.sorted() })
        let skipped = skippingIncoming.sorted()
        let edges = try await GraphRows.concurrently(GraphRows.pieces(ids)) { piece in
            var binds = PostgresBindings()
            binds.append(piece)
            binds.append(ids)
            binds.append(partitions)
            binds.append(now)
            binds.append(limit)
            binds.append(skipped)
            if let typeList { binds.append(typeList) }
            var edges: [GraphEdge] = []
            for try await row in try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger) {
                let cells = row.makeRandomAccess()
                let part = try cells[0].decode(String.self)
                let ref = refs[part] ?? GraphPartition.ref(part)
                edges.append(GraphEdge(
                    from: try cells[2].decode(String.self), to: try cells[3].decode(String.self), type: try cells[4].decode(String.self),
                    attitude: try cells[5].decode(Int?.self), weight: try cells[6].decode(Double.self), since: try cells[7].decode(Int?.self),
                    until: try cells[8].decode(Int?.self), note: try cells[9].decode(String?.self),
                    visibility: Visibility(rawValue: try cells[10].decode(String.self)) ?? .gm,
                    expiresAt: try cells[11].decode(Double?.self).map(Date.init(timeIntervalSince1970:)), pinned: try cells[12].decode(Bool.self),
                    sourceID: try cells[1].decode(String.self), chunkIDs: GraphRows.decode(try cells[13].decode(String.self)),
                    snippet: try cells[14].decode(String.self), campaignID: ref.campaignID, version: ref.version,
                    createdAt: Date(timeIntervalSince1970: try cells[15].decode(Double.self))
                ))
            }
            return edges
        }
        return Array(edges.prefix(limit))
    }

    public func nodeIDs(named name: String, view: GraphView) async throws -> [String] {
        guard !view.versions.isEmpty else { return [] }
        var ids: [String] = []
        for try await id in try await client.query("SELECT DISTINCT id FROM graph_names WHERE name = \(name.lowercased()) AND part = ANY(\(view.partitions)::text[]) ORDER BY id", logger: logger).decode(String.self) {
            ids.append(id)
        }
        return ids
    }

    public func refreshStatistics() async throws {
        for try await _ in try await client.query("ANALYZE graph_edges, graph_nodes, graph_names", logger: logger) {}
    }

    public func counts() async throws -> (nodes: Int, edges: Int) {
        var counts = (nodes: 0, edges: 0)
        for try await (nodes, edges) in try await client.query("SELECT (SELECT count(*) FROM graph_nodes), (SELECT count(*) FROM graph_edges)", logger: logger).decode((Int, Int).self) {
            counts = (nodes, edges)
        }
        return counts
    }
}
