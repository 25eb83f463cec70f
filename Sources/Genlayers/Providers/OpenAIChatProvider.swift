import JSONValues
import Foundation
import NIOCore
import ServiceKit

/// Chat Completions, `POST {base}/chat/completions`: OpenAI, Ollama, vLLM and the llama.cpp
/// servers. The schema goes in `response_format`, in the form ``ChatDialect`` names. The
/// answer is `choices[0].message.content` (or `.refusal`); `finish_reason: length` is a
/// truncated answer.
public struct OpenAIChatProvider: LanguageModelProvider {
    public static let providerName = "openai-chat"
    public var name: String { Self.providerName }
    public var defaultModel: String { settings.model }
    public var grammar: GrammarDialect { settings.grammar ?? .inferred(baseURL: settings.baseURL, chatDialect: settings.chatDialect) }
    let settings: ProviderSettings
    private let http: ProviderHTTPClient

    public init(settings: ProviderSettings) {
        self.settings = settings
        self.http = ProviderHTTPClient(settings: settings)
    }

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelReply {
        let body = Self.body(for: request, dialect: settings.chatDialect)
        let response = try await http.post(path: "chat/completions", body: Array(body.utf8))
        guard (200..<300).contains(response.status) else { throw ProviderHTTPClient.failure(for: response) }
        return try Self.reply(from: response.body.readableBytesView, requestedModel: request.model)
    }

    static func body(for request: ModelRequest, dialect: ChatDialect) -> String {
        let messages = request.messages.map { message in
            JSONValue.object(["role": .string(message.role.rawValue), "content": .string(message.content)]).canonicalText
        }
        let responseFormat: String
        switch dialect {
        case .jsonSchema:
            let schema = JSONObjectWriter.object { wrapper in
                wrapper.add("name", request.schemaName)
                if let description = request.schemaDescription { wrapper.add("description", description) }
                wrapper.addRaw("schema", request.schemaText)
                wrapper.add("strict", request.strict)
            }
            responseFormat = #"{"type":"json_schema","json_schema":"# + schema + "}"
        case .jsonObject:
            responseFormat = #"{"type":"json_object","schema":"# + request.schemaText + "}"
        }
        return JSONObjectWriter.object { body in
            body.add("model", request.model)
            body.addRaw("messages", "[" + messages.joined(separator: ",") + "]")
            body.add("max_tokens", request.maxOutputTokens)
            if let temperature = request.temperature { body.add("temperature", .number(temperature)) }
            body.addRaw("response_format", responseFormat)
            body.add("stream", false)
        }
    }

    static func reply(from bytes: some Collection<UInt8>, requestedModel: String) throws(ProviderError) -> ModelReply {
        guard let document = try? JSONValue.parse(String(decoding: bytes, as: UTF8.self)), let object = document.objectValue else {
            throw .malformedResponse("the body is not a JSON object")
        }
        guard case .array(let choices)? = object["choices"], let choice = choices.first?.objectValue,
              let message = choice["message"]?.objectValue
        else {
            throw .malformedResponse("the response has no choices[0].message")
        }
        let usage = Self.usage(object["usage"]?.objectValue)
        let model = object["model"]?.stringValue ?? requestedModel
        if let refusal = message["refusal"]?.stringValue, !refusal.isEmpty {
            return ModelReply(content: .refusal(refusal), usage: usage, model: model)
        }
        let text = message["content"]?.stringValue ?? ""
        switch choice["finish_reason"]?.stringValue {
        case "length": return ModelReply(content: .truncated(partial: text, reason: "length"), usage: usage, model: model)
        case "content_filter": return ModelReply(content: .truncated(partial: text, reason: "content_filter"), usage: usage, model: model)
        default: return ModelReply(content: .text(text), usage: usage, model: model)
        }
    }

    static func usage(_ usage: [String: JSONValue]?) -> TokenUsage {
        guard let usage else { return TokenUsage() }
        func count(_ value: JSONValue?) -> Int { value?.intValue ?? 0 }
        return TokenUsage(
            inputTokens: count(usage["prompt_tokens"]),
            outputTokens: count(usage["completion_tokens"]),
            cachedTokens: count(usage["prompt_tokens_details"]?.objectValue?["cached_tokens"]),
            reasoningTokens: count(usage["completion_tokens_details"]?.objectValue?["reasoning_tokens"])
        )
    }
}
