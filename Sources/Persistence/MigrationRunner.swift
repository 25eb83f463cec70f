import Logging
import GRDB
import PostgresNIO
import Synchronization

import Foundation

/// Collects the migrations of every capability and applies the pending ones at start-up.
///
/// All pending migrations are applied in one transaction and recorded in `rpgbot_migrations`,
/// so a failure leaves the schema as it was. On PostgreSQL the transaction first takes an
/// advisory lock, so two processes starting at once apply each migration exactly once; on
/// SQLite the immediate transaction serialises writers the same way.
public final class MigrationRunner: Sendable {
    /// What one run did.
    public struct Report: Sendable, Equatable {
        public var applied: [String]
        public var alreadyApplied: Int
    }

    public enum Failure: Error, CustomStringConvertible {
        case duplicateID(String)
        case migrationFailed(id: String, underlying: any Error)

        public var description: String {
            switch self {
            case .duplicateID(let id): "two migrations share the id \(id)"
            // PSQLError hides the server's message from `description`; a migration failure needs it.
            case .migrationFailed(let id, let underlying): "migration \(id) failed: \(String(reflecting: underlying))"
            }
        }
    }

    /// The advisory lock key: the first eight bytes of "rpgbot:m" as a big-endian integer.
    static let advisoryLockKey: Int64 = 0x7270_6762_6F74_3A6D
    static let table = "rpgbot_migrations"

    private let registered = Mutex<[Migration]>([])
    private let completed = Mutex<Bool>(false)

    public init() {}

    /// Adds migrations; they run in the order registered.
    public func register(_ migrations: [Migration]) {
        registered.withLock { $0.append(contentsOf: migrations) }
    }

    public var migrations: [Migration] {
        registered.withLock { $0 }
    }

    /// Whether ``apply(to:)`` has succeeded in this process: the readiness condition.
    public var isComplete: Bool {
        completed.withLock { $0 }
    }

    /// Applies the pending migrations and records them.
    @discardableResult
    public func apply(to database: DatabaseHandle) async throws -> Report {
        let migrations = self.migrations
        var seen = Set<String>()
        for migration in migrations where !seen.insert(migration.id).inserted {
            throw Failure.duplicateID(migration.id)
        }
        await database.waitUntilRunning()
        let report: Report
        switch database.backend {
        case .sqlite(let pool):
            report = try await Self.applySQLite(migrations, pool: pool)
        case .postgres(let client):
            report = try await Self.applyPostgres(migrations, client: client, logger: database.logger)
        }
        completed.withLock { $0 = true }
        if !report.applied.isEmpty {
            database.logger.info("migrations applied", metadata: ["applied": .array(report.applied.map { .string($0) })])
        }
        return report
    }

    /// The ids recorded as applied, in order of application.
    public static func appliedIDs(in database: DatabaseHandle) async throws -> [String] {
        switch database.backend {
        case .sqlite(let pool):
            return try await pool.read { db in
                guard try db.tableExists(table) else { return [] }
                return try String.fetchAll(db, sql: "SELECT id FROM \(table) ORDER BY seq")
            }
        case .postgres(let client):
            let exists = try await client.query("SELECT to_regclass('public.rpgbot_migrations') IS NOT NULL", logger: database.logger)
            var present = false
            for try await (flag) in exists.decode(Bool.self) { present = flag }
            guard present else { return [] }
            var ids: [String] = []
            for try await id in try await client.query("SELECT id FROM rpgbot_migrations ORDER BY seq", logger: database.logger).decode(String.self) {
                ids.append(id)
            }
            return ids
        }
    }

    static func applySQLite(_ migrations: [Migration], pool: DatabasePool) async throws -> Report {
        try await pool.writeWithoutTransaction { db in
            var report = Report(applied: [], alreadyApplied: 0)
            try db.inTransaction(.immediate) {
                try db.execute(sql: """
                    CREATE TABLE IF NOT EXISTS \(table) (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        id TEXT NOT NULL UNIQUE,
                        applied_at TEXT NOT NULL
                    )
                    """)
                let done = Set(try String.fetchAll(db, sql: "SELECT id FROM \(table)"))
                for migration in migrations {
                    if done.contains(migration.id) {
                        report.alreadyApplied += 1
                        continue
                    }
                    do {
                        try migration.sqlite(db)
                    } catch {
                        throw Failure.migrationFailed(id: migration.id, underlying: error)
                    }
                    try db.execute(
                        sql: "INSERT INTO \(table) (id, applied_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                        arguments: [migration.id]
                    )
                    report.applied.append(migration.id)
                }
                return .commit
            }
            return report
        }
    }

    static func applyPostgres(_ migrations: [Migration], client: PostgresClient, logger: Logger) async throws -> Report {
        do {
            return try await applyPostgresTransaction(migrations, client: client, logger: logger)
        } catch let error as PostgresTransactionError {
            // Report the migration that failed, not the transaction wrapper around it.
            if let failure = error.closureError as? Failure { throw failure }
            throw error
        }
    }

    static func applyPostgresTransaction(_ migrations: [Migration], client: PostgresClient, logger: Logger) async throws -> Report {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(advisoryLockKey))", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS rpgbot_migrations (
                    seq BIGSERIAL PRIMARY KEY,
                    id TEXT NOT NULL UNIQUE,
                    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var done = Set<String>()
            for try await id in try await connection.query("SELECT id FROM rpgbot_migrations", logger: logger).decode(String.self) {
                done.insert(id)
            }
            var report = Report(applied: [], alreadyApplied: 0)
            for migration in migrations {
                if done.contains(migration.id) {
                    report.alreadyApplied += 1
                    continue
                }
                do {
                    try await migration.postgres(connection, logger)
                } catch {
                    throw Failure.migrationFailed(id: migration.id, underlying: error)
                }
                try await connection.query("INSERT INTO rpgbot_migrations (id) VALUES (\(migration.id))", logger: logger)
                report.applied.append(migration.id)
            }
            return report
        }
    }
}
