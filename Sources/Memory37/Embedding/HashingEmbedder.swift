/// The offline embedder: feature hashing of words and character trigrams into a
/// fixed number of dimensions. No model and no network; deterministic. It captures spelling
/// overlap (plurals, compounds, typos), not meaning: a stand-in that keeps the
/// vector half of hybrid search working until a model-backed embedder is configured.
public struct HashingEmbedder: Embedder {
    public let dimensions: Int
    public var model: String { "hashing-v4-\(dimensions)" }

    public init(dimensions: Int = 256) {
        self.dimensions = max(16, dimensions)
    }

    /// Spelling neighbours are not meaning: on the tuning half of eval/knowledge-queries.json
    /// (121 questions), every weight above 0 ranked worse than BM25 with the name boost alone
    /// (Hit@1 0.628 at 0, 0.587 at 0.05, 0.554 at 0.15, 0.529 at 0.3), and the held-out half
    /// agreed. So hybrid search leaves these vectors out; `mode: vector` still uses them.
    public var fusionWeight: Double { 0 }

    /// Weights measured on eval/knowledge-queries.json: word pairs made results worse and were
    /// dropped; trigrams carry most of what words alone miss.
    static let wordWeight: Float = 1.0
    static let trigramWeight: Float = 1.5

    /// Large batches are split across the cores: each vector is independent of the others.
    public func embed(_ texts: [String]) async throws -> [[Float]] {
        let parts = min(max(1, texts.count / 64), ProcessInfo.processInfo.activeProcessorCount)
        guard parts > 1 else { return texts.map(vector) }
        let size = (texts.count + parts - 1) / parts
        return await withTaskGroup(of: (Int, [[Float]]).self) { group in
            for part in 0..<parts {
                let slice = Array(texts[min(texts.count, part * size)..<min(texts.count, (part + 1) * size)])
                group.addTask { (part, slice.map(vector)) }
            }
            var results = [[[Float]]](repeating: [], count: parts)
            for await (part, vectors) in group { results[part] = vectors }
            return results.flatMap { $0 }
        }
    }

    public func vector(_ text: String) -> [Float] {
        var vector = [Float](repeating: 0, count: dimensions)
        var scalars: [UInt32] = []
        for word in TextTokenizer.terms(text) {
            add(FNV1a.hash(word), weight: Self.wordWeight, to: &vector)
            // Trigrams of the padded word ("#fireball#"): "fireball" shares most of them with
            // "fire ball". Hashed straight from the scalar values, without building strings.
            scalars.removeAll(keepingCapacity: true)
            scalars.append(0x23)
            for scalar in word.unicodeScalars { scalars.append(scalar.value) }
            scalars.append(0x23)
            guard scalars.count > 3 else { continue }
            let weight = Self.trigramWeight / Float(scalars.count - 2).squareRoot()
            for start in 0...(scalars.count - 3) {
                var hash = FNV1a.trigramSeed
                for value in scalars[start..<start + 3] {
                    hash = (hash ^ UInt64(value)) &* FNV1a.prime
                }
                add(hash, weight: weight, to: &vector)
            }
        }
        // Sublinear term frequency: repeated words do not drown the rest.
        for index in vector.indices where vector[index] != 0 {
            let magnitude = vector[index].magnitude
            vector[index] = (vector[index] < 0 ? -1 : 1) * (1 + Float.log(magnitude + 1) - Float.log(2))
        }
        VectorMath.normalize(&vector)
        return vector
    }

    /// Signed feature hashing: the sign bit keeps collisions from only ever adding up.
    private func add(_ hash: UInt64, weight: Float, to vector: inout [Float]) {
        let index = Int(hash % UInt64(dimensions))
        vector[index] += (hash >> 63) == 0 ? weight : -weight
    }
}

/// 64-bit FNV-1a over UTF-8: stable across runs and platforms (unlike `Hasher`).
enum FNV1a {
    static let offset: UInt64 = 0xcbf2_9ce4_8422_2325
    static let prime: UInt64 = 0x0000_0100_0000_01b3
    /// Starts trigram hashes apart from word hashes.
    static let trigramSeed = (offset ^ 0x33) &* prime

    static func hash(_ text: String) -> UInt64 {
        var hash = offset
        for byte in text.utf8 {
            hash = (hash ^ UInt64(byte)) &* prime
        }
        return hash
    }
}

extension Float {
    static func log(_ value: Float) -> Float {
        Float(Foundation.log(Double(value)))
    }
}

import Foundation
