/// Wraps an embedder to record how long its calls take (`memory37_embedder_seconds`).
struct MeasuredEmbedder: Embedder {
    let base: any Embedder
    let metrics: KnowledgeMetrics

    var model: String { base.model }
    var dimensions: Int { base.dimensions }
    var fusionWeight: Double { base.fusionWeight }

    func embed(_ texts: [String]) async throws -> [[Float]] {
        let start = ContinuousClock.now
        defer { metrics.embedded(count: texts.count, duration: ContinuousClock.now - start) }
        return try await base.embed(texts)
    }
}
