public import Persistence

/// The tables of the media broker.
public enum MediaMigrations {
    static let jobColumns = """
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        engine TEXT NOT NULL,
        job_key TEXT NOT NULL,
        parameters TEXT NOT NULL,
        campaign_id TEXT,
        owner TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        error TEXT,
        artifact_sha256 TEXT,
        artifact_type TEXT,
        artifact_bytes BIGINT,
        traceparent TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        started_at DOUBLE PRECISION,
        finished_at DOUBLE PRECISION,
        lease_until DOUBLE PRECISION
        """

    static let indexes = [
        // At most one live job per key: concurrent identical requests cannot both insert.
        "CREATE UNIQUE INDEX media_jobs_live_key ON media_jobs (job_key) WHERE status IN ('queued', 'running', 'succeeded')",
        "CREATE INDEX media_jobs_queue ON media_jobs (status, kind, engine, created_at)",
    ]

    static let tokens = """
        CREATE TABLE media_client_tokens (
            owner TEXT NOT NULL,
            token TEXT NOT NULL,
            job_id TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (owner, token)
        )
        """

    public static let all: [Migration] = [
        Migration(
            id: "media.001_jobs",
            sqlite: ["CREATE TABLE media_jobs (\(jobColumns))"] + indexes + [tokens],
            postgres: ["CREATE TABLE media_jobs (\(jobColumns))"] + indexes + [tokens]
        ),
        // Who asked for a job: deduplication shares one job between callers, so cancelling
        // withdraws one caller's interest and stops the job only when nobody wants it still.
        Migration(
            id: "media.002_requesters",
            sqlite: requesters,
            postgres: requesters
        ),
    ]

    static let requesters = [
        "CREATE TABLE media_job_requesters (job_id TEXT NOT NULL, requester TEXT NOT NULL, PRIMARY KEY (job_id, requester))",
        "INSERT INTO media_job_requesters (job_id, requester) SELECT id, owner FROM media_jobs WHERE status IN ('queued', 'running')",
    ]
}
