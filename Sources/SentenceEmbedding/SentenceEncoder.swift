public import Foundation
import TransformerKernels

/// A BERT sentence encoder run in-process: all-MiniLM-L6-v2 (or any BERT checkpoint of the
/// same layout) from a folder holding `config.json`, `vocab.txt` and `model.safetensors`.
/// A text becomes WordPiece tokens, passes the encoder, and its token vectors are averaged
/// (mean pooling) and scaled to unit length, as sentence-transformers does.
public final class SentenceEncoder: Sendable {
    /// The encoder's shape, from the checkpoint's `config.json`.
    struct Configuration: Decodable, Sendable {
        let hiddenSize: Int
        let layerCount: Int
        let headCount: Int
        let intermediateSize: Int
        let layerNormEpsilon: Float
        let maxPositions: Int
        let vocabularySize: Int
        let typeVocabularySize: Int

        enum CodingKeys: String, CodingKey {
            case hiddenSize = "hidden_size", layerCount = "num_hidden_layers", headCount = "num_attention_heads"
            case intermediateSize = "intermediate_size", layerNormEpsilon = "layer_norm_eps"
            case maxPositions = "max_position_embeddings", vocabularySize = "vocab_size", typeVocabularySize = "type_vocab_size"
        }
    }

    /// One transformer layer's weights, each projection stored input-major (`in × out`) and
    /// packed in panels of 32 columns (`rpgbot_pack_panels`), so a product streams each panel.
    struct Layer: Sendable {
        let queryKeyValue: [Float]
        let queryKeyValueBias: [Float]
        let attentionOutput: [Float]
        let attentionOutputBias: [Float]
        let attentionNorm: (gamma: [Float], beta: [Float])
        let intermediate: [Float]
        let intermediateBias: [Float]
        let output: [Float]
        let outputBias: [Float]
        let outputNorm: (gamma: [Float], beta: [Float])
    }

    public let tokenizer: WordPieceTokenizer
    /// Tokens per text, `[CLS]` and `[SEP]` included: the rest of a longer text is not read.
    public let maxTokens: Int
    public var dimensions: Int { configuration.hiddenSize }
    let configuration: Configuration
    let wordEmbeddings: [Float]
    let positionEmbeddings: [Float]
    let tokenTypeEmbedding: [Float]
    let embeddingNorm: (gamma: [Float], beta: [Float])
    let layers: [Layer]

    /// Loads the checkpoint in `directory`. `maxTokens` defaults to 256, the limit
    /// sentence-transformers sets for all-MiniLM-L6-v2.
    public init(directory: URL, maxTokens: Int = 256) throws {
        let configuration: Configuration
        do {
            configuration = try JSONDecoder().decode(Configuration.self, from: Data(contentsOf: directory.appending(path: "config.json")))
        } catch {
            throw SentenceEmbeddingError("cannot read \(directory.appending(path: "config.json").path): \(error)")
        }
        guard configuration.headCount > 0, configuration.hiddenSize % configuration.headCount == 0 else {
            throw SentenceEmbeddingError("config.json: \(configuration.hiddenSize) dimensions do not split into \(configuration.headCount) heads")
        }
        self.configuration = configuration
        self.maxTokens = min(maxTokens, configuration.maxPositions)
        tokenizer = try WordPieceTokenizer(vocabularyFile: directory.appending(path: "vocab.txt"))
        let tensors = try SafeTensors(contentsOf: directory.appending(path: "model.safetensors"))
        let hidden = configuration.hiddenSize
        let inner = configuration.intermediateSize
        // Checkpoints name their tensors with or without the model's own prefix.
        let prefix = tensors.entries["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        func tensor(_ name: String, _ shape: [Int]) throws -> [Float] { try tensors.floats(prefix + name, shape: shape) }
        func norm(_ name: String) throws -> (gamma: [Float], beta: [Float]) {
            (try tensor(name + ".weight", [hidden]), try tensor(name + ".bias", [hidden]))
        }
        /// A linear layer's `out × in` weight, transposed to `in × out`.
        func projection(_ name: String, input: Int, output: Int) throws -> [Float] {
            Self.transposed(try tensor(name + ".weight", [output, input]), rows: output, columns: input)
        }
        guard hidden % 32 == 0, inner % 32 == 0 else {
            throw SentenceEmbeddingError("config.json: widths \(hidden) and \(inner) must be multiples of 32")
        }
        wordEmbeddings = try tensor("embeddings.word_embeddings.weight", [configuration.vocabularySize, hidden])
        positionEmbeddings = try tensor("embeddings.position_embeddings.weight", [configuration.maxPositions, hidden])
        tokenTypeEmbedding = Array(try tensor("embeddings.token_type_embeddings.weight", [configuration.typeVocabularySize, hidden]).prefix(hidden))
        embeddingNorm = try norm("embeddings.LayerNorm")
        layers = try (0..<configuration.layerCount).map { index in
            let name = "encoder.layer.\(index)."
            let query = try projection(name + "attention.self.query", input: hidden, output: hidden)
            let key = try projection(name + "attention.self.key", input: hidden, output: hidden)
            let value = try projection(name + "attention.self.value", input: hidden, output: hidden)
            // Queries, keys and values side by side: one product computes all three.
            var queryKeyValue: [Float] = []
            queryKeyValue.reserveCapacity(3 * hidden * hidden)
            for row in 0..<hidden {
                queryKeyValue += query[row * hidden..<(row + 1) * hidden]
                queryKeyValue += key[row * hidden..<(row + 1) * hidden]
                queryKeyValue += value[row * hidden..<(row + 1) * hidden]
            }
            return Layer(
                queryKeyValue: Self.packed(queryKeyValue, rows: hidden, columns: 3 * hidden),
                queryKeyValueBias: try ["query", "key", "value"].flatMap { try tensor(name + "attention.self.\($0).bias", [hidden]) },
                attentionOutput: Self.packed(try projection(name + "attention.output.dense", input: hidden, output: hidden), rows: hidden, columns: hidden),
                attentionOutputBias: try tensor(name + "attention.output.dense.bias", [hidden]),
                attentionNorm: try norm(name + "attention.output.LayerNorm"),
                intermediate: Self.packed(try projection(name + "intermediate.dense", input: hidden, output: inner), rows: hidden, columns: inner),
                intermediateBias: try tensor(name + "intermediate.dense.bias", [inner]),
                output: Self.packed(try projection(name + "output.dense", input: inner, output: hidden), rows: inner, columns: hidden),
                outputBias: try tensor(name + "output.dense.bias", [hidden]),
                outputNorm: try norm(name + "output.LayerNorm")
            )
        }
    }

    /// The unit-length sentence vector of `text`.
    public func embed(_ text: String) -> [Float] {
        encode(tokens: tokenizer.encode(text, maxTokens: maxTokens))
    }

    /// The number of tokens the encoder reads of `text`, `[CLS]` and `[SEP]` included.
    public func tokenCount(_ text: String) -> Int {
        tokenizer.encode(text, maxTokens: maxTokens).count
    }

    /// The unit-length mean of the encoder's output vectors for `tokens`.
    func encode(tokens: [Int32]) -> [Float] {
        let length = tokens.count
        let hidden = configuration.hiddenSize
        let inner = configuration.intermediateSize
        let epsilon = configuration.layerNormEpsilon
        var state = [Float](repeating: 0, count: length * hidden)
        for (position, token) in tokens.enumerated() {
            let word = Int(token) * hidden
            let place = position * hidden
            for index in 0..<hidden {
                state[place + index] = wordEmbeddings[word + index] + positionEmbeddings[place + index] + tokenTypeEmbedding[index]
            }
        }
        rpgbot_add_layer_norm(&state, nil, length, hidden, embeddingNorm.gamma, embeddingNorm.beta, epsilon)
        var queryKeyValue = [Float](repeating: 0, count: length * 3 * hidden)
        var context = [Float](repeating: 0, count: length * hidden)
        var projected = [Float](repeating: 0, count: length * hidden)
        var expanded = [Float](repeating: 0, count: length * inner)
        var scratch = [Float](repeating: 0, count: rpgbot_attention_scratch_count(length, hidden / configuration.headCount))
        for layer in layers {
            rpgbot_sgemm_packed(state, length, hidden, layer.queryKeyValue, 3 * hidden, layer.queryKeyValueBias, &queryKeyValue)
            rpgbot_attention(queryKeyValue, length, configuration.headCount, hidden / configuration.headCount, &context, &scratch)
            rpgbot_sgemm_packed(context, length, hidden, layer.attentionOutput, hidden, layer.attentionOutputBias, &projected)
            rpgbot_add_layer_norm(&projected, state, length, hidden, layer.attentionNorm.gamma, layer.attentionNorm.beta, epsilon)
            swap(&state, &projected)
            rpgbot_sgemm_packed(state, length, hidden, layer.intermediate, inner, layer.intermediateBias, &expanded)
            rpgbot_gelu(&expanded, length * inner)
            rpgbot_sgemm_packed(expanded, length, inner, layer.output, hidden, layer.outputBias, &projected)
            rpgbot_add_layer_norm(&projected, state, length, hidden, layer.outputNorm.gamma, layer.outputNorm.beta, epsilon)
            swap(&state, &projected)
        }
        var pooled = [Float](repeating: 0, count: hidden)
        for position in 0..<length {
            for index in 0..<hidden { pooled[index] += state[position * hidden + index] }
        }
        var sum: Float = 0
        for value in pooled { sum += value * value }
        let scale = sum > 0 ? 1 / sum.squareRoot() : 0
        return pooled.map { $0 * scale }
    }

    static func packed(_ matrix: [Float], rows: Int, columns: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: matrix.count) { buffer, initialized in
            rpgbot_pack_panels(matrix, rows, columns, buffer.baseAddress!)
            initialized = matrix.count
        }
    }

    static func transposed(_ matrix: [Float], rows: Int, columns: Int) -> [Float] {
        var result = [Float](repeating: 0, count: matrix.count)
        for row in 0..<rows {
            for column in 0..<columns { result[column * rows + row] = matrix[row * columns + column] }
        }
        return result
    }
}
