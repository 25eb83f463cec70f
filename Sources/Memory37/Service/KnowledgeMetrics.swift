import Observability
import Prometheus

/// The metrics of Memory37. With metrics disabled every call is a no-op.
struct KnowledgeMetrics: Sendable {
    private let registry: MetricsRegistry?

    init(registry: MetricsRegistry?) {
        self.registry = registry
    }

    func ingested(_ report: IngestReport, duration: Duration) {
        guard let registry else { return }
        for (outcome, count) in [("added", report.added.count), ("updated", report.updated.count), ("unchanged", report.unchanged.count), ("removed", report.removed.count), ("failed", report.failed.count)] where count > 0 {
            registry.counter("memory37_documents_ingested_total", help: "Documents seen by ingestion, by outcome.", labels: [("outcome", outcome)]).increment(by: Int64(count))
        }
        if report.chunksWritten > 0 {
            registry.counter("memory37_chunks_written_total", help: "Chunks written by ingestion.").increment(by: Int64(report.chunksWritten))
        }
        if !report.carried.isEmpty {
            registry.counter("memory37_documents_ingested_total", help: "Documents seen by ingestion, by outcome.", labels: [("outcome", "carried")]).increment(by: Int64(report.carried.count))
        }
        registry.durationHistogram("memory37_ingest_seconds", help: "Time of one ingestion call.").record(duration)
    }

    func searched(store: String, duration: Duration) {
        registry?.durationHistogram("memory37_search_seconds", help: "Latency of a hybrid search, by store.", labels: [("store", store)]).record(duration)
    }

    func embedded(count: Int, duration: Duration) {
        guard let registry, count > 0 else { return }
        registry.durationHistogram("memory37_embedder_seconds", help: "Latency of one embedder call (a batch of texts).").record(duration)
        registry.counter("memory37_texts_embedded_total", help: "Texts turned into vectors.").increment(by: Int64(count))
    }

    /// What one cleanup deleted, by kind of item.
    func cleaned(_ report: CleanupReport) {
        guard let registry else { return }
        let help = "Items deleted by knowledge cleanup, by kind: expired documents per domain, retired versions, and their chunks."
        for (domain, count) in report.expiredDocuments where count > 0 {
            registry.counter("memory37_cleanup_deleted_total", help: help, labels: [("kind", "expired_\(domain.rawValue)_documents")]).increment(by: Int64(count))
        }
        for (kind, count) in [("expired_chunks", report.expiredChunks), ("retired_versions", report.retiredVersions.count), ("retired_chunks", report.retiredChunks)] where count > 0 {
            registry.counter("memory37_cleanup_deleted_total", help: help, labels: [("kind", kind)]).increment(by: Int64(count))
        }
        registry.counter("memory37_cleanup_runs_total", help: "Knowledge cleanup runs, by outcome (ran, or skipped while another node held the lock).", labels: [("outcome", report.skipped ? "skipped" : "ran")]).increment()
    }

    func fallback(_ active: Bool) {
        registry?.gauge("memory37_fallback_active", help: "1 while reads are served by the in-memory fallback store.").set(Double(active ? 1 : 0))
    }
}
