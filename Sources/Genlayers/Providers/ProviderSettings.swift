/// How to reach an OpenAI-compatible server: shared by `openai-responses` and `openai-chat`.
public struct ProviderSettings: Sendable {
    /// The API root, including its version path (`https://api.openai.com/v1`,
    /// `http://127.0.0.1:11434/v1` for Ollama).
    public var baseURL: String = "https://api.openai.com/v1"
    /// Sent as `Authorization: Bearer`; read from the environment only, never a flag.
    public var apiKey: String?
    public var model: String = "gpt-4o-mini"
    /// The whole call, from connect to the last byte of the answer.
    public var timeout: Duration = .seconds(60)
    /// Extra headers for every call (an organisation, a gateway key).
    public var extraHeaders: [(name: String, value: String)] = []
    /// How `openai-chat` asks for JSON-Schema output.
    public var chatDialect: ChatDialect = .jsonSchema
    /// What the server's constrained decoding enforces; nil infers it (``GrammarDialect/inferred(baseURL:chatDialect:)``).
    public var grammar: GrammarDialect?
    /// Largest response body read from a provider.
    public var maxResponseBytes: Int = 8 << 20

    public init() {}
}

/// The `response_format` a Chat Completions server understands.
public enum ChatDialect: String, Sendable, CaseIterable {
    /// `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`: OpenAI, vLLM,
    /// Ollama's `/v1`, llama.cpp's C++ server.
    case jsonSchema = "json_schema"
    /// `{"type": "json_object", "schema": {…}}`: llama-cpp-python's server, which refuses the
    /// form above.
    case jsonObject = "json_object"
}

/// The settings of the generation layer.
public struct GenlayersSettings: Sendable {
    /// The provider used when a profile does not name one.
    public var provider: String = OfflineProvider.providerName
    public var providerSettings = ProviderSettings()
    /// Retries of one model call after a 429, a 5xx, a timeout or a connection failure
    /// (on top of the first try); separate from a profile's `max_retries`, which counts
    /// re-asks after invalid answers.
    public var transportRetries: Int = 3
    /// First backoff after a transient failure; doubled each time, with jitter.
    public var initialBackoff: Duration = .milliseconds(500)
    /// Longest wait for one retry; a `Retry-After` beyond it ends the generation instead.
    public var maxBackoff: Duration = .seconds(30)
    /// The model's context window in tokens, when known: prompts and answer budgets are kept
    /// within it (a local server fails a request that overflows its context).
    public var contextTokens: Int?
    /// Per-request shaping — schema narrowing, the grammar rewrite, answer budgets sized from
    /// the schema — and profiles' repairs. Off only to measure what they bring
    /// (`rpgbot bench generate --baseline`): then each profile's schema goes as written, with
    /// its `max_output_tokens` or 1,200, and every fault is re-asked.
    public var requestShaping = true

    public init() {}
}
