import Foundation
@testable import SentenceEmbedding
import TestSupport
import Testing

/// The native encoder against the reference (Hugging Face `tokenizers` and the NumPy forward
/// pass), from the fixture `scripts/minilm-reference.py` wrote.
@Suite(.enabled(if: TestModel.testsRun, "needs the model the test script installs"))
struct SentenceEncoderTests {
    struct Reference: Decodable {
        struct Case: Decodable {
            let text: String
            let tokens: [String]
            let ids: [Int32]
            let vector: [Float]
        }
        let maxTokens: Int
        let cases: [Case]
        enum CodingKeys: String, CodingKey { case maxTokens = "max_tokens", cases }
    }

    static let reference: Reference = {
        let url = URL(filePath: #filePath).deletingLastPathComponent().appending(path: "Fixtures/minilm-reference.json")
        // swiftlint:disable:next force_try
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    static let encoder: SentenceEncoder = {
        // swiftlint:disable:next force_try
        try! SentenceEncoder(directory: TestModel.requireDirectory())
    }()

    @Test("tokens match the reference tokenizer: accents, punctuation, CJK, Russian, unknown and over-long words, truncation")
    func tokensMatchTheReference() {
        #expect(Self.encoder.maxTokens == Self.reference.maxTokens)
        for item in Self.reference.cases {
            let ids = Self.encoder.tokenizer.encode(item.text, maxTokens: Self.reference.maxTokens)
            #expect(ids == item.ids, "\(item.text.prefix(60)): \(Self.encoder.tokenizer.tokens(item.text).prefix(20)) against \(item.tokens.prefix(20))")
        }
    }

    @Test("vectors match the reference with cosine ≥ 0.999, short and beyond the 256-token limit")
    func vectorsMatchTheReference() {
        for item in Self.reference.cases {
            let vector = Self.encoder.embed(item.text)
            #expect(vector.count == 384)
            let cosine = zip(vector, item.vector).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(cosine >= 0.999, "\(item.text.prefix(60)): cosine \(cosine)")
            let length = vector.reduce(Float(0)) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(length - 1) < 1e-4)
        }
    }

    @Test("paraphrases are closer than unrelated sentences")
    func meaningIsCaptured() {
        let question = Self.encoder.embed("my character can't see, what happens to attacks against them")
        let answer = Self.encoder.embed("A blinded creature can't see. Attack rolls against the creature have advantage.")
        let unrelated = Self.encoder.embed("The merchant sells rope, torches and rations at the market.")
        let near = zip(question, answer).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        let far = zip(question, unrelated).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        #expect(near > far + 0.2, "near \(near), far \(far)")
    }

    @Test("a folder without the model is a clear error")
    func missingModelIsAClearError() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        #expect {
            try SentenceEncoder(directory: directory.url)
        } throws: { error in
            "\(error)".contains("config.json")
        }
    }
}
