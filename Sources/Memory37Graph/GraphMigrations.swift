public import Persistence

/// The tables of the campaign graph, beside Memory37's in the same database. Rows are filed by
/// `part` (scope and version, see ``GraphPartition``) and by the document that declared them.
public enum GraphMigrations {
    static func statements(real: String, boolean: String) -> [String] {
        [
            """
            CREATE TABLE graph_documents (
                part TEXT NOT NULL,
                source_id TEXT NOT NULL,
                content_hash TEXT NOT NULL,
                PRIMARY KEY (part, source_id)
            )
            """,
            """
            CREATE TABLE graph_nodes (
                part TEXT NOT NULL,
                id TEXT NOT NULL,
                source_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                aliases TEXT NOT NULL,
                domain TEXT NOT NULL,
                visibility TEXT NOT NULL,
                session INTEGER,
                status TEXT,
                summary TEXT NOT NULL,
                chunk_id TEXT NOT NULL,
                created_at \(real) NOT NULL,
                expires_at \(real),
                pinned \(boolean) NOT NULL,
                PRIMARY KEY (part, id)
            )
            """,
            "CREATE INDEX graph_nodes_id ON graph_nodes (id)",
            "CREATE INDEX graph_nodes_source ON graph_nodes (part, source_id)",
            """
            CREATE TABLE graph_edges (
                part TEXT NOT NULL,
                source_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                from_id TEXT NOT NULL,
                to_id TEXT NOT NULL,
                type TEXT NOT NULL,
                attitude INTEGER,
                weight \(real) NOT NULL,
                since INTEGER,
                until INTEGER,
                note TEXT,
                visibility TEXT NOT NULL,
                expires_at \(real),
                pinned \(boolean) NOT NULL,
                chunk_ids TEXT NOT NULL,
                snippet TEXT NOT NULL,
                created_at \(real) NOT NULL,
                PRIMARY KEY (part, source_id, seq)
            )
            """,
            "CREATE INDEX graph_edges_from ON graph_edges (from_id)",
            "CREATE INDEX graph_edges_to ON graph_edges (to_id)",
            "CREATE INDEX graph_edges_expiry ON graph_edges (expires_at) WHERE expires_at IS NOT NULL",
            """
            CREATE TABLE graph_names (
                part TEXT NOT NULL,
                source_id TEXT NOT NULL,
                name TEXT NOT NULL,
                id TEXT NOT NULL
            )
            """,
            "CREATE INDEX graph_names_name ON graph_names (name)",
            "CREATE INDEX graph_names_source ON graph_names (part, source_id)",
        ]
    }

    public static let all: [Migration] = [
        Migration(
            id: "memory37_graph.001_graph",
            sqlite: statements(real: "REAL", boolean: "INTEGER"),
            postgres: statements(real: "DOUBLE PRECISION", boolean: "BOOLEAN")
        )
    ]
}
