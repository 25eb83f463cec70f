public import GRDB
public import Logging
public import PostgresNIO
public import ServiceLifecycle
import NIOSSL
import Synchronization

import Foundation

/// The open database of the process: SQLite through a GRDB `DatabasePool` (the embedded
/// default) or PostgreSQL through a PostgresNIO `PostgresClient` (scale-out).
///
/// Capability stores switch on ``backend`` to pick their implementation. ``service`` must
/// run in the service group: it runs the PostgreSQL pool, and on shutdown closes the
/// database after everything that uses it has stopped.
public struct DatabaseHandle: Sendable {
    /// The two backends a store can be written against.
    public enum Backend: Sendable {
        case sqlite(DatabasePool)
        case postgres(PostgresClient)
    }

    public let url: DatabaseURL
    public let backend: Backend
    public let logger: Logger
    /// The lifecycle of the connection(s); add it to the service group before its users.
    public let service: any Service
    /// Set when ``service`` starts the PostgreSQL pool (nil for SQLite, which has no pool to run).
    private let poolStarted: SharedFlag?

    init(url: DatabaseURL, backend: Backend, logger: Logger, service: any Service, poolStarted: SharedFlag? = nil) {
        self.url = url
        self.backend = backend
        self.logger = logger
        self.service = service
        self.poolStarted = poolStarted
    }

    /// Returns once ``service`` has started the connection pool (at most `timeout` later).
    /// Users that start alongside the service call it first: a PostgreSQL lease made before
    /// the pool runs still waits for it, but PostgresNIO logs a warning about it.
    public func waitUntilRunning(timeout: Duration = .seconds(5)) async {
        guard let poolStarted else { return }
        let deadline = ContinuousClock.now + timeout
        while !poolStarted.value, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(1))
        }
        // The flag is raised just before the pool's own `run()` marks itself running.
        try? await Task.sleep(for: .milliseconds(1))
    }

    /// Opens (and for SQLite creates) the database at `url`.
    public static func open(_ url: DatabaseURL, logger: Logger) throws -> DatabaseHandle {
        switch url {
        case .sqlite(let path):
            let pool = try openSQLite(path: path)
            return DatabaseHandle(url: url, backend: .sqlite(pool), logger: logger, service: SQLiteLifecycle(pool: pool, logger: logger))
        case .postgres(let location):
            let client = PostgresClient(configuration: postgresConfiguration(location), backgroundLogger: logger)
            let started = SharedFlag()
            return DatabaseHandle(url: url, backend: .postgres(client), logger: logger, service: PostgresLifecycle(client: client, started: started), poolStarted: started)
        }
    }

    /// Thrown by ``ping(timeout:)`` when the database does not answer in time.
    public struct PingTimeout: Error, CustomStringConvertible {
        public var description: String { "the database did not answer in time" }
    }

    /// A round trip to the database, bounded by `timeout`: the readiness probe. A PostgreSQL
    /// pool that cannot connect waits for a connection indefinitely, so the bound matters.
    public func ping(timeout: Duration = .seconds(2)) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await roundTrip() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw PingTimeout()
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private func roundTrip() async throws {
        switch backend {
        case .sqlite(let pool):
            _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
        case .postgres(let client):
            let rows = try await client.query("SELECT 1", logger: logger)
            for try await _ in rows {}
        }
    }

    static func openSQLite(path: String) throws -> DatabasePool {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = Configuration()
        // Writers from several tasks (and the odd second process) wait rather than fail.
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Reads map the file instead of copying every page through pread: graph traversals
            // and index loads touch thousands of pages per request.
            try db.execute(sql: "PRAGMA mmap_size = 268435456")
        }
        // DatabasePool puts the file in WAL mode.
        return try DatabasePool(path: path, configuration: configuration)
    }

    static func postgresConfiguration(_ location: DatabaseURL.PostgresLocation) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS =
            switch location.tlsMode {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        var configuration = PostgresClient.Configuration(
            host: location.host,
            port: location.port,
            username: location.username,
            password: location.password,
            database: location.database,
            tls: tls
        )
        configuration.options.connectTimeout = .seconds(5)
        // Every query RPGBot sends is short: starting parallel workers costs more than it saves
        // (a graph hop of 1,000 rows: 13 ms through a Gather, 2.3 ms without), and the planner
        // picks them as soon as fresh statistics show a large table.
        configuration.options.additionalStartupParameters = [("max_parallel_workers_per_gather", "0")]
        return configuration
    }
}

/// Keeps the SQLite pool open while the service group runs and closes it on shutdown, after
/// the services started later (the HTTP server) have drained.
struct SQLiteLifecycle: Service {
    let pool: DatabasePool
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        close()
    }

    /// Synchronous on purpose: it runs during shutdown, possibly in a cancelled task, where
    /// GRDB's async accessors would refuse to start.
    private func close() {
        do {
            // Fold the WAL back into the main file so a copied database is complete.
            _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
            try pool.close()
            logger.info("database closed", metadata: ["database": "sqlite"])
        } catch {
            logger.warning("closing the database failed", metadata: ["error": "\(error)"])
        }
    }
}

/// Runs the PostgreSQL connection pool until shutdown.
struct PostgresLifecycle: Service {
    let client: PostgresClient
    let started: SharedFlag

    func run() async throws {
        await cancelWhenGracefulShutdown {
            started.raise()
            await client.run()
        }
    }
}

/// A flag raised once by one task and read by others.
final class SharedFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    var value: Bool { flag.load(ordering: .acquiring) }
    func raise() { flag.store(true, ordering: .releasing) }
}
