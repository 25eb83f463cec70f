import Foundation
import Logging
import MediaBroker
import Persistence
import ServiceKit
import Synchronization
import TestSupport

/// The three job stores, each fresh.
enum MediaStoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, sqlite, postgres
    var testDescription: String { rawValue }

    static var available: [MediaStoreKind] {
        PostgresTestServer.isConfigured || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1" ? allCases : [.memory, .sqlite]
    }
}

import Testing

enum MediaFixture {
    static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    static func withStore<T: Sendable>(_ kind: MediaStoreKind, _ body: @Sendable (any MediaJobStore) async throws -> T) async throws -> T {
        switch kind {
        case .memory:
            return try await body(InMemoryMediaJobStore())
        case .sqlite, .postgres:
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let url: DatabaseURL = kind == .sqlite ? .sqlite(path: directory.file("m.sqlite").path) : try await PostgresTestServer.makeDatabase(prefix: "media")
            let database = try DatabaseHandle.open(url, logger: quiet)
            return try await withRunningDatabase(database) { database in
                let migrations = MigrationRunner()
                migrations.register(MediaMigrations.all)
                _ = try await migrations.apply(to: database)
                let store: any MediaJobStore =
                    switch database.backend {
                    case .sqlite(let pool): SQLiteMediaJobStore(pool: pool)
                    case .postgres(let client): PostgresMediaJobStore(client: client, logger: quiet)
                    }
                return try await body(store)
            }
        }
    }

    static func job(key: String, kind: MediaKind = .tts, engine: String = "espeak-ng", at seconds: Double = 0) -> MediaJob {
        MediaJob(id: MediaJob.newID(), kind: kind, engine: engine, key: key, parameters: .object(["text": .string(key)]), campaignID: nil, owner: "ada", createdAt: Date(timeIntervalSince1970: 1_700_000_000 + seconds))
    }
}

/// A speech engine that counts its runs and can be held until released, around a real one.
final class ControlledSpeechEngine: SpeechEngine {
    let base: any SpeechEngine
    let runs = Atomic<Int>(0)
    let holding = Atomic<Bool>(false)
    let failures = Atomic<Int>(0)
    var name: String { base.name }

    init(base: any SpeechEngine = EspeakEngine()) {
        self.base = base
    }

    func capabilities() async -> SpeechCapabilities { await base.capabilities() }

    func synthesize(_ request: SpeechRequest) async throws -> MediaOutput {
        runs.wrappingAdd(1, ordering: .relaxed)
        while holding.load(ordering: .relaxed) {
            try await Task.sleep(for: .milliseconds(10))
        }
        if failures.load(ordering: .relaxed) > 0 {
            failures.wrappingSubtract(1, ordering: .relaxed)
            throw MediaEngineError("the engine hiccuped", transient: true)
        }
        return try await base.synthesize(request)
    }
}
