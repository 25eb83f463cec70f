public import GRDB
public import Logging
public import PostgresNIO

/// One schema change, written once for each backend. Capabilities own their tables, so each
/// registers its migrations; ids are namespaced by the capability (`party_sync.001_events`)
/// and never change once released.
public struct Migration: Sendable {
    public let id: String
    public let sqlite: @Sendable (GRDB.Database) throws -> Void
    public let postgres: @Sendable (PostgresConnection, Logger) async throws -> Void

    public init(
        id: String,
        sqlite: @escaping @Sendable (GRDB.Database) throws -> Void,
        postgres: @escaping @Sendable (PostgresConnection, Logger) async throws -> Void
    ) {
        self.id = id
        self.sqlite = sqlite
        self.postgres = postgres
    }

    /// A migration made of plain SQL statements, one list per dialect.
    public init(id: String, sqlite sqliteStatements: [String], postgres postgresStatements: [String]) {
        self.init(
            id: id,
            sqlite: { db in
                for statement in sqliteStatements { try db.execute(sql: statement) }
            },
            postgres: { connection, logger in
                // The extended protocol takes one statement per query.
                for statement in postgresStatements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            }
        )
    }
}
