public import Persistence

/// The tables of Memory37.
public enum KnowledgeMigrations {
    public static let all: [Migration] = [
        Migration(
            id: "memory37.001_chunks",
            sqlite: [
                """
                CREATE TABLE knowledge_documents (
                    scope TEXT NOT NULL,
                    source_id TEXT NOT NULL,
                    domain TEXT NOT NULL,
                    title TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    updated_at REAL NOT NULL,
                    PRIMARY KEY (scope, source_id)
                ) WITHOUT ROWID
                """,
                """
                CREATE TABLE knowledge_chunks (
                    rowid INTEGER PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    scope TEXT NOT NULL,
                    campaign_id TEXT,
                    domain TEXT NOT NULL,
                    source_id TEXT NOT NULL,
                    ordinal INTEGER NOT NULL,
                    title TEXT NOT NULL,
                    heading_path TEXT NOT NULL,
                    aliases TEXT NOT NULL,
                    text TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    metadata TEXT NOT NULL,
                    visibility TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    expires_at REAL,
                    session_number INTEGER,
                    embedding BLOB NOT NULL,
                    embedding_model TEXT NOT NULL
                )
                """,
                "CREATE INDEX knowledge_chunks_source ON knowledge_chunks (scope, source_id, ordinal)",
                "CREATE INDEX knowledge_chunks_episodes ON knowledge_chunks (campaign_id, domain, session_number)",
                "CREATE TABLE knowledge_names (name TEXT NOT NULL, chunk_rowid INTEGER NOT NULL)",
                "CREATE INDEX knowledge_names_name ON knowledge_names (name)",
                "CREATE INDEX knowledge_names_chunk ON knowledge_names (chunk_rowid)",
                // Text goes in already normalised by the project's tokenizer (lower case, plural
                // folding), so that query terms and the vocabulary's document counts line up.
                "CREATE VIRTUAL TABLE knowledge_fts USING fts5(title, aliases, text, tokenize = 'unicode61')",
                "CREATE VIRTUAL TABLE knowledge_fts_vocabulary USING fts5vocab(knowledge_fts, 'row')",
            ],
            postgres: [
                "CREATE EXTENSION IF NOT EXISTS vector",
                """
                CREATE TABLE knowledge_documents (
                    scope TEXT NOT NULL,
                    source_id TEXT NOT NULL,
                    domain TEXT NOT NULL,
                    title TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    updated_at DOUBLE PRECISION NOT NULL,
                    PRIMARY KEY (scope, source_id)
                )
                """,
                """
                CREATE TABLE knowledge_chunks (
                    id TEXT PRIMARY KEY,
                    scope TEXT NOT NULL,
                    campaign_id TEXT,
                    domain TEXT NOT NULL,
                    source_id TEXT NOT NULL,
                    ordinal INTEGER NOT NULL,
                    title TEXT NOT NULL,
                    heading_path TEXT NOT NULL,
                    aliases TEXT NOT NULL,
                    names TEXT[] NOT NULL,
                    text TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    metadata TEXT NOT NULL,
                    visibility TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL,
                    expires_at DOUBLE PRECISION,
                    session_number INTEGER,
                    search tsvector NOT NULL,
                    embedding vector NOT NULL,
                    embedding_model TEXT NOT NULL
                )
                """,
                "CREATE INDEX knowledge_chunks_source ON knowledge_chunks (scope, source_id, ordinal)",
                "CREATE INDEX knowledge_chunks_episodes ON knowledge_chunks (campaign_id, domain, session_number)",
                "CREATE INDEX knowledge_chunks_search ON knowledge_chunks USING gin (search)",
                "CREATE INDEX knowledge_chunks_names ON knowledge_chunks USING gin (names)",
            ]
        ),
        // NPC profiles and document reads look chunks up by source id across the campaign and
        // the global scope; without this they scanned every chunk.
        Migration(
            id: "memory37.002_chunks_by_source",
            sqlite: ["CREATE INDEX knowledge_chunks_source_id ON knowledge_chunks (source_id, ordinal)"],
            postgres: ["CREATE INDEX knowledge_chunks_source_id ON knowledge_chunks (source_id, ordinal)"]
        ),
        // The change log nodes with in-process search indexes catch up from. The one-row
        // counter's lock orders writers, so revisions appear in commit order.
        Migration(
            id: "memory37.003_change_log",
            sqlite: [],
            postgres: [
                "CREATE TABLE knowledge_revision (id INTEGER PRIMARY KEY CHECK (id = 1), rev BIGINT NOT NULL)",
                "INSERT INTO knowledge_revision (id, rev) VALUES (1, 0)",
                "CREATE TABLE knowledge_changes (rev BIGINT NOT NULL, scope TEXT NOT NULL, source_id TEXT NOT NULL)",
                "CREATE INDEX knowledge_changes_rev ON knowledge_changes (rev)",
            ]
        ),
        // Writers trim the change log; a node whose revision is older than `trimmed_through`
        // cannot catch up from it and loads everything again.
        Migration(
            id: "memory37.004_change_log_trim",
            sqlite: [],
            postgres: ["ALTER TABLE knowledge_revision ADD COLUMN trimmed_through BIGINT NOT NULL DEFAULT 0"]
        ),
        // Other processes on the same SQLite file (`rpgbot ingest` while the server runs) write
        // chunks the server's in-process indexes must learn of: each write transaction takes the
        // next revision and logs the chunk ids it wrote or removed; a node applies the changes
        // after the revision it has.
        Migration(
            id: "memory37.005_sqlite_change_log",
            sqlite: [
                "CREATE TABLE knowledge_revision (id INTEGER PRIMARY KEY CHECK (id = 1), rev INTEGER NOT NULL, trimmed_through INTEGER NOT NULL)",
                "INSERT INTO knowledge_revision (id, rev, trimmed_through) VALUES (1, 0, 0)",
                "CREATE TABLE knowledge_chunk_changes (rev INTEGER NOT NULL, chunk_id TEXT NOT NULL)",
                "CREATE INDEX knowledge_chunk_changes_rev ON knowledge_chunk_changes (rev)",
            ],
            postgres: []
        ),
        // Versions: every document and chunk belongs to one version of its scope; what was
        // stored before belongs to the scope's working version of its domain, whose chunk ids
        // stay as they were. The registry (versions, aliases, their history, campaign lifetime
        // policies) has its own counter, so nodes notice a switch without reloading chunks.
        Migration(
            id: "memory37.006_versions",
            sqlite: [
                """
                CREATE TABLE knowledge_documents_versioned (
                    scope TEXT NOT NULL,
                    version TEXT NOT NULL,
                    source_id TEXT NOT NULL,
                    domain TEXT NOT NULL,
                    title TEXT NOT NULL,
                    content_hash TEXT NOT NULL,
                    updated_at REAL NOT NULL,
                    PRIMARY KEY (scope, version, source_id)
                ) WITHOUT ROWID
                """,
                "INSERT INTO knowledge_documents_versioned SELECT scope, domain || '-working', source_id, domain, title, content_hash, updated_at FROM knowledge_documents",
                "DROP TABLE knowledge_documents",
                "ALTER TABLE knowledge_documents_versioned RENAME TO knowledge_documents",
                "ALTER TABLE knowledge_chunks ADD COLUMN version TEXT NOT NULL DEFAULT ''",
                "UPDATE knowledge_chunks SET version = domain || '-working'",
                "ALTER TABLE knowledge_chunks ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0",
                "CREATE INDEX knowledge_chunks_version ON knowledge_chunks (scope, version, source_id, ordinal)",
                "ALTER TABLE knowledge_revision ADD COLUMN catalog_rev INTEGER NOT NULL DEFAULT 0",
            ] + Self.registryTables(real: "REAL", serial: "INTEGER PRIMARY KEY"),
            postgres: [
                "ALTER TABLE knowledge_documents ADD COLUMN version TEXT NOT NULL DEFAULT ''",
                "UPDATE knowledge_documents SET version = domain || '-working'",
                "ALTER TABLE knowledge_documents DROP CONSTRAINT knowledge_documents_pkey",
                "ALTER TABLE knowledge_documents ADD PRIMARY KEY (scope, version, source_id)",
                "ALTER TABLE knowledge_chunks ADD COLUMN version TEXT NOT NULL DEFAULT ''",
                "UPDATE knowledge_chunks SET version = domain || '-working'",
                "ALTER TABLE knowledge_chunks ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT false",
                "CREATE INDEX knowledge_chunks_version ON knowledge_chunks (scope, version, source_id, ordinal)",
                // Entries from before name no version: every node loads everything again.
                "ALTER TABLE knowledge_changes ADD COLUMN version TEXT NOT NULL DEFAULT ''",
                "DELETE FROM knowledge_changes",
                "UPDATE knowledge_revision SET trimmed_through = rev",
                "ALTER TABLE knowledge_revision ADD COLUMN catalog_rev BIGINT NOT NULL DEFAULT 0",
            ] + Self.registryTables(real: "DOUBLE PRECISION", serial: "BIGSERIAL PRIMARY KEY")
        ),
    ]

    static func registryTables(real: String, serial: String) -> [String] {
        [
            """
            CREATE TABLE knowledge_versions (
                scope TEXT NOT NULL,
                id TEXT NOT NULL,
                domain TEXT NOT NULL,
                state TEXT NOT NULL,
                created_at \(real) NOT NULL,
                created_by TEXT NOT NULL,
                published_at \(real),
                retired_at \(real),
                note TEXT NOT NULL,
                PRIMARY KEY (scope, id)
            )
            """,
            """
            CREATE TABLE knowledge_aliases (
                scope TEXT NOT NULL,
                name TEXT NOT NULL,
                version TEXT NOT NULL,
                updated_at \(real) NOT NULL,
                updated_by TEXT NOT NULL,
                PRIMARY KEY (scope, name)
            )
            """,
            """
            CREATE TABLE knowledge_alias_history (
                seq \(serial),
                scope TEXT NOT NULL,
                name TEXT NOT NULL,
                from_version TEXT,
                to_version TEXT,
                changed_by TEXT NOT NULL,
                changed_at \(real) NOT NULL
            )
            """,
            "CREATE TABLE knowledge_policies (scope TEXT NOT NULL, domain TEXT NOT NULL, ttl_seconds \(real), PRIMARY KEY (scope, domain))",
        ]
    }
}
