public import Prometheus

/// The process's Prometheus metrics: a swift-prometheus registry plus process metrics that are
/// refreshed at each scrape. Every metric made here has help text, so the exposition passes
/// `promtool check metrics`.
public final class MetricsRegistry: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let process: ProcessMetrics

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        self.process = ProcessMetrics(registry: registry)
    }

    /// The Prometheus text exposition (format 0.0.4), process metrics refreshed first.
    public func exposition() -> [UInt8] {
        process.refresh()
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }

    public func counter(_ name: String, help: String, labels: [(String, String)] = []) -> Counter {
        registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
    }

    public func gauge(_ name: String, help: String, labels: [(String, String)] = []) -> Gauge {
        registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
    }

    public func durationHistogram(_ name: String, help: String, labels: [(String, String)] = [], buckets: [Duration] = MetricsRegistry.latencyBuckets) -> DurationHistogram {
        registry.makeDurationHistogram(descriptor: Self.descriptor(name, help), labels: labels, buckets: buckets)
    }

    /// A histogram of plain numbers (attempts per generation, tokens per request).
    public func valueHistogram(_ name: String, help: String, labels: [(String, String)] = [], buckets: [Double]) -> ValueHistogram {
        registry.makeValueHistogram(descriptor: Self.descriptor(name, help), labels: labels, buckets: buckets)
    }

    /// Names are given whole (`http_server_requests_total`); the descriptor's unit stays empty.
    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// Latency buckets from 1 ms to 10 s.
    public static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]
}
