/// Turns texts into vectors for the vector half of hybrid search.
public protocol Embedder: Sendable {
    /// Recorded with every chunk: a different model means the vectors must be redone.
    var model: String { get }
    var dimensions: Int { get }
    /// How much the vector ranking counts in hybrid search, next to BM25's 1: an embedder
    /// that captures meaning earns 1; one that only captures spelling earns less, or it pulls
    /// good text matches down.
    var fusionWeight: Double { get }
    /// One unit-length vector per text, in order.
    func embed(_ texts: [String]) async throws -> [[Float]]
}

extension Embedder {
    public var fusionWeight: Double { 1 }
}

/// Another embedder's vectors under a chosen fusion weight: lets a benchmark time hybrid
/// search with vectors of a model's length without running the model over every document.
public struct ReweightedEmbedder: Embedder {
    public let base: any Embedder
    public let fusionWeight: Double
    public var model: String { base.model }
    public var dimensions: Int { base.dimensions }

    public init(base: any Embedder, fusionWeight: Double) {
        self.base = base
        self.fusionWeight = fusionWeight
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        try await base.embed(texts)
    }
}

/// Why an embedder produced no vectors.
public struct EmbedderError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

enum VectorMath {
    /// Scales to unit length (the zero vector stays zero).
    static func normalize(_ vector: inout [Float]) {
        var sum: Float = 0
        for value in vector { sum += value * value }
        guard sum > 0 else { return }
        let scale = 1 / sum.squareRoot()
        for index in vector.indices { vector[index] *= scale }
    }
}
