public import Foundation
public import SentenceEmbedding

/// Sentence vectors from all-MiniLM-L6-v2 run in this process (``SentenceEncoder``): 384
/// dimensions that capture meaning, so "my character can't see" finds the blinded condition.
/// English only: Russian text gets vectors, but not meaningful ones.
public struct MiniLMEmbedder: Embedder {
    /// Where `rpgbot model install` puts the model, relative to the working folder.
    public static let defaultDirectory = "models/all-MiniLM-L6-v2"
    public static let modelName = "all-MiniLM-L6-v2"

    public let encoder: SentenceEncoder
    public var model: String { Self.modelName }
    public var dimensions: Int { encoder.dimensions }

    public init(encoder: SentenceEncoder) {
        self.encoder = encoder
    }

    /// Loads the model in `directory`.
    public init(directory: URL) throws {
        self.init(encoder: try SentenceEncoder(directory: directory))
    }

    /// Whether `directory` holds the files the encoder reads.
    public static func isInstalled(at directory: URL) -> Bool {
        ["config.json", "vocab.txt", "model.safetensors"].allSatisfy {
            FileManager.default.fileExists(atPath: directory.appending(path: $0).path)
        }
    }

    /// Texts are spread over the cores; each is encoded on one.
    public func embed(_ texts: [String]) async throws -> [[Float]] {
        let encoder = self.encoder
        let parts = min(texts.count, ProcessInfo.processInfo.activeProcessorCount)
        guard parts > 1 else { return texts.map(encoder.embed) }
        return await withTaskGroup(of: (Int, [Float]).self) { group in
            var next = 0
            var results = [[Float]](repeating: [], count: texts.count)
            // A bounded number in flight: one per core, the next started as one finishes.
            for _ in 0..<parts {
                let index = next
                group.addTask { (index, encoder.embed(texts[index])) }
                next += 1
            }
            while let (index, vector) = await group.next() {
                results[index] = vector
                if next < texts.count {
                    let index = next
                    group.addTask { (index, encoder.embed(texts[index])) }
                    next += 1
                }
            }
            return results
        }
    }
}
