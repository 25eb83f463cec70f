public import Foundation
import Synchronization

/// Jobs in process memory, for the store tests; lost at exit.
final class InMemoryMediaJobStore: MediaJobStore {
    private struct State {
        var jobs: [String: MediaJob] = [:]
        var order: [String] = []
        var tokens: [String: (jobID: String, fingerprint: String, expiresAt: Date)] = [:]
        var requesters: [String: Set<String>] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    public func liveJob(key: String) async throws -> MediaJob? {
        state.withLock { state in Self.live(key, in: state) }
    }

    public func insertOrJoin(_ job: MediaJob) async throws -> (job: MediaJob, created: Bool) {
        state.withLock { state in
            if let existing = Self.live(job.key, in: state) {
                return (existing, false)
            }
            state.jobs[job.id] = job
            state.order.append(job.id)
            return (job, true)
        }
    }

    private static func live(_ key: String, in state: State) -> MediaJob? {
        for id in state.order {
            if let job = state.jobs[id], job.key == key, job.status.sharesKey { return job }
        }
        return nil
    }

    public func job(id: String) async throws -> MediaJob? {
        state.withLock { $0.jobs[id] }
    }

    public func clientToken(owner: String, token: String, now: Date) async throws -> (jobID: String, fingerprint: String)? {
        state.withLock { state in
            guard let entry = state.tokens[owner + "\u{0}" + token], entry.expiresAt > now else { return nil }
            return (entry.jobID, entry.fingerprint)
        }
    }

    public func saveClientToken(owner: String, token: String, jobID: String, fingerprint: String, expiresAt: Date, now: Date) async throws -> (jobID: String, fingerprint: String) {
        state.withLock { state in
            let key = owner + "\u{0}" + token
            if let entry = state.tokens[key], entry.expiresAt > now { return (entry.jobID, entry.fingerprint) }
            state.tokens[key] = (jobID, fingerprint, expiresAt)
            return (jobID, fingerprint)
        }
    }

    public func claim(kind: MediaKind, engine: String, leaseUntil: Date, now: Date) async throws -> MediaJob? {
        state.withLock { state in
            guard let id = state.order.first(where: { state.jobs[$0].map { $0.status == .queued && $0.kind == kind && $0.engine == engine } ?? false }) else { return nil }
            state.jobs[id]!.status = .running
            state.jobs[id]!.startedAt = state.jobs[id]!.startedAt ?? now
            state.jobs[id]!.leaseUntil = leaseUntil
            return state.jobs[id]
        }
    }

    public func transition(_ job: MediaJob, from: Set<MediaJobStatus>) async throws -> Bool {
        state.withLock { state in
            guard let current = state.jobs[job.id], from.contains(current.status) else { return false }
            state.jobs[job.id] = job
            return true
        }
    }

    public var isShared: Bool { false }

    public func renewLease(id: String, until: Date) async throws -> Bool {
        state.withLock { state in
            guard state.jobs[id]?.status == .running else { return false }
            state.jobs[id]!.leaseUntil = until
            return true
        }
    }

    public func requeueAbandoned(now: Date) async throws -> Int {
        state.withLock { state in
            var count = 0
            for id in state.order where state.jobs[id]?.status == .running && (state.jobs[id]?.leaseUntil ?? .distantPast) < now {
                state.jobs[id]!.status = .queued
                state.jobs[id]!.leaseUntil = nil
                count += 1
            }
            return count
        }
    }

    public func queuedCount(kind: MediaKind) async throws -> Int {
        state.withLock { state in state.jobs.values.filter { $0.status == .queued && $0.kind == kind }.count }
    }

    public func addRequester(jobID: String, requester: String) async throws {
        state.withLock { _ = $0.requesters[jobID, default: []].insert(requester) }
    }

    public func withdrawRequester(jobID: String, requester: String) async throws -> Int? {
        state.withLock { state in
            guard state.requesters[jobID]?.remove(requester) != nil else { return nil }
            return state.requesters[jobID]?.count ?? 0
        }
    }
}
