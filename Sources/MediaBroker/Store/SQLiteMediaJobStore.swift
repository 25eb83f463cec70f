import JSONValues
public import Foundation
public import GRDB
import ServiceKit

/// Jobs in the embedded SQLite database. One process owns the file, so claiming needs no
/// row locks: writes are serialised by SQLite.
public final class SQLiteMediaJobStore: MediaJobStore {
    let pool: DatabasePool

    public init(pool: DatabasePool) {
        self.pool = pool
    }

    static let live = "status IN ('queued', 'running', 'succeeded')"

    public func liveJob(key: String) async throws -> MediaJob? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM media_jobs WHERE job_key = ? AND \(Self.live)", arguments: [key]).map(Self.job) }
    }

    public func insertOrJoin(_ job: MediaJob) async throws -> (job: MediaJob, created: Bool) {
        try await pool.write { db in
            if let existing = try Row.fetchOne(db, sql: "SELECT * FROM media_jobs WHERE job_key = ? AND \(Self.live)", arguments: [job.key]).map(Self.job) {
                return (existing, false)
            }
            try Self.insert(job, db: db)
            return (job, true)
        }
    }

    public func job(id: String) async throws -> MediaJob? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM media_jobs WHERE id = ?", arguments: [id]).map(Self.job) }
    }

    public func clientToken(owner: String, token: String, now: Date) async throws -> (jobID: String, fingerprint: String)? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT job_id, fingerprint FROM media_client_tokens WHERE owner = ? AND token = ? AND expires_at > ?", arguments: [owner, token, now.timeIntervalSince1970])
                .map { ($0["job_id"], $0["fingerprint"]) }
        }
    }

    public func saveClientToken(owner: String, token: String, jobID: String, fingerprint: String, expiresAt: Date, now: Date) async throws -> (jobID: String, fingerprint: String) {
        try await pool.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT job_id, fingerprint FROM media_client_tokens WHERE owner = ? AND token = ? AND expires_at > ?", arguments: [owner, token, now.timeIntervalSince1970]) {
                return (row["job_id"], row["fingerprint"])
            }
            try db.execute(sql: "INSERT OR REPLACE INTO media_client_tokens (owner, token, job_id, fingerprint, expires_at) VALUES (?, ?, ?, ?, ?)", arguments: [owner, token, jobID, fingerprint, expiresAt.timeIntervalSince1970])
            return (jobID, fingerprint)
        }
    }

    public func claim(kind: MediaKind, engine: String, leaseUntil: Date, now: Date) async throws -> MediaJob? {
        try await pool.write { db in
            guard var job = try Row.fetchOne(db, sql: "SELECT * FROM media_jobs WHERE status = 'queued' AND kind = ? AND engine = ? ORDER BY created_at, id LIMIT 1", arguments: [kind.rawValue, engine]).map(Self.job) else { return nil }
            job.status = .running
            job.startedAt = job.startedAt ?? now
            job.leaseUntil = leaseUntil
            try db.execute(sql: "UPDATE media_jobs SET status = 'running', started_at = ?, lease_until = ? WHERE id = ?", arguments: [job.startedAt?.timeIntervalSince1970, leaseUntil.timeIntervalSince1970, job.id])
            return job
        }
    }

    public func transition(_ job: MediaJob, from: Set<MediaJobStatus>) async throws -> Bool {
        try await pool.write { db in
            let statuses = from.map(\.rawValue).sorted()
            try db.execute(sql: """
                UPDATE media_jobs SET status = ?, attempts = ?, error = ?, artifact_sha256 = ?, artifact_type = ?, artifact_bytes = ?,
                    started_at = ?, finished_at = ?, lease_until = ?
                WHERE id = ? AND status IN (\(statuses.map { _ in "?" }.joined(separator: ",")))
                """, arguments: StatementArguments([
                    job.status.rawValue, job.attempts, job.error?.canonicalText, job.artifact?.sha256, job.artifact?.contentType, job.artifact?.bytes,
                    job.startedAt?.timeIntervalSince1970, job.finishedAt?.timeIntervalSince1970, job.leaseUntil?.timeIntervalSince1970, job.id,
                ] as [(any DatabaseValueConvertible)?]) + StatementArguments(statuses))
            return db.changesCount > 0
        }
    }

    public var isShared: Bool { false }

    public func renewLease(id: String, until: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE media_jobs SET lease_until = ? WHERE id = ? AND status = 'running'", arguments: [until.timeIntervalSince1970, id])
            return db.changesCount > 0
        }
    }

    public func requeueAbandoned(now: Date) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "UPDATE media_jobs SET status = 'queued', lease_until = NULL WHERE status = 'running' AND (lease_until IS NULL OR lease_until < ?)", arguments: [now.timeIntervalSince1970])
            return db.changesCount
        }
    }

    public func queuedCount(kind: MediaKind) async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM media_jobs WHERE status = 'queued' AND kind = ?", arguments: [kind.rawValue]) ?? 0 }
    }

    public func addRequester(jobID: String, requester: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO media_job_requesters (job_id, requester) VALUES (?, ?)", arguments: [jobID, requester])
        }
    }

    public func withdrawRequester(jobID: String, requester: String) async throws -> Int? {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM media_job_requesters WHERE job_id = ? AND requester = ?", arguments: [jobID, requester])
            guard db.changesCount > 0 else { return nil }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM media_job_requesters WHERE job_id = ?", arguments: [jobID]) ?? 0
        }
    }

    static func insert(_ job: MediaJob, db: GRDB.Database) throws {
        try db.execute(sql: """
            INSERT INTO media_jobs (id, kind, engine, job_key, parameters, campaign_id, owner, status, attempts, error, artifact_sha256, artifact_type,
                artifact_bytes, traceparent, created_at, started_at, finished_at, lease_until)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: StatementArguments([
                job.id, job.kind.rawValue, job.engine, job.key, job.parameters.canonicalText, job.campaignID, job.owner, job.status.rawValue, job.attempts,
                job.error?.canonicalText, job.artifact?.sha256, job.artifact?.contentType, job.artifact?.bytes, job.traceparent,
                job.createdAt.timeIntervalSince1970, job.startedAt?.timeIntervalSince1970, job.finishedAt?.timeIntervalSince1970, job.leaseUntil?.timeIntervalSince1970,
            ] as [(any DatabaseValueConvertible)?]))
    }

    static func job(_ row: Row) -> MediaJob {
        var artifact: ArtifactReference?
        if let sha: String = row["artifact_sha256"] {
            artifact = ArtifactReference(sha256: sha, contentType: row["artifact_type"] ?? "application/octet-stream", bytes: row["artifact_bytes"] ?? 0)
        }
        func date(_ column: String) -> Date? { (row[column] as Double?).map(Date.init(timeIntervalSince1970:)) }
        return MediaJob(
            id: row["id"], kind: MediaKind(rawValue: row["kind"]) ?? .tts, engine: row["engine"], key: row["job_key"],
            parameters: (try? JSONValue.parse(row["parameters"] as String)) ?? .object([:]), campaignID: row["campaign_id"], owner: row["owner"],
            status: MediaJobStatus(rawValue: row["status"]) ?? .failed, attempts: row["attempts"],
            error: (row["error"] as String?).flatMap { try? JSONValue.parse($0) }, artifact: artifact,
            createdAt: date("created_at") ?? Date(), startedAt: date("started_at"), finishedAt: date("finished_at"), leaseUntil: date("lease_until"),
            traceparent: row["traceparent"]
        )
    }
}
