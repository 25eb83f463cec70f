public import Foundation

/// Where media jobs and client tokens live: in memory, SQLite or PostgreSQL, one test suite
/// for all three. Every method is atomic on its own; the key rule — at most one queued,
/// running or succeeded job per key — holds under concurrent callers (a unique index in the
/// databases).
public protocol MediaJobStore: Sendable {
    /// The queued, running or succeeded job holding `key`, if any.
    func liveJob(key: String) async throws -> MediaJob?
    /// Inserts `job`, unless a live job already holds its key: then that one is returned.
    func insertOrJoin(_ job: MediaJob) async throws -> (job: MediaJob, created: Bool)
    func job(id: String) async throws -> MediaJob?
    /// The job a caller's client token names, with the fingerprint of the body it came with.
    func clientToken(owner: String, token: String, now: Date) async throws -> (jobID: String, fingerprint: String)?
    /// Records a client token unless an unexpired one exists; returns the one in force.
    func saveClientToken(owner: String, token: String, jobID: String, fingerprint: String, expiresAt: Date, now: Date) async throws -> (jobID: String, fingerprint: String)
    /// Moves the oldest queued job of `engine` to running, leased until `leaseUntil`.
    func claim(kind: MediaKind, engine: String, leaseUntil: Date, now: Date) async throws -> MediaJob?
    /// Saves `job` if the stored status is one of `from`; false when it was not (e.g. canceled meanwhile).
    func transition(_ job: MediaJob, from: Set<MediaJobStatus>) async throws -> Bool
    /// Whether several processes share the store (PostgreSQL): then a running job may belong to
    /// a live node, and only an expired lease marks it abandoned.
    var isShared: Bool { get }
    /// Extends a running job's lease; false when the job is no longer running.
    func renewLease(id: String, until: Date) async throws -> Bool
    /// Running jobs whose lease passed are queued again (their process died); returns how many.
    func requeueAbandoned(now: Date) async throws -> Int
    /// Queued jobs of a kind.
    func queuedCount(kind: MediaKind) async throws -> Int
    /// Records that `requester` wants the job (idempotent).
    func addRequester(jobID: String, requester: String) async throws
    /// Withdraws `requester`'s interest in the job; returns how many requesters remain, or nil
    /// when `requester` had not asked for it.
    func withdrawRequester(jobID: String, requester: String) async throws -> Int?
}
