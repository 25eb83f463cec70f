import JSONValues
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ServiceKit

/// Any OpenAI-compatible `POST {base}/embeddings` (OpenAI, Ollama, vLLM, llama.cpp), in
/// batches, with retries after 429, 5xx and connection failures.
public struct OpenAIEmbedder: Embedder {
    public struct Settings: Sendable {
        public var baseURL = "https://api.openai.com/v1"
        public var apiKey: String?
        public var model = "text-embedding-3-small"
        /// Asked of models that can shorten their vectors; also the expected length.
        public var dimensions = 256
        public var batchSize = 64
        public var timeout: Duration = .seconds(30)
        public var retries = 3

        public init() {}
    }

    public let settings: Settings
    public var model: String { settings.model }
    public var dimensions: Int { settings.dimensions }

    public init(settings: Settings) {
        self.settings = settings
    }

    public func embed(_ texts: [String]) async throws -> [[Float]] {
        var vectors: [[Float]] = []
        vectors.reserveCapacity(texts.count)
        var start = 0
        while start < texts.count {
            let batch = Array(texts[start..<min(texts.count, start + max(1, settings.batchSize))])
            vectors += try await embedBatch(batch)
            start += batch.count
        }
        return vectors
    }

    private func embedBatch(_ texts: [String]) async throws -> [[Float]] {
        var attempt = 0
        while true {
            do {
                return try await call(texts)
            } catch let error as Transient {
                attempt += 1
                guard attempt <= settings.retries else { throw EmbedderError(error.message) }
                let wait = error.retryAfter ?? .milliseconds(Int64(250 * (1 << min(attempt, 6))))
                try await Task.sleep(for: min(wait, .seconds(30)))
            }
        }
    }

    struct Transient: Error {
        let message: String
        let retryAfter: Duration?
    }

    private func call(_ texts: [String]) async throws -> [[Float]] {
        let base = settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL
        var request = HTTPClientRequest(url: base + "/embeddings")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let key = settings.apiKey, !key.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        let body: JSONValue = .object([
            "model": .string(settings.model),
            "input": .array(texts.map { .string($0) }),
            "dimensions": .number(Double(settings.dimensions)),
            "encoding_format": .string("float"),
        ])
        request.body = .bytes(ByteBuffer(string: body.canonicalText))
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await HTTPClient.shared.execute(request, timeout: TimeAmount(settings.timeout))
            bytes = try await response.body.collect(upTo: 64 << 20)
        } catch {
            throw Transient(message: "embeddings request to \(base) failed: \(error)", retryAfter: nil)
        }
        let status = Int(response.status.code)
        let text = String(buffer: bytes)
        guard (200..<300).contains(status) else {
            let message = "embeddings request failed with \(status): \(text.prefix(200))"
            if status == 429 || status >= 500 {
                let retryAfter = response.headers.first(name: "retry-after").flatMap(Double.init).map { Duration.milliseconds(Int64($0 * 1000)) }
                throw Transient(message: message, retryAfter: retryAfter)
            }
            throw EmbedderError(message)
        }
        guard case .object(let object)? = try? JSONValue.parse(text), case .array(let data)? = object["data"] else {
            throw EmbedderError("the embeddings response has no data array")
        }
        var vectors = [[Float]](repeating: [], count: texts.count)
        for (position, item) in data.enumerated() {
            guard let item = item.objectValue, case .array(let numbers)? = item["embedding"] else {
                throw EmbedderError("data[\(position)] has no embedding")
            }
            let index = item["index"].map { $0.intValue ?? -1 } ?? position
            guard vectors.indices.contains(index) else { throw EmbedderError("data[\(position)] has index \(index) out of range") }
            var vector = numbers.map { Float($0.numberValue ?? 0) }
            guard vector.count == settings.dimensions else {
                throw EmbedderError("the model returned \(vector.count) dimensions, \(settings.dimensions) expected")
            }
            VectorMath.normalize(&vector)
            vectors[index] = vector
        }
        guard !vectors.contains(where: \.isEmpty) else { throw EmbedderError("the response lacks some of the \(texts.count) embeddings") }
        return vectors
    }
}
