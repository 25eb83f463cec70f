public import Logging
import NIOSSL
import PostgresNIO

/// The database could not be reached at start: the reason PostgreSQL (or the network) gave,
/// rather than the connection pool's circuit breaker a minute later.
public struct DatabaseUnreachable: Error, CustomStringConvertible {
    /// The database URL, password redacted.
    public let database: String
    public let reason: String

    public var description: String { "cannot use the database \(database): \(reason)" }
}

extension DatabaseHandle {
    /// Checks that the database takes connections, trying again with backoff for up to
    /// `within` (a database starting beside the server takes a moment) and logging each
    /// failure with its reason. A refusal that waiting cannot change — an unknown database,
    /// wrong credentials — ends the wait at once.
    ///
    /// PostgreSQL is tried on a connection of its own, outside the pool: the pool retries
    /// quietly and reports only that it gave up, about a minute later.
    public func waitUntilReachable(within: Duration, logger: Logger) async throws(DatabaseUnreachable) {
        guard case .postgres(let location) = url else { return }
        let deadline = ContinuousClock.now + within
        var pause = Duration.milliseconds(250)
        while true {
            let failure: Failure
            do {
                try await Self.connectOnce(location, logger: logger)
                return
            } catch {
                failure = Failure(error)
            }
            let unreachable = DatabaseUnreachable(database: url.description, reason: failure.reason)
            guard !failure.isPermanent, ContinuousClock.now + pause < deadline, !Task.isCancelled else { throw unreachable }
            logger.warning("database not reachable yet; trying again", metadata: ["database": "\(url)", "reason": "\(failure.reason)", "retry_in": "\(pause)"])
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }

    private static func connectOnce(_ location: DatabaseURL.PostgresLocation, logger: Logger) async throws {
        let tls: PostgresConnection.Configuration.TLS =
            switch location.tlsMode {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        var configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.username,
            password: location.password, database: location.database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(5)
        var quiet = logger
        quiet.logLevel = .critical
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: quiet)
        do {
            let rows = try await connection.query("SELECT 1", logger: quiet)
            for try await _ in rows {}
        } catch {
            try? await connection.close()
            throw error
        }
        try? await connection.close()
    }

    /// A failed attempt, in words an operator can act on.
    private struct Failure {
        let reason: String
        let isPermanent: Bool

        init(_ error: any Error) {
            guard let error = error as? PSQLError else {
                reason = "\(error)"
                isPermanent = false
                return
            }
            if let message = error.serverInfo?[.message] {
                reason = message
                // Class 28 (invalid authorization) and 3D000 (invalid catalog name): waiting
                // does not create the database or fix the password.
                let state = error.serverInfo?[.sqlState] ?? ""
                isPermanent = state.hasPrefix("28") || state == "3D000"
            } else if let underlying = error.underlying {
                reason = "\(underlying)"
                isPermanent = false
            } else {
                reason = "\(error.code)"
                isPermanent = false
            }
        }
    }
}
