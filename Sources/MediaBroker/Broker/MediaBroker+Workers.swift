import JSONValues
import Crypto
public import Foundation
import Logging
import Observability
public import ServiceKit
import ServiceLifecycle
import Synchronization
import Tracing

/// The worker pool: `run()` requeues what a dead process left running, then keeps a bounded
/// number of workers per kind claiming queued jobs under a lease it renews, running the
/// engine within the job timeout with retries of transient failures, storing the artifact and
/// the final state, and telling the observer of every change.
extension MediaBroker {
    public func run() async throws {
        // Only this process uses an SQLite file: every job it finds running was abandoned by a
        // crash. A shared PostgreSQL store only gives up jobs whose lease expired (their node
        // stopped renewing it). The tables appear when the server's migrations have run,
        // which happens beside this.
        try await cancelWhenGracefulShutdown {
            var recovered: Int?
            while recovered == nil, !Task.isCancelled {
                let store = self.store
                recovered = try? await withDeadline(Self.storeCallDeadline) { try await store.requeueAbandoned(now: store.isShared ? Date() : .distantFuture) }
                if recovered == nil { try? await Task.sleep(for: .milliseconds(100)) }
            }
            guard !Task.isCancelled else { return }
            if let recovered, recovered > 0 { self.logger.notice("media jobs re-queued after a restart", metadata: ["jobs": "\(recovered)"]) }
            self.artifacts.removePartialFiles()
            await withDiscardingTaskGroup { group in
                for kind in MediaKind.allCases {
                    for _ in 0..<max(1, self.settings.workers) {
                        group.addTask { await self.work(kind) }
                    }
                }
                group.addTask {
                    // Leases of jobs whose node died come back into the queue.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(15))
                        let store = self.store
                        _ = try? await withDeadline(Self.storeCallDeadline) { try await store.requeueAbandoned(now: Date()) }
                    }
                }
            }
        }
    }

    /// The longest a background store call may take before the loop making it moves on.
    static let storeCallDeadline: Duration = .seconds(5)

    func work(_ kind: MediaKind) async {
        while !Task.isCancelled {
            let engine = defaultEngines(kind)
            var claimed: MediaJob?
            for name in engine where claimed == nil {
                let store = self.store
                claimed = (try? await withDeadline(Self.storeCallDeadline) { try await store.claim(kind: kind, engine: name, leaseUntil: Date().addingTimeInterval(Self.leaseSeconds), now: Date()) }) ?? nil
            }
            guard let job = claimed else {
                await signals.wait(for: "work:\(kind.rawValue)", upTo: settings.pollInterval)
                continue
            }
            let task = Task { await self.execute(job) }
            running.withLock { $0[job.id] = task }
            // The lease is renewed while the job runs, so another node takes it over only
            // when this process stops renewing (it died).
            let heartbeat = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(Self.leaseSeconds / 3))
                    if Task.isCancelled { break }
                    _ = try? await self.store.renewLease(id: job.id, until: Date().addingTimeInterval(Self.leaseSeconds))
                }
            }
            // Cancelling the worker cancels the job, which then puts itself back in the queue.
            await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
            heartbeat.cancel()
            running.withLock { $0[job.id] = nil }
        }
    }

    func execute(_ claimed: MediaJob) async {
        var job = claimed
        await notify(job)
        await withSpan("media.job", ofKind: .consumer) { span in
            span.attributes["rpgbot.media.job_id"] = job.id
            span.attributes["rpgbot.media.kind"] = job.kind.rawValue
            span.attributes["rpgbot.media.engine"] = job.engine
            if let traceparent = job.traceparent {
                span.attributes["rpgbot.media.requested_by"] = traceparent
                TraceLink.link(span, to: traceparent)
            }
            guard let request = job.request else {
                await finish(&job, failure: "the stored parameters cannot be read")
                return
            }
            var attempt = 0
            while true {
                attempt += 1
                job.attempts += 1
                let started = ContinuousClock.now
                do {
                    let output = try await runEngine(request, engine: job.engine)
                    metrics.engineRun(job.kind, engine: job.engine, outcome: "ok", duration: ContinuousClock.now - started)
                    job.artifact = try artifacts.write(output)
                    job.status = .succeeded
                    job.error = nil
                    await finish(&job, failure: nil)
                    span.attributes["rpgbot.media.bytes"] = job.artifact?.bytes ?? 0
                    return
                } catch is CancellationError {
                    // Canceled by DELETE: the job is already stored as canceled and this changes
                    // nothing. Stopped by a shutdown: the job goes back to the queue at once
                    // rather than waiting for its lease or a restart.
                    var requeued = job
                    requeued.status = .queued
                    requeued.leaseUntil = nil
                    _ = try? await store.transition(requeued, from: [.running])
                    return
                } catch let error as MediaEngineError where error.transient && attempt <= settings.retries && !Task.isCancelled {
                    metrics.engineRun(job.kind, engine: job.engine, outcome: "retry", duration: ContinuousClock.now - started)
                    logger.warning("media engine failed; retrying", metadata: ["job": "\(job.id)", "attempt": "\(attempt)", "error": "\(error)"])
                    guard (try? await store.transition(job, from: [.running])) == true else { return }
                    try? await Task.sleep(for: settings.initialBackoff * (1 << (attempt - 1)))
                    if Task.isCancelled { return }
                } catch {
                    metrics.engineRun(job.kind, engine: job.engine, outcome: "error", duration: ContinuousClock.now - started)
                    span.recordError(error)
                    await finish(&job, failure: "\(error)")
                    return
                }
            }
        }
    }

    func runEngine(_ request: MediaRequest, engine: String) async throws -> MediaOutput {
        let timeout = settings.jobTimeout
        return try await withThrowingTaskGroup(of: MediaOutput?.self) { group in
            group.addTask {
                switch request {
                case .speech(let speech):
                    guard let engine = self.speechEngines[engine] else { throw MediaEngineError("no speech engine \(engine) here", transient: false) }
                    return try await engine.synthesize(speech)
                case .image(let image):
                    guard let engine = self.imageEngines[engine] else { throw MediaEngineError("no image engine \(engine) here", transient: false) }
                    return try await engine.render(image)
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let output = first else {
                throw MediaEngineError("the engine took longer than \(timeout)", transient: true)
            }
            return output
        }
    }

    /// Stores the final state (unless the job was canceled meanwhile) and tells whoever waits.
    func finish(_ job: inout MediaJob, failure: String?) async {
        if let failure {
            job.status = .failed
            job.error = .object([
                "type": .string("https://rpgbot.dev/problems/media-engine-failed"), "title": .string("Media engine failed"),
                "status": .number(502), "code": .string("engine_failed"), "detail": .string(failure),
            ])
        }
        job.finishedAt = Date()
        job.leaseUntil = nil
        if (try? await store.transition(job, from: [.running])) == true {
            metrics.finished(job)
            await notify(job)
        }
        signals.signal(job.id)
        if let depth = try? await store.queuedCount(kind: job.kind) { metrics.queueDepth(job.kind, depth) }
    }

    func notify(_ job: MediaJob) async {
        guard job.campaignID != nil, let observer else { return }
        await observer.jobUpdated(job)
    }

    /// How long a running job stays claimed without a renewal.
    static let leaseSeconds = 30.0

    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).hexString
    }

}
