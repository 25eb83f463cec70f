public import JSONValues
public import ServiceKit

/// A language model that answers in JSON constrained by a schema: OpenAI's Responses and Chat
/// Completions APIs (and the servers that speak them), or the offline generator.
///
/// A provider makes exactly one call per ``complete(_:)``: the engine owns retries, both for
/// transport failures (``ProviderError/isTransient``) and for answers that fail validation.
public protocol LanguageModelProvider: Sendable {
    /// The name profiles and settings use: `openai-responses`, `openai-chat`, `offline`.
    var name: String { get }
    /// The model used when neither the profile nor the request names one.
    var defaultModel: String { get }
    /// What the server's constrained decoding enforces; the engine rewrites each schema for it.
    var grammar: GrammarDialect { get }
    func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelReply
}

extension LanguageModelProvider {
    public var grammar: GrammarDialect { .asIs }
}

/// One message of the conversation sent to a model.
public struct ModelMessage: Sendable, Equatable {
    public enum Role: String, Sendable { case system, user, assistant }
    public var role: Role
    public var content: String

    public init(_ role: Role, _ content: String) {
        self.role = role
        self.content = content
    }
}

/// Everything a provider needs for one call.
public struct ModelRequest: Sendable {
    /// The schema's name on the wire (`^[A-Za-z0-9_-]{1,64}$`): the profile's name.
    public var schemaName: String
    public var schemaDescription: String?
    /// The output schema as compact JSON text, members in the author's order.
    public var schemaText: String
    /// Whether to ask for strict schema adherence (OpenAI strict mode).
    public var strict: Bool
    public var messages: [ModelMessage]
    public var model: String
    public var temperature: Double?
    public var maxOutputTokens: Int
    /// The structured request behind the messages, for providers that do not read prose: the
    /// offline generator fills the schema from these.
    public var structured: StructuredRequest

    public init(schemaName: String, schemaDescription: String? = nil, schemaText: String, strict: Bool = true, messages: [ModelMessage], model: String, temperature: Double? = nil, maxOutputTokens: Int, structured: StructuredRequest) {
        self.schemaName = schemaName
        self.schemaDescription = schemaDescription
        self.schemaText = schemaText
        self.strict = strict
        self.messages = messages
        self.model = model
        self.temperature = temperature
        self.maxOutputTokens = maxOutputTokens
        self.structured = structured
    }
}

/// The request's data as values rather than prose.
public struct StructuredRequest: Sendable {
    public var schema: JSONValue
    public var input: JSONValue
    public var context: JSONValue
    /// The profile's offline template, if it has one.
    public var offlineTemplate: JSONValue?
    /// Which attempt this is (1 for the first); a deterministic provider may vary with it.
    public var attempt: Int

    public init(schema: JSONValue, input: JSONValue, context: JSONValue, offlineTemplate: JSONValue? = nil, attempt: Int = 1) {
        self.schema = schema
        self.input = input
        self.context = context
        self.offlineTemplate = offlineTemplate
        self.attempt = attempt
    }
}

/// What a model answered.
public struct ModelReply: Sendable {
    public enum Content: Sendable, Equatable {
        /// The answer text, expected to be JSON.
        case text(String)
        /// The model declined; the text says why.
        case refusal(String)
        /// The answer stopped early (`max_output_tokens`, `length`, `content_filter`).
        case truncated(partial: String, reason: String)
    }

    public var content: Content
    public var usage: TokenUsage
    /// The model that answered, as the provider reports it.
    public var model: String

    public init(content: Content, usage: TokenUsage, model: String) {
        self.content = content
        self.usage = usage
        self.model = model
    }
}

/// Tokens a call consumed, summed across attempts by the engine.
public struct TokenUsage: Sendable, Equatable {
    public var inputTokens: Int
    public var outputTokens: Int
    public var cachedTokens: Int
    public var reasoningTokens: Int

    public init(inputTokens: Int = 0, outputTokens: Int = 0, cachedTokens: Int = 0, reasoningTokens: Int = 0) {
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.cachedTokens = cachedTokens
        self.reasoningTokens = reasoningTokens
    }

    public static func + (lhs: TokenUsage, rhs: TokenUsage) -> TokenUsage {
        TokenUsage(
            inputTokens: lhs.inputTokens + rhs.inputTokens,
            outputTokens: lhs.outputTokens + rhs.outputTokens,
            cachedTokens: lhs.cachedTokens + rhs.cachedTokens,
            reasoningTokens: lhs.reasoningTokens + rhs.reasoningTokens
        )
    }

    public var json: JSONValue {
        .object([
            "input_tokens": .number(Double(inputTokens)),
            "output_tokens": .number(Double(outputTokens)),
            "cached_tokens": .number(Double(cachedTokens)),
            "reasoning_tokens": .number(Double(reasoningTokens)),
        ])
    }
}

/// Why a provider call produced no answer.
public enum ProviderError: Error, Sendable, CustomStringConvertible {
    /// 429: the provider asks to slow down, possibly saying for how long.
    case rateLimited(retryAfter: Duration?, detail: String)
    /// 5xx: the provider failed; worth retrying.
    case unavailable(status: Int, retryAfter: Duration?, detail: String)
    /// No answer within the timeout.
    case timeout(Duration)
    /// The connection failed.
    case transport(String)
    /// Another 4xx: the request itself is wrong (bad key, unknown model, unsupported schema);
    /// retrying would not help.
    case rejected(status: Int, detail: String)
    /// A 2xx whose body does not have the documented shape.
    case malformedResponse(String)

    /// Whether the same request may succeed if sent again later.
    public var isTransient: Bool {
        switch self {
        case .rateLimited, .unavailable, .timeout, .transport: true
        case .rejected, .malformedResponse: false
        }
    }

    /// How long the provider asked to wait, if it said.
    public var retryAfter: Duration? {
        switch self {
        case .rateLimited(let retryAfter, _), .unavailable(_, let retryAfter, _): retryAfter
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .rateLimited(_, let detail): "rate limited (429): \(detail)"
        case .unavailable(let status, _, let detail): "provider error \(status): \(detail)"
        case .timeout(let duration): "no answer within \(duration)"
        case .transport(let detail): "connection failed: \(detail)"
        case .rejected(let status, let detail): "request rejected (\(status)): \(detail)"
        case .malformedResponse(let detail): "unexpected response: \(detail)"
        }
    }
}
