import Foundation
import MediaBroker
import Persistence
import Synchronization
import TestSupport
import Testing

@Suite("Two brokers on one PostgreSQL")
struct SharedStoreTests {
    @Test("jobs submitted on one node are run once across both, and both see every result",
          .enabled(if: (PostgresTestServer.isConfigured || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1") && MediaRoutesTests.espeakAvailable, "needs PostgreSQL and espeak-ng"))
    func jobsRunOnceAcrossNodes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let url = try await PostgresTestServer.makeDatabase(prefix: "media_nodes")
        let first = try DatabaseHandle.open(url, logger: MediaFixture.quiet)
        let second = try DatabaseHandle.open(url, logger: MediaFixture.quiet)
        try await withRunningDatabase(first) { first in
            try await withRunningDatabase(second) { second in
                let migrations = MigrationRunner()
                migrations.register(MediaMigrations.all)
                _ = try await migrations.apply(to: first)
                guard case .postgres(let clientA) = first.backend, case .postgres(let clientB) = second.backend else { return }
                let artifacts = ArtifactStore(folder: directory.url.appendingPathComponent("artifacts"))
                let engineA = ControlledSpeechEngine(), engineB = ControlledSpeechEngine()
                var settings = MediaSettings()
                settings.pollInterval = .milliseconds(50)
                let nodeA = MediaBroker(store: PostgresMediaJobStore(client: clientA, logger: MediaFixture.quiet), artifacts: artifacts, settings: settings, speechEngines: [engineA], imageEngines: [], logger: MediaFixture.quiet)
                let nodeB = MediaBroker(store: PostgresMediaJobStore(client: clientB, logger: MediaFixture.quiet), artifacts: artifacts, settings: settings, speechEngines: [engineB], imageEngines: [], logger: MediaFixture.quiet)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await nodeA.run() }
                    group.addTask { try await nodeB.run() }
                    defer { group.cancelAll() }
                    var ids: [String] = []
                    for index in 0..<20 {
                        let request = MediaRequest.speech(SpeechRequest(text: "Line \(index) of the tide song.", voice: "en-us", language: "en", format: .wav))
                        ids.append(try await nodeA.submit(MediaBroker.Submission(request: request, campaignID: nil, clientToken: nil, owner: "ada")).job.id)
                    }
                    for id in ids {
                        let seenByB = try await nodeB.wait(for: id, upTo: .seconds(20))
                        #expect(seenByB?.status == .succeeded && seenByB?.attempts == 1)
                    }
                    let runs = engineA.runs.load(ordering: .relaxed) + engineB.runs.load(ordering: .relaxed)
                    #expect(runs == 20)
                }
            }
        }
    }
}
