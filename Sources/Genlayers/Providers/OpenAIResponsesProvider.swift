import JSONValues
import Foundation
import NIOCore
import ServiceKit

/// OpenAI's Responses API, `POST {base}/responses`, with `text.format` of type `json_schema`
/// (strict). The answer is read from `output[].content[]` (`output_text` and `refusal` parts);
/// `status: incomplete` is a truncated answer.
public struct OpenAIResponsesProvider: LanguageModelProvider {
    public static let providerName = "openai-responses"
    public var name: String { Self.providerName }
    public var defaultModel: String { settings.model }
    public var grammar: GrammarDialect { settings.grammar ?? .openAI }
    let settings: ProviderSettings
    private let http: ProviderHTTPClient

    public init(settings: ProviderSettings) {
        self.settings = settings
        self.http = ProviderHTTPClient(settings: settings)
    }

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelReply {
        let response = try await http.post(path: "responses", body: Array(Self.body(for: request).utf8))
        guard (200..<300).contains(response.status) else { throw ProviderHTTPClient.failure(for: response) }
        return try Self.reply(from: response.body.readableBytesView, requestedModel: request.model)
    }

    /// The request body: instructions from the system messages, the rest as `input`.
    static func body(for request: ModelRequest) -> String {
        let instructions = request.messages.filter { $0.role == .system }.map(\.content).joined(separator: "\n\n")
        let input = request.messages.filter { $0.role != .system }.map { message in
            JSONValue.object(["role": .string(message.role.rawValue), "content": .string(message.content)]).canonicalText
        }
        let format = JSONObjectWriter.object { format in
            format.add("type", "json_schema")
            format.add("name", request.schemaName)
            if let description = request.schemaDescription { format.add("description", description) }
            format.addRaw("schema", request.schemaText)
            format.add("strict", request.strict)
        }
        return JSONObjectWriter.object { body in
            body.add("model", request.model)
            if !instructions.isEmpty { body.add("instructions", instructions) }
            body.addRaw("input", "[" + input.joined(separator: ",") + "]")
            body.add("max_output_tokens", request.maxOutputTokens)
            if let temperature = request.temperature { body.add("temperature", .number(temperature)) }
            body.add("store", false)
            body.addRaw("text", #"{"format":"# + format + "}")
        }
    }

    static func reply(from bytes: some Collection<UInt8>, requestedModel: String) throws(ProviderError) -> ModelReply {
        guard let document = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)), let object = document.objectValue else {
            throw .malformedResponse("the body is not a JSON object")
        }
        let status = object["status"]?.stringValue ?? "completed"
        if status == "failed" {
            let message = object["error"]?.objectValue?["message"]?.stringValue ?? "the response failed"
            throw .unavailable(status: 500, retryAfter: nil, detail: message)
        }
        guard case .array(let output)? = object["output"] else {
            throw .malformedResponse("the response has no output array")
        }
        var text = ""
        var refusal: String?
        for item in output {
            guard let item = item.objectValue, item["type"]?.stringValue == "message", case .array(let parts)? = item["content"] else { continue }
            for part in parts {
                guard let part = part.objectValue else { continue }
                switch part["type"]?.stringValue {
                case "output_text": text += part["text"]?.stringValue ?? ""
                case "refusal": refusal = (refusal ?? "") + (part["refusal"]?.stringValue ?? "")
                default: continue
                }
            }
        }
        let usage = Self.usage(object["usage"]?.objectValue)
        let model = object["model"]?.stringValue ?? requestedModel
        if let refusal {
            return ModelReply(content: .refusal(refusal), usage: usage, model: model)
        }
        if status == "incomplete" {
            let reason = object["incomplete_details"]?.objectValue?["reason"]?.stringValue ?? "incomplete"
            return ModelReply(content: .truncated(partial: text, reason: reason), usage: usage, model: model)
        }
        return ModelReply(content: .text(text), usage: usage, model: model)
    }

    static func usage(_ usage: [String: JSONValue]?) -> TokenUsage {
        guard let usage else { return TokenUsage() }
        func count(_ value: JSONValue?) -> Int { value?.intValue ?? 0 }
        return TokenUsage(
            inputTokens: count(usage["input_tokens"]),
            outputTokens: count(usage["output_tokens"]),
            cachedTokens: count(usage["input_tokens_details"]?.objectValue?["cached_tokens"]),
            reasoningTokens: count(usage["output_tokens_details"]?.objectValue?["reasoning_tokens"])
        )
    }
}
