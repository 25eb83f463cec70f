import Observability
import Prometheus

/// The metrics of the generation layer. With metrics disabled every call is a no-op.
struct GenlayersMetrics: Sendable {
    private let registry: MetricsRegistry?

    init(registry: MetricsRegistry?) {
        self.registry = registry
    }

    func recordRepairs(profile: String, _ repairs: [OutputRepair.Repair]) {
        guard let registry else { return }
        for repair in repairs {
            registry.counter("genlayers_repairs_total", help: "Mechanical repairs of model answers, by profile and kind.", labels: [("profile", profile), ("kind", repair.kind.rawValue)]).increment()
        }
    }

    func recordGeneration(profile: String, provider: String, outcome: String, attempts: Int, usage: TokenUsage, duration: Duration) {
        guard let registry else { return }
        let labels = [("profile", profile), ("provider", provider)]
        registry.counter("genlayers_generations_total", help: "Generations by profile, provider and outcome.", labels: labels + [("outcome", outcome)]).increment()
        // Refused input never reached a model: no attempts or time to record.
        guard attempts > 0 else { return }
        registry.valueHistogram("genlayers_generation_attempts", help: "Model calls per generation.", labels: labels, buckets: [1, 2, 3, 4, 6, 11]).record(Double(attempts))
        registry.durationHistogram("genlayers_generation_seconds", help: "Time of a whole generation, retries included.", labels: labels).record(duration)
        for (kind, count) in [("input", usage.inputTokens), ("output", usage.outputTokens), ("cached", usage.cachedTokens)] where count > 0 {
            registry.counter("genlayers_tokens_total", help: "Tokens reported by providers, by kind.", labels: labels + [("kind", kind)]).increment(by: Int64(count))
        }
    }

    func recordProviderCall(provider: String, outcome: String, duration: Duration) {
        registry?.durationHistogram("genlayers_provider_request_seconds", help: "Latency of one provider call, by outcome.", labels: [("provider", provider), ("outcome", outcome)]).record(duration)
    }
}
