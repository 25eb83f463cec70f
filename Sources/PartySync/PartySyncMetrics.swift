import Foundation
import Observability
import Prometheus

/// The metrics of Party Sync. With metrics disabled every call is a no-op.
struct PartySyncMetrics: Sendable {
    private let connections: Gauge?
    private let campaignsActive: Gauge?
    private let published: Counter?
    private let delivered: Counter?
    private let replayed: Counter?
    private let duplicates: Counter?
    private let rateLimited: Counter?
    private let slowConsumerCloses: Counter?
    private let protocolErrors: MetricsRegistry?
    private let publishToCommit: DurationHistogram?
    private let deliveryLatency: DurationHistogram?
    private let writerWakeups: Counter?
    private let flushes: Counter?
    private let clusterListening: Gauge?
    private let clusterRead: Counter?

    init(registry: MetricsRegistry?) {
        connections = registry?.gauge("party_sync_connections", help: "Open Party Sync WebSocket connections.")
        campaignsActive = registry?.gauge("party_sync_campaigns_active", help: "Campaigns with a live channel in this process.")
        published = registry?.counter("party_sync_events_published_total", help: "Events stored under a new offset.")
        delivered = registry?.counter("party_sync_events_delivered_total", help: "Live event frames queued to connections.")
        replayed = registry?.counter("party_sync_events_replayed_total", help: "Event frames replayed on resume.")
        duplicates = registry?.counter("party_sync_duplicates_total", help: "Publishes answered from an earlier cmid or Idempotency-Key.")
        rateLimited = registry?.counter("party_sync_rate_limited_total", help: "Frames and requests refused by a rate limit.")
        slowConsumerCloses = registry?.counter("party_sync_slow_consumer_closes_total", help: "Connections closed because they did not read fast enough.")
        protocolErrors = registry
        publishToCommit = registry?.durationHistogram("party_sync_publish_commit_seconds", help: "Time from a publish request to its committed offset.")
        writerWakeups = registry?.counter("party_sync_writer_wakeups_total", help: "Tasks scheduled on an event loop to write frames (a fan-out wakes each loop once).")
        flushes = registry?.counter("party_sync_flushes_total", help: "Connection flushes: each writes every frame queued to the connection since the last one.")
        clusterListening = registry?.gauge("party_sync_cluster_listening", help: "On PostgreSQL: 1 while this node listens for other nodes' commits, 0 while it polls for them.")
        clusterRead = registry?.counter("party_sync_cluster_events_read_total", help: "Events committed by other nodes, read from the store for this node's connections.")
        deliveryLatency = registry?.durationHistogram("party_sync_delivery_latency_seconds", help: "Time from commit to the event frame being queued to its recipients.")
    }

    func connectionOpened() { connections?.increment() }
    func connectionClosed() { connections?.decrement() }
    func campaignsActive(_ count: Int) { campaignsActive?.set(Double(count)) }
    func recordPublished(commitTime: Duration) {
        published?.increment()
        publishToCommit?.record(commitTime)
    }
    func recordDuplicate() { duplicates?.increment() }
    func recordReplayed(_ count: Int) { if count > 0 { replayed?.increment(by: Int64(count)) } }
    func recordRateLimited() { rateLimited?.increment() }
    func recordSlowConsumerClose() { slowConsumerCloses?.increment() }
    func recordProtocolError(_ reason: String) {
        protocolErrors?.counter("party_sync_protocol_errors_total", help: "Bad frames and refused connections, by reason.", labels: [("reason", reason)]).increment()
    }

    func clusterListening(_ listening: Bool) { clusterListening?.set(listening ? 1.0 : 0.0) }
    func recordClusterRead(_ count: Int) { if count > 0 { clusterRead?.increment(by: Int64(count)) } }

    func recordWriterWakeups(_ count: Int) { if count > 0 { writerWakeups?.increment(by: Int64(count)) } }
    func recordFlushes(_ count: Int) { if count > 0 { flushes?.increment(by: Int64(count)) } }

    func recordDelivery(of event: CampaignEvent, recipients: Int) {
        guard recipients > 0 else { return }
        delivered?.increment(by: Int64(recipients))
        let nowMilliseconds = Date().timeIntervalSince1970 * 1000
        let latency = max(0, nowMilliseconds - Double(event.timestamp))
        deliveryLatency?.record(.microseconds(Int64(latency * 1000)))
    }
}
