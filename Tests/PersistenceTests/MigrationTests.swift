import Foundation
import GRDB
import Logging
import Persistence
import PostgresNIO
import TestSupport
import Testing

/// Two capabilities' worth of migrations, in both dialects.
enum SampleMigrations {
    static let first = Migration(
        id: "sample.001_notes",
        sqlite: ["CREATE TABLE sample_notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"],
        postgres: ["CREATE TABLE sample_notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)"]
    )
    static let second = Migration(
        id: "sample.002_note_tags",
        sqlite: ["ALTER TABLE sample_notes ADD COLUMN tag TEXT", "CREATE INDEX sample_notes_tag ON sample_notes(tag)"],
        postgres: ["ALTER TABLE sample_notes ADD COLUMN tag TEXT", "CREATE INDEX sample_notes_tag ON sample_notes(tag)"]
    )
    static let broken = Migration(
        id: "sample.003_broken",
        sqlite: ["CREATE TABLE sample_ok (id INTEGER)", "THIS IS NOT SQL"],
        postgres: ["CREATE TABLE sample_ok (id INTEGER)", "THIS IS NOT SQL"]
    )
}

/// The same assertions against each backend.
enum MigrationScenarios {
    static func appliedOnceThenNoOp(_ url: DatabaseURL) async throws {
        let database = try DatabaseHandle.open(url, logger: testLogger)
        try await withRunningDatabase(database) { database in
            let runner = MigrationRunner()
            runner.register([SampleMigrations.first, SampleMigrations.second])
            #expect(!runner.isComplete)
            let report = try await runner.apply(to: database)
            #expect(report.applied == ["sample.001_notes", "sample.002_note_tags"])
            #expect(runner.isComplete)

            let again = MigrationRunner()
            again.register([SampleMigrations.first, SampleMigrations.second])
            let rerun = try await again.apply(to: database)
            #expect(rerun.applied.isEmpty)
            #expect(rerun.alreadyApplied == 2)
            let recorded = try await MigrationRunner.appliedIDs(in: database)
            #expect(recorded == ["sample.001_notes", "sample.002_note_tags"])
        }
    }

    static func failureRollsBackEverything(_ url: DatabaseURL) async throws {
        let database = try DatabaseHandle.open(url, logger: testLogger)
        try await withRunningDatabase(database) { database in
            let runner = MigrationRunner()
            runner.register([SampleMigrations.first, SampleMigrations.broken])
            await #expect(throws: MigrationRunner.Failure.self) { try await runner.apply(to: database) }
            #expect(!runner.isComplete)
            // Nothing of the batch remains: not the good migration, not half of the broken one.
            let recorded = try await MigrationRunner.appliedIDs(in: database)
            #expect(recorded.isEmpty)
            let notesTableExists = try await tableExists("sample_notes", in: database)
            #expect(notesTableExists == false)
            let halfMigrationTableExists = try await tableExists("sample_ok", in: database)
            #expect(halfMigrationTableExists == false)
        }
    }

    static func tableExists(_ name: String, in database: DatabaseHandle) async throws -> Bool {
        switch database.backend {
        case .sqlite(let pool):
            return try await pool.read { db in try db.tableExists(name) }
        case .postgres(let client):
            var exists = false
            for try await flag in try await client.query("SELECT to_regclass(\(name)) IS NOT NULL", logger: testLogger).decode(Bool.self) {
                exists = flag
            }
            return exists
        }
    }
}

@Suite struct SQLiteMigrationTests {
    @Test func appliedOnceAndReRunIsANoOp() async throws {
        try await withTemporaryDirectory { directory in
            try await MigrationScenarios.appliedOnceThenNoOp(.sqlite(path: directory.file("db.sqlite").path))
        }
    }

    @Test func aFailingMigrationLeavesTheSchemaUntouched() async throws {
        try await withTemporaryDirectory { directory in
            try await MigrationScenarios.failureRollsBackEverything(.sqlite(path: directory.file("db.sqlite").path))
        }
    }

    @Test func databaseIsInWALModeWithForeignKeys() async throws {
        try await withTemporaryDirectory { directory in
            let database = try DatabaseHandle.open(.sqlite(path: directory.file("nested/dir/db.sqlite").path), logger: testLogger)
            guard case .sqlite(let pool) = database.backend else { Issue.record("not sqlite"); return }
            let (mode, foreignKeys) = try await pool.read { db in
                (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Int.fetchOne(db, sql: "PRAGMA foreign_keys"))
            }
            #expect(mode == "wal")
            #expect(foreignKeys == 1)
            // Answers at all: a loaded machine may take longer than the readiness check's 2 s.
            try await database.ping(timeout: .seconds(30))
        }
    }

    @Test func duplicateIDsAreRefused() async throws {
        try await withTemporaryDirectory { directory in
            let database = try DatabaseHandle.open(.sqlite(path: directory.file("db.sqlite").path), logger: testLogger)
            let runner = MigrationRunner()
            runner.register([SampleMigrations.first, SampleMigrations.first])
            await #expect(throws: MigrationRunner.Failure.self) { try await runner.apply(to: database) }
        }
    }

    @Test func twoRunnersOnOneFileApplyEachMigrationOnce() async throws {
        try await withTemporaryDirectory { directory in
            let url = DatabaseURL.sqlite(path: directory.file("db.sqlite").path)
            // Two pools stand for two processes sharing the file.
            let reports = try await withThrowingTaskGroup(of: MigrationRunner.Report.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        let database = try DatabaseHandle.open(url, logger: testLogger)
                        let runner = MigrationRunner()
                        runner.register([SampleMigrations.first, SampleMigrations.second])
                        return try await runner.apply(to: database)
                    }
                }
                var all: [MigrationRunner.Report] = []
                for try await report in group { all.append(report) }
                return all
            }
            #expect(reports.map(\.applied.count).sorted() == [0, 2])
        }
    }
}

@Suite(.enabled(if: PostgresTestServer.isConfigured, "needs RPGBOT_TEST_POSTGRES_URL (scripts/test.sh starts PostgreSQL)"))
struct PostgresMigrationTests {
    @Test func appliedOnceAndReRunIsANoOp() async throws {
        try await MigrationScenarios.appliedOnceThenNoOp(try await PostgresTestServer.makeDatabase())
    }

    @Test func aFailingMigrationLeavesTheSchemaUntouched() async throws {
        try await MigrationScenarios.failureRollsBackEverything(try await PostgresTestServer.makeDatabase())
    }

    @Test func concurrentStartsApplyEachMigrationExactlyOnce() async throws {
        let url = try await PostgresTestServer.makeDatabase()
        // Four clients, each its own pool of connections, as four processes starting at once.
        let reports = try await withThrowingTaskGroup(of: MigrationRunner.Report.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    let database = try DatabaseHandle.open(url, logger: testLogger)
                    return try await withRunningDatabase(database) { database in
                        let runner = MigrationRunner()
                        runner.register([SampleMigrations.first, SampleMigrations.second])
                        return try await runner.apply(to: database)
                    }
                }
            }
            var all: [MigrationRunner.Report] = []
            for try await report in group { all.append(report) }
            return all
        }
        #expect(reports.map(\.applied.count).sorted() == [0, 0, 0, 2])
        #expect(reports.map(\.alreadyApplied).sorted() == [0, 2, 2, 2])
        let database = try DatabaseHandle.open(url, logger: testLogger)
        let ids = try await withRunningDatabase(database) { database in
            try await MigrationRunner.appliedIDs(in: database)
        }
        #expect(ids == ["sample.001_notes", "sample.002_note_tags"])
    }

    @Test func pgvectorIsAvailable() async throws {
        let url = try await PostgresTestServer.makeDatabase()
        try await PostgresTestServer.withClient(url) { client in
            try await client.query("CREATE EXTENSION IF NOT EXISTS vector", logger: testLogger)
            var distance = -1.0
            for try await value in try await client.query("SELECT '[1,0]'::vector <=> '[0,1]'::vector", logger: testLogger).decode(Double.self) {
                distance = value
            }
            #expect(abs(distance - 1.0) < 1e-9)
        }
    }
}

@Suite struct TestEnvironmentTests {
    /// Under scripts/test.sh every real dependency must be present: a skipped suite there is a failure.
    @Test func requiredDependenciesArePresentWhenDemanded() {
        guard ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1" else { return }
        #expect(PostgresTestServer.isConfigured, "RPGBOT_TEST_POSTGRES_URL must be set by the test script")
    }
}
