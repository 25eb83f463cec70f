import Observability
import Prometheus

/// The metrics of the knowledge-grounded endpoints. With metrics disabled every call is a no-op.
struct GatewayMetrics: Sendable {
    private let registry: MetricsRegistry?

    init(registry: MetricsRegistry?) {
        self.registry = registry
    }

    func request(_ endpoint: DomainEndpoint, outcome: String, duration: Duration) {
        guard let registry else { return }
        let labels = [("endpoint", endpoint.rawValue)]
        registry.counter("gateway_generate_requests_total", help: "Grounded generation requests by endpoint and outcome.", labels: labels + [("outcome", outcome)]).increment()
        registry.durationHistogram("gateway_generate_seconds", help: "Time of a grounded generation request: retrieval, generation, broadcast and record.", labels: labels).record(duration)
    }

    func retrieval(_ endpoint: DomainEndpoint, context: GroundingContext, duration: Duration) {
        guard let registry else { return }
        let labels = [("endpoint", endpoint.rawValue)]
        registry.valueHistogram("gateway_context_items", help: "Knowledge items placed in a prompt.", labels: labels, buckets: [0, 1, 2, 4, 8, 16, 32]).record(Double(context.items.count))
        registry.valueHistogram("gateway_context_tokens", help: "Estimated prompt tokens of the knowledge context.", labels: labels, buckets: [0, 250, 500, 1000, 2000, 4000, 8000]).record(Double(context.tokens))
        registry.durationHistogram("gateway_retrieval_seconds", help: "Time to build the knowledge context.", labels: labels).record(duration)
    }

    func knowledgeFailure(_ endpoint: DomainEndpoint) {
        registry?.counter("gateway_knowledge_failures_total", help: "Requests answered without knowledge because Memory37 failed.", labels: [("endpoint", endpoint.rawValue)]).increment()
    }
}
