import Foundation
import Logging
import Persistence
import TestSupport
import Testing

@Suite struct DatabaseReachabilityTests {
    @Test(.enabled(if: PostgresTestServer.isConfigured, "needs the test PostgreSQL"))
    func aDatabaseThatTakesConnectionsPasses() async throws {
        let url = try await PostgresTestServer.makeDatabase()
        try await DatabaseHandle.open(url, logger: testLogger).waitUntilReachable(within: .seconds(5), logger: testLogger)
    }

    /// Waiting does not create a database: the answer is PostgreSQL's reason, at once.
    @Test(.enabled(if: PostgresTestServer.isConfigured, "needs the test PostgreSQL"))
    func anUnknownDatabaseFailsAtOnceWithPostgresReason() async throws {
        guard case .postgres(var location) = try await PostgresTestServer.makeDatabase() else { return }
        location.database = "no_such_database"
        let handle = try DatabaseHandle.open(.postgres(location), logger: testLogger)
        let start = ContinuousClock.now
        do {
            try await handle.waitUntilReachable(within: .seconds(60), logger: testLogger)
            Issue.record("expected the database to be refused")
        } catch {
            #expect(error.reason == #"database "no_such_database" does not exist"#)
            #expect(error.description.contains("/no_such_database"))
        }
        #expect(ContinuousClock.now - start < .seconds(30), "a permanent refusal must not be waited out")
    }

    /// Nobody listening: tried again until the wait is over, then the network's reason.
    @Test func nothingListeningIsTriedAgainThenReported() async throws {
        let port = try freeLoopbackPort()
        let url = try DatabaseURL(parsing: "postgres://rpgbot@127.0.0.1:\(port)/rpgbot?sslmode=disable")
        let handle = try DatabaseHandle.open(url, logger: testLogger)
        let attempts = RecordingLogHandler.Box()
        var logger = Logger(label: "reachability") { _ in RecordingLogHandler(box: attempts) }
        logger.logLevel = .warning
        do {
            // Long enough for a retry even when a refused connection is slow to be reported on
            // a busy machine.
            try await handle.waitUntilReachable(within: .seconds(12), logger: logger)
            Issue.record("expected the database to be unreachable")
        } catch {
            #expect(error.reason.localizedCaseInsensitiveContains("refused"), "\(error.reason)")
        }
        #expect(attempts.messages.filter { $0 == "database not reachable yet; trying again" }.count >= 1)
    }

    /// SQLite opens a file: nothing to wait for.
    @Test func sqliteIsAlwaysReachable() async throws {
        try await withTemporaryDirectory { directory in
            let handle = try DatabaseHandle.open(.sqlite(path: directory.url.appendingPathComponent("x.sqlite").path), logger: testLogger)
            try await handle.waitUntilReachable(within: .zero, logger: testLogger)
        }
    }
}
