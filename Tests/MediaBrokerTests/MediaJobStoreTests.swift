import Foundation
@testable import MediaBroker
import Synchronization
import TestSupport
import Testing

/// One suite, every store: in memory, SQLite, PostgreSQL.
@Suite("Media job stores")
struct MediaJobStoreTests {
    @Test("one live job per key, even under 200 concurrent inserts; a failed job frees its key", arguments: MediaStoreKind.available)
    func oneLiveJobPerKey(kind: MediaStoreKind) async throws {
        try await MediaFixture.withStore(kind) { store in
            let results = try await withThrowingTaskGroup(of: (String, Bool).self) { group in
                for _ in 0..<200 {
                    group.addTask {
                        let (job, created) = try await store.insertOrJoin(MediaFixture.job(key: "k1"))
                        return (job.id, created)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(results.map(\.0)).count == 1)
            #expect(results.filter(\.1).count == 1)
            var job = try #require(try await store.liveJob(key: "k1"))
            #expect(try await store.queuedCount(kind: .tts) == 1)
            job.status = .failed
            #expect(try await store.transition(job, from: [.queued]))
            #expect(try await store.liveJob(key: "k1") == nil)
            let (retry, created) = try await store.insertOrJoin(MediaFixture.job(key: "k1"))
            #expect(created && retry.id != job.id)
            #expect(try await store.job(id: job.id)?.status == .failed)
        }
    }

    @Test("claims take the oldest queued job once; transitions compare the status; abandoned leases come back", arguments: MediaStoreKind.available)
    func claimAndLease(kind: MediaStoreKind) async throws {
        try await MediaFixture.withStore(kind) { store in
            let first = try await store.insertOrJoin(MediaFixture.job(key: "a", at: 1)).job
            let second = try await store.insertOrJoin(MediaFixture.job(key: "b", at: 2)).job
            _ = try await store.insertOrJoin(MediaFixture.job(key: "c", kind: .image, engine: "placeholder", at: 0))
            let now = Date()
            let claimed = try #require(try await store.claim(kind: .tts, engine: "espeak-ng", leaseUntil: now.addingTimeInterval(60), now: now))
            #expect(claimed.id == first.id && claimed.status == .running && claimed.startedAt != nil)
            #expect(try await store.claim(kind: .tts, engine: "espeak-ng", leaseUntil: now.addingTimeInterval(-1), now: now)?.id == second.id)
            #expect(try await store.claim(kind: .tts, engine: "espeak-ng", leaseUntil: now, now: now) == nil)
            // Canceled meanwhile: the worker's success is not saved over it.
            var canceled = claimed
            canceled.status = .canceled
            #expect(try await store.transition(canceled, from: [.queued, .running]))
            var succeeded = claimed
            succeeded.status = .succeeded
            #expect(try await !store.transition(succeeded, from: [.running]))
            #expect(try await store.job(id: first.id)?.status == .canceled)
            // The second job's lease has passed: its process is taken for dead.
            #expect(try await store.requeueAbandoned(now: now) == 1)
            #expect(try await store.job(id: second.id)?.status == .queued)
            var done = try #require(try await store.claim(kind: .tts, engine: "espeak-ng", leaseUntil: now.addingTimeInterval(60), now: now))
            done.status = .succeeded
            done.artifact = ArtifactReference(sha256: String(repeating: "ab", count: 32), contentType: "audio/wav", bytes: 42)
            done.finishedAt = now
            #expect(try await store.transition(done, from: [.running]))
            let stored = try #require(try await store.job(id: second.id))
            #expect(stored.artifact == done.artifact && stored.status == .succeeded && stored.attempts == done.attempts)
            #expect(try await store.liveJob(key: "b")?.id == second.id)
        }
    }

    @Test("client tokens: the first one recorded holds until it expires", arguments: MediaStoreKind.available)
    func clientTokens(kind: MediaStoreKind) async throws {
        try await MediaFixture.withStore(kind) { store in
            let now = Date()
            #expect(try await store.clientToken(owner: "ada", token: "t1", now: now) == nil)
            let saved = try await store.saveClientToken(owner: "ada", token: "t1", jobID: "job_a", fingerprint: "f1", expiresAt: now.addingTimeInterval(60), now: now)
            #expect(saved.jobID == "job_a")
            let again = try await store.saveClientToken(owner: "ada", token: "t1", jobID: "job_b", fingerprint: "f2", expiresAt: now.addingTimeInterval(60), now: now)
            #expect(again.jobID == "job_a" && again.fingerprint == "f1")
            #expect(try await store.clientToken(owner: "bob", token: "t1", now: now) == nil)
            let later = now.addingTimeInterval(120)
            #expect(try await store.clientToken(owner: "ada", token: "t1", now: later) == nil)
            let replaced = try await store.saveClientToken(owner: "ada", token: "t1", jobID: "job_c", fingerprint: "f3", expiresAt: later.addingTimeInterval(60), now: later)
            #expect(replaced.jobID == "job_c")
        }
    }
}

@Suite("Media broker shutdown")
struct MediaShutdownTests {
    @Test("a job running when the broker stops goes back to the queue, and runs after a restart", .enabled(if: MediaRoutesTests.espeakAvailable, "needs espeak-ng"))
    func runningJobIsRequeued() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = InMemoryMediaJobStore()
        let engine = ControlledSpeechEngine()
        engine.holding.store(true, ordering: .relaxed)
        let artifacts = ArtifactStore(folder: directory.url.appendingPathComponent("artifacts"))
        let broker = MediaBroker(store: store, artifacts: artifacts, settings: MediaSettings(), speechEngines: [engine], imageEngines: [], logger: MediaFixture.quiet)
        let request = MediaRequest.speech(SpeechRequest(text: "Stop me.", voice: "en-us", language: "en", format: .wav))
        let runner = Task { try await broker.run() }
        let id = try await broker.submit(MediaBroker.Submission(request: request, campaignID: nil, clientToken: nil, owner: "ada")).job.id
        while engine.runs.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(10)) }
        runner.cancel()
        _ = try? await runner.value
        #expect(try await store.job(id: id)?.status == .queued)
        engine.holding.store(false, ordering: .relaxed)
        let restarted = MediaBroker(store: store, artifacts: artifacts, settings: MediaSettings(), speechEngines: [engine], imageEngines: [], logger: MediaFixture.quiet)
        let again = Task { try await restarted.run() }
        defer { again.cancel() }
        #expect(try await restarted.wait(for: id, upTo: .seconds(10))?.status == .succeeded)
    }
}
