import JSONValues
public import Foundation
public import Logging
public import PostgresNIO
import ServiceKit

/// Jobs in PostgreSQL, shared by every node: a job is claimed with `FOR UPDATE SKIP LOCKED`,
/// so two nodes never run the same job, and a node that dies leaves a lease that expires.
public final class PostgresMediaJobStore: MediaJobStore {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    private func jobs(_ query: PostgresQuery) async throws -> [MediaJob] {
        var found: [MediaJob] = []
        for try await text in try await client.query(query, logger: logger).decode(String.self) {
            if let job = MediaJob(rowJSON: text) { found.append(job) }
        }
        return found
    }

    public func liveJob(key: String) async throws -> MediaJob? {
        try await jobs("SELECT row_to_json(j)::text FROM media_jobs j WHERE job_key = \(key) AND status IN ('queued', 'running', 'succeeded')").first
    }

    public func insertOrJoin(_ job: MediaJob) async throws -> (job: MediaJob, created: Bool) {
        // A live job that ends between the failed insert and the read frees the key: try again.
        for _ in 0..<3 {
            let inserted = try await jobs("""
                INSERT INTO media_jobs (id, kind, engine, job_key, parameters, campaign_id, owner, status, attempts, traceparent, created_at)
                VALUES (\(job.id), \(job.kind.rawValue), \(job.engine), \(job.key), \(job.parameters.canonicalText), \(job.campaignID), \(job.owner),
                        \(job.status.rawValue), \(job.attempts), \(job.traceparent), \(job.createdAt.timeIntervalSince1970))
                ON CONFLICT (job_key) WHERE status IN ('queued', 'running', 'succeeded') DO NOTHING
                RETURNING row_to_json(media_jobs)::text
                """)
            if let created = inserted.first { return (created, true) }
            if let existing = try await liveJob(key: job.key) { return (existing, false) }
        }
        throw MediaEngineError("could not insert or find the job for key \(job.key)", transient: true)
    }

    public func job(id: String) async throws -> MediaJob? {
        try await jobs("SELECT row_to_json(j)::text FROM media_jobs j WHERE id = \(id)").first
    }

    public func clientToken(owner: String, token: String, now: Date) async throws -> (jobID: String, fingerprint: String)? {
        let rows = try await client.query("SELECT job_id, fingerprint FROM media_client_tokens WHERE owner = \(owner) AND token = \(token) AND expires_at > \(now.timeIntervalSince1970)", logger: logger)
        for try await (jobID, fingerprint) in rows.decode((String, String).self) { return (jobID, fingerprint) }
        return nil
    }

    public func saveClientToken(owner: String, token: String, jobID: String, fingerprint: String, expiresAt: Date, now: Date) async throws -> (jobID: String, fingerprint: String) {
        let rows = try await client.query("""
            INSERT INTO media_client_tokens (owner, token, job_id, fingerprint, expires_at)
            VALUES (\(owner), \(token), \(jobID), \(fingerprint), \(expiresAt.timeIntervalSince1970))
            ON CONFLICT (owner, token) DO UPDATE SET job_id = EXCLUDED.job_id, fingerprint = EXCLUDED.fingerprint, expires_at = EXCLUDED.expires_at
                WHERE media_client_tokens.expires_at <= \(now.timeIntervalSince1970)
            RETURNING job_id, fingerprint
            """, logger: logger)
        for try await (saved, print) in rows.decode((String, String).self) { return (saved, print) }
        // An unexpired token was there first.
        return try await clientToken(owner: owner, token: token, now: now) ?? (jobID, fingerprint)
    }

    public func claim(kind: MediaKind, engine: String, leaseUntil: Date, now: Date) async throws -> MediaJob? {
        try await jobs("""
            UPDATE media_jobs SET status = 'running', started_at = COALESCE(started_at, \(now.timeIntervalSince1970)), lease_until = \(leaseUntil.timeIntervalSince1970)
            WHERE id = (
                SELECT id FROM media_jobs WHERE status = 'queued' AND kind = \(kind.rawValue) AND engine = \(engine)
                ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
            )
            RETURNING row_to_json(media_jobs)::text
            """).first
    }

    public func transition(_ job: MediaJob, from: Set<MediaJobStatus>) async throws -> Bool {
        let statuses = from.map(\.rawValue).sorted()
        let rows = try await client.query("""
            UPDATE media_jobs SET status = \(job.status.rawValue), attempts = \(job.attempts), error = \(job.error?.canonicalText),
                artifact_sha256 = \(job.artifact?.sha256), artifact_type = \(job.artifact?.contentType), artifact_bytes = \(job.artifact.map { Int64($0.bytes) }),
                started_at = \(job.startedAt?.timeIntervalSince1970), finished_at = \(job.finishedAt?.timeIntervalSince1970), lease_until = \(job.leaseUntil?.timeIntervalSince1970)
            WHERE id = \(job.id) AND status = ANY(\(statuses))
            RETURNING id
            """, logger: logger)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public var isShared: Bool { true }

    public func renewLease(id: String, until: Date) async throws -> Bool {
        let rows = try await client.query("UPDATE media_jobs SET lease_until = \(until.timeIntervalSince1970) WHERE id = \(id) AND status = 'running' RETURNING id", logger: logger)
        for try await _ in rows.decode(String.self) { return true }
        return false
    }

    public func requeueAbandoned(now: Date) async throws -> Int {
        var count = 0
        let rows = try await client.query("UPDATE media_jobs SET status = 'queued', lease_until = NULL WHERE status = 'running' AND (lease_until IS NULL OR lease_until < \(now.timeIntervalSince1970)) RETURNING id", logger: logger)
        for try await _ in rows.decode(String.self) { count += 1 }
        return count
    }

    public func queuedCount(kind: MediaKind) async throws -> Int {
        for try await count in try await client.query("SELECT COUNT(*)::bigint FROM media_jobs WHERE status = 'queued' AND kind = \(kind.rawValue)", logger: logger).decode(Int64.self) {
            return Int(count)
        }
        return 0
    }

    public func addRequester(jobID: String, requester: String) async throws {
        try await client.query("INSERT INTO media_job_requesters (job_id, requester) VALUES (\(jobID), \(requester)) ON CONFLICT DO NOTHING", logger: logger)
    }

    public func withdrawRequester(jobID: String, requester: String) async throws -> Int? {
        // One statement: the delete and the count of the others see one snapshot.
        let rows = try await client.query("""
            WITH gone AS (DELETE FROM media_job_requesters WHERE job_id = \(jobID) AND requester = \(requester) RETURNING 1)
            SELECT (SELECT COUNT(*) FROM gone)::bigint, (SELECT COUNT(*) FROM media_job_requesters WHERE job_id = \(jobID) AND requester <> \(requester))::bigint
            """, logger: logger)
        for try await (deleted, remaining) in rows.decode((Int64, Int64).self) {
            return deleted > 0 ? Int(remaining) : nil
        }
        return nil
    }
}

extension MediaJob {
    /// A `media_jobs` row as `row_to_json` writes it.
    init?(rowJSON text: String) {
        guard let row = (try? JSONValue.parse(text))?.objectValue, let id = row["id"]?.stringValue,
              let kind = row["kind"]?.stringValue.flatMap(MediaKind.init(rawValue:)), let status = row["status"]?.stringValue.flatMap(MediaJobStatus.init(rawValue:))
        else { return nil }
        func date(_ name: String) -> Date? { row[name]?.numberValue.map(Date.init(timeIntervalSince1970:)) }
        var artifact: ArtifactReference?
        if let sha = row["artifact_sha256"]?.stringValue {
            artifact = ArtifactReference(sha256: sha, contentType: row["artifact_type"]?.stringValue ?? "application/octet-stream", bytes: row["artifact_bytes"]?.intValue ?? 0)
        }
        self.init(
            id: id, kind: kind, engine: row["engine"]?.stringValue ?? "", key: row["job_key"]?.stringValue ?? "",
            parameters: row["parameters"]?.stringValue.flatMap { try? JSONValue.parse($0) } ?? .object([:]),
            campaignID: row["campaign_id"]?.stringValue, owner: row["owner"]?.stringValue ?? "", status: status,
            attempts: row["attempts"]?.intValue ?? 0, error: row["error"]?.stringValue.flatMap { try? JSONValue.parse($0) }, artifact: artifact,
            createdAt: date("created_at") ?? Date(), startedAt: date("started_at"), finishedAt: date("finished_at"), leaseUntil: date("lease_until"),
            traceparent: row["traceparent"]?.stringValue
        )
    }
}
