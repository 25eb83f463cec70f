import Observability
import Prometheus

/// The media broker's metrics; with metrics disabled every call is a no-op.
struct MediaMetrics: Sendable {
    let registry: MetricsRegistry?

    func requested(_ kind: MediaKind, outcome: String) {
        registry?.counter("media_requests_total", help: "Media requests by kind and outcome: created, joined (same key in flight), cache_hit (already succeeded).", labels: [("kind", kind.rawValue), ("outcome", outcome)]).increment()
    }

    func finished(_ job: MediaJob) {
        registry?.counter("media_jobs_total", help: "Jobs that reached a final state, by kind, engine and state.", labels: [("kind", job.kind.rawValue), ("engine", job.engine), ("status", job.status.rawValue)]).increment()
        if let artifact = job.artifact, job.status == .succeeded {
            registry?.counter("media_artifact_bytes_total", help: "Bytes of artifacts produced.", labels: [("kind", job.kind.rawValue)]).increment(by: Int64(artifact.bytes))
        }
    }

    func engineRun(_ kind: MediaKind, engine: String, outcome: String, duration: Duration) {
        registry?.durationHistogram("media_engine_seconds", help: "Time of one engine run, by outcome.", labels: [("kind", kind.rawValue), ("engine", engine), ("outcome", outcome)]).record(duration)
    }

    func queueDepth(_ kind: MediaKind, _ depth: Int) {
        registry?.gauge("media_queue_depth", help: "Queued jobs by kind.", labels: [("kind", kind.rawValue)]).set(Int64(depth))
    }
}
