/// One configurable setting: its flag, its environment variable, its default and what it
/// accepts. The table ``Setting/all`` is the single source of `rpgbot serve --help`, the
/// README's settings table and the error messages for bad values.
public struct Setting: Sendable, Hashable {
    /// The long flag without dashes (`port`), or nil for environment-only settings (secrets).
    public let flag: String?
    public let environment: String
    public let defaultValue: String
    public let summary: String
    /// Accepted values, as shown in errors: `an integer 1–65535`, `json or text`.
    public let accepted: String

    public var displayName: String {
        if let flag { "--\(flag) (\(environment))" } else { environment }
    }

    /// What the flag's value is, for the help: `<duration>`, `<url>`.
    public var valueName: String {
        let accepted = accepted.lowercased()
        if accepted.contains("duration") { return "duration" }
        if accepted == "true or false" { return "bool" }
        if accepted.contains("url") || accepted.hasPrefix("sqlite://") { return "url" }
        if accepted.contains("path") { return "path" }
        if accepted.contains("bytes") { return "size" }
        if accepted.contains("integer") || accepted.contains("number") { return "number" }
        return "value"
    }

    /// Help text for the flag: summary, accepted values, environment name and default.
    public var helpText: String {
        "\(summary) Accepts \(accepted). Env: \(environment). Default: \(defaultValue)."
    }
}

extension Setting {
    public static let host = Setting(flag: "host", environment: "RPGBOT_HOST", defaultValue: "127.0.0.1", summary: "Address to listen on.", accepted: "a host name or IP address")
    public static let port = Setting(flag: "port", environment: "RPGBOT_PORT", defaultValue: "8080", summary: "TCP port to listen on (0 picks a free one).", accepted: "an integer 0–65535")
    public static let dataDirectory = Setting(flag: "data-dir", environment: "RPGBOT_DATA_DIR", defaultValue: "./data", summary: "Folder for the SQLite database, the generated JWT secret and artifacts.", accepted: "a folder path")
    public static let services = Setting(flag: "services", environment: "RPGBOT_SERVICES", defaultValue: "all", summary: "Capability services to run.", accepted: "all, none, or a comma-separated list of \(CapabilityCatalog.acceptedList)")
    public static let databaseURL = Setting(flag: "database-url", environment: "RPGBOT_DATABASE_URL", defaultValue: "sqlite://<data-dir>/rpgbot.sqlite", summary: "Database for every store.", accepted: "sqlite:///path/file.sqlite or postgres://user:pass@host:port/db[?sslmode=disable|prefer|require]")
    public static let databaseWait = Setting(flag: "database-wait", environment: "RPGBOT_DATABASE_WAIT", defaultValue: "30s", summary: "How long start-up waits for PostgreSQL to take connections before giving up (an unknown database or wrong credentials end it at once).", accepted: "a duration")
    public static let jwtSecret = Setting(flag: nil, environment: "RPGBOT_JWT_SECRET", defaultValue: "generated once into <data-dir>/jwt-secret (mode 0600)", summary: "HS256 secret for access tokens (environment only, never a flag).", accepted: "a string of at least 32 bytes")
    public static let logLevel = Setting(flag: "log-level", environment: "RPGBOT_LOG_LEVEL", defaultValue: "info", summary: "Lowest log level written.", accepted: "trace, debug, info, notice, warning, error or critical")
    public static let logFormat = Setting(flag: "log-format", environment: "RPGBOT_LOG_FORMAT", defaultValue: "json", summary: "Log line format.", accepted: "json or text")
    public static let metrics = Setting(flag: "enable-metrics", environment: "ENABLE_METRICS", defaultValue: "false", summary: "Serve Prometheus metrics at /metrics.", accepted: "true or false")
    public static let maxBodySize = Setting(flag: "max-body-size", environment: "RPGBOT_MAX_BODY_SIZE", defaultValue: "1MiB", summary: "Largest request body accepted (413 beyond).", accepted: "bytes, optionally with KiB or MiB (e.g. 65536, 512KiB, 4MiB)")
    public static let httpIdleTimeout = Setting(flag: "http-idle-timeout", environment: "RPGBOT_HTTP_IDLE_TIMEOUT", defaultValue: "75s", summary: "How long an HTTP connection may be idle: before its first request head is complete (408 then), or between requests.", accepted: "a duration")
    public static let maxConnections = Setting(flag: "max-connections", environment: "RPGBOT_MAX_CONNECTIONS", defaultValue: "10000", summary: "Open HTTP and WebSocket connections beyond this are answered 503 and closed (keep it below the process's file descriptor limit).", accepted: "an integer, 1 or more")
    public static let shutdownTimeout = Setting(flag: "shutdown-timeout", environment: "RPGBOT_SHUTDOWN_TIMEOUT", defaultValue: "30s", summary: "How long SIGTERM/SIGINT wait for in-flight requests before forcing exit.", accepted: "a duration such as 500ms, 30s, 2m")
    public static let otelTracesExporter = Setting(flag: "otel-traces-exporter", environment: "OTEL_TRACES_EXPORTER", defaultValue: "none, or otlp when an endpoint is set", summary: "Where spans are exported.", accepted: "none or otlp")
    public static let otelEndpoint = Setting(flag: "otel-endpoint", environment: "OTEL_EXPORTER_OTLP_ENDPOINT", defaultValue: "http://localhost:4318", summary: "OTLP/HTTP collector base URL (/v1/traces is appended).", accepted: "an http or https URL")
    public static let otelProtocol = Setting(flag: nil, environment: "OTEL_EXPORTER_OTLP_PROTOCOL", defaultValue: "http/protobuf", summary: "OTLP protocol.", accepted: "http/protobuf")
    public static let otelServiceName = Setting(flag: "otel-service-name", environment: "OTEL_SERVICE_NAME", defaultValue: "rpgbot", summary: "Service name on exported spans.", accepted: "a non-empty name")

    // Party Sync
    public static let wsMaxFrame = Setting(flag: "ws-max-frame", environment: "RPGBOT_WS_MAX_FRAME", defaultValue: "64KiB", summary: "Largest Party Sync WebSocket message.", accepted: "bytes, optionally with KiB or MiB")
    public static let wsHelloTimeout = Setting(flag: "ws-hello-timeout", environment: "RPGBOT_WS_HELLO_TIMEOUT", defaultValue: "10s", summary: "Time a new WebSocket connection has to send hello.", accepted: "a duration")
    public static let wsPingInterval = Setting(flag: "ws-ping-interval", environment: "RPGBOT_WS_PING_INTERVAL", defaultValue: "25s", summary: "Interval of the application-level ping.", accepted: "a duration")
    public static let wsPongTimeout = Setting(flag: "ws-pong-timeout", environment: "RPGBOT_WS_PONG_TIMEOUT", defaultValue: "10s", summary: "Time allowed for a pong before the connection is closed.", accepted: "a duration")
    public static let wsCloseTimeout = Setting(flag: "ws-close-timeout", environment: "RPGBOT_WS_CLOSE_TIMEOUT", defaultValue: "10s", summary: "Time a closing connection has to read what is queued for it and answer the close handshake.", accepted: "a duration")
    public static let wsQueueBytes = Setting(flag: "ws-queue-bytes", environment: "RPGBOT_WS_QUEUE_BYTES", defaultValue: "1MiB", summary: "Outbound bytes queued per connection before it is closed as slow.", accepted: "bytes, optionally with KiB or MiB")
    public static let wsRate = Setting(flag: "ws-rate", environment: "RPGBOT_WS_RATE", defaultValue: "20", summary: "Frames per second a connection may send, sustained.", accepted: "a positive number")
    public static let wsBurst = Setting(flag: "ws-burst", environment: "RPGBOT_WS_BURST", defaultValue: "40", summary: "Frames a connection may send in a burst.", accepted: "a number, 1 or more")
    public static let replayLimit = Setting(flag: "replay-limit", environment: "RPGBOT_REPLAY_LIMIT", defaultValue: "1000", summary: "Most events one resume replays; larger gaps answer recovered: false.", accepted: "an integer, 1 or more")
    public static let idempotencyWindow = Setting(flag: "idempotency-window", environment: "RPGBOT_IDEMPOTENCY_WINDOW", defaultValue: "24h", summary: "How long a cmid or Idempotency-Key stays unique.", accepted: "a duration")
    public static let presenceGrace = Setting(flag: "presence-grace", environment: "RPGBOT_PRESENCE_GRACE", defaultValue: "10s", summary: "How long a member stays present after their last connection closes.", accepted: "a duration")
    public static let restPublishRate = Setting(flag: "rest-publish-rate", environment: "RPGBOT_REST_PUBLISH_RATE", defaultValue: "5", summary: "REST publishes per second per caller and campaign, sustained.", accepted: "a positive number")
    public static let restPublishBurst = Setting(flag: "rest-publish-burst", environment: "RPGBOT_REST_PUBLISH_BURST", defaultValue: "10", summary: "REST publishes per caller and campaign in a burst.", accepted: "a number, 1 or more")
    public static let retentionEvents = Setting(flag: "retention-events", environment: "RPGBOT_RETENTION_EVENTS", defaultValue: "100000", summary: "Events kept per campaign; older ones are trimmed.", accepted: "an integer, 1 or more")
    public static let retentionAge = Setting(flag: "retention-age", environment: "RPGBOT_RETENTION_AGE", defaultValue: "30d", summary: "Age beyond which events are trimmed.", accepted: "a duration")

    // Generation (gateway)
    public static let profiles = Setting(flag: "profiles", environment: "RPGBOT_PROFILES", defaultValue: "profiles/profiles.yaml", summary: "Generation profiles file; when the default path does not exist, the server starts with no profiles.", accepted: "a file path")
    public static let llmProvider = Setting(flag: "llm-provider", environment: "RPGBOT_LLM_PROVIDER", defaultValue: "offline", summary: "Provider for profiles that do not name one; offline is the deterministic template generator (no model).", accepted: "offline, openai-responses or openai-chat")
    public static let llmBaseURL = Setting(flag: "llm-base-url", environment: "RPGBOT_LLM_BASE_URL", defaultValue: "https://api.openai.com/v1", summary: "API root of the OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp).", accepted: "an http or https URL")
    public static let llmAPIKey = Setting(flag: nil, environment: "RPGBOT_LLM_API_KEY", defaultValue: "OPENAI_API_KEY when set, else none", summary: "Bearer key for the model server (environment only, never a flag).", accepted: "a string")
    public static let llmModel = Setting(flag: "llm-model", environment: "RPGBOT_LLM_MODEL", defaultValue: "gpt-4o-mini", summary: "Model for profiles that do not name one.", accepted: "a model name")
    public static let llmTimeout = Setting(flag: "llm-timeout", environment: "RPGBOT_LLM_TIMEOUT", defaultValue: "60s", summary: "Time allowed for one model call.", accepted: "a duration")
    public static let llmHeaders = Setting(flag: "llm-headers", environment: "RPGBOT_LLM_HEADERS", defaultValue: "none", summary: "Extra headers for every model call.", accepted: "Name: value pairs separated by ;")
    public static let llmChatDialect = Setting(flag: "llm-chat-dialect", environment: "RPGBOT_LLM_CHAT_DIALECT", defaultValue: "json_schema", summary: "How openai-chat asks for schema output: json_schema (OpenAI, vLLM, Ollama) or json_object with a schema (llama-cpp-python).", accepted: "json_schema or json_object")
    public static let llmRetries = Setting(flag: "llm-retries", environment: "RPGBOT_LLM_RETRIES", defaultValue: "3", summary: "Retries of one model call after 429, 5xx, timeouts or connection failures, with backoff.", accepted: "an integer 0–10")
    public static let generationRate = Setting(flag: "generation-rate", environment: "RPGBOT_GENERATION_RATE", defaultValue: "2", summary: "Generation requests per second per caller, sustained.", accepted: "a positive number")
    public static let generationBurst = Setting(flag: "generation-burst", environment: "RPGBOT_GENERATION_BURST", defaultValue: "10", summary: "Generation requests per caller in a burst.", accepted: "a number, 1 or more")
    public static let contextTokens = Setting(flag: "context-tokens", environment: "RPGBOT_CONTEXT_TOKENS", defaultValue: "npcs:700,lore:700,rules:500,episodes:500", summary: "Prompt tokens per knowledge section of /v1/generate/*.", accepted: "SECTION:TOKENS pairs (sections npcs, lore, rules, episodes; 0–20000; 0 leaves a section out)")

    // Knowledge (Memory37)
    public static let memory37Enabled = Setting(flag: "memory37", environment: "RPGBOT_MEMORY37_ENABLED", defaultValue: "true", summary: "Run the knowledge layer (/v1/knowledge) inside the gateway.", accepted: "true or false")
    public static let contentDirectory = Setting(flag: "content-dir", environment: "RPGBOT_CONTENT_DIR", defaultValue: "content/demo", summary: "Knowledge content ingested (incrementally) at every start; a missing default folder is skipped.", accepted: "a folder path")
    public static let contentCampaign = Setting(flag: "content-campaign", environment: "RPGBOT_CONTENT_CAMPAIGN", defaultValue: "demo", summary: "Campaign of the start-up content (documents may name their own).", accepted: "a campaign id, or global")
    public static let embedder = Setting(flag: "embedder", environment: "RPGBOT_EMBEDDER", defaultValue: "hashing", summary: "How chunks get vectors: hashing (offline feature hashing, no model) or openai (an OpenAI-compatible /v1/embeddings).", accepted: "hashing or openai")
    public static let embeddingBaseURL = Setting(flag: "embedding-base-url", environment: "RPGBOT_EMBEDDING_BASE_URL", defaultValue: "https://api.openai.com/v1", summary: "API root of the embeddings server.", accepted: "an http or https URL")
    public static let embeddingAPIKey = Setting(flag: nil, environment: "RPGBOT_EMBEDDING_API_KEY", defaultValue: "OPENAI_API_KEY when set, else none", summary: "Bearer key for the embeddings server (environment only).", accepted: "a string")
    public static let embeddingModel = Setting(flag: "embedding-model", environment: "RPGBOT_EMBEDDING_MODEL", defaultValue: "text-embedding-3-small", summary: "Embedding model of the openai embedder.", accepted: "a model name")
    public static let embeddingDimensions = Setting(flag: "embedding-dimensions", environment: "RPGBOT_EMBEDDING_DIMENSIONS", defaultValue: "256", summary: "Vector length (both embedders).", accepted: "an integer 16–4096")
    public static let chunkTokens = Setting(flag: "chunk-tokens", environment: "RPGBOT_CHUNK_TOKENS", defaultValue: "300", summary: "Most words in one chunk.", accepted: "an integer 32–4000")
    public static let knowledgeSearch = Setting(flag: "knowledge-search", environment: "RPGBOT_KNOWLEDGE_SEARCH", defaultValue: "in-process", summary: "Where PostgreSQL knowledge reads are answered: from each node's in-process copy kept current from the change log, or by queries in the database (tsvector + GIN, pgvector HNSW). SQLite always answers in process.", accepted: "in-process or database")
    public static let knowledgeStoreTimeout = Setting(flag: "knowledge-store-timeout", environment: "RPGBOT_KNOWLEDGE_STORE_TIMEOUT", defaultValue: "3s", summary: "Time a knowledge read may wait for the configured store before it is answered from the in-memory fallback (and the service reports degraded).", accepted: "a duration")
    public static let chunkOverlap = Setting(flag: "chunk-overlap", environment: "RPGBOT_CHUNK_OVERLAP", defaultValue: "40", summary: "Words repeated between consecutive pieces of a long paragraph.", accepted: "an integer 0–1000")

    // Media broker
    public static let ttsEngine = Setting(flag: "tts-engine", environment: "RPGBOT_TTS_ENGINE", defaultValue: "espeak-ng", summary: "Default speech engine.", accepted: "espeak-ng or openai")
    public static let imageEngine = Setting(flag: "image-engine", environment: "RPGBOT_IMAGE_ENGINE", defaultValue: "placeholder", summary: "Default image engine (placeholder: offline PNG cards, not a model).", accepted: "placeholder or openai")
    public static let mediaBaseURL = Setting(flag: "media-base-url", environment: "RPGBOT_MEDIA_BASE_URL", defaultValue: "https://api.openai.com/v1", summary: "API root of the OpenAI-compatible speech and image server.", accepted: "an http(s) URL")
    public static let mediaAPIKey = Setting(flag: nil, environment: "RPGBOT_MEDIA_API_KEY", defaultValue: "OPENAI_API_KEY when set, else none", summary: "Bearer key for the media server (environment only, never a flag).", accepted: "a string")
    public static let ttsModel = Setting(flag: "tts-model", environment: "RPGBOT_TTS_MODEL", defaultValue: "gpt-4o-mini-tts", summary: "Speech model of the openai engine.", accepted: "a model name")
    public static let imageModel = Setting(flag: "image-model", environment: "RPGBOT_IMAGE_MODEL", defaultValue: "gpt-image-1", summary: "Image model of the openai engine.", accepted: "a model name")
    public static let mediaWorkers = Setting(flag: "media-workers", environment: "RPGBOT_MEDIA_WORKERS", defaultValue: "2", summary: "Jobs run at once per kind (speech, images).", accepted: "an integer 1–64")
    public static let mediaQueue = Setting(flag: "media-queue", environment: "RPGBOT_MEDIA_QUEUE", defaultValue: "100", summary: "Queued jobs per kind before new work gets 503.", accepted: "an integer 1–100000")
    public static let mediaMaxText = Setting(flag: "media-max-text", environment: "RPGBOT_MEDIA_MAX_TEXT", defaultValue: "4096", summary: "Longest text to speak, in characters.", accepted: "an integer 1–100000")
    public static let mediaRetries = Setting(flag: "media-retries", environment: "RPGBOT_MEDIA_RETRIES", defaultValue: "2", summary: "Retries of a transient engine failure, with backoff.", accepted: "an integer 0–10")
    public static let mediaJobTimeout = Setting(flag: "media-job-timeout", environment: "RPGBOT_MEDIA_JOB_TIMEOUT", defaultValue: "120s", summary: "Time allowed for one engine run.", accepted: "a duration")
    public static let mediaTokenLifetime = Setting(flag: "media-token-ttl", environment: "RPGBOT_MEDIA_TOKEN_TTL", defaultValue: "24h", summary: "How long a client_token names its job.", accepted: "a duration")

    /// Every setting of `rpgbot serve`, in the order of its help.
    public static let all: [Setting] = [
        .host, .port, .dataDirectory, .services, .databaseURL, .databaseWait, .jwtSecret, .logLevel, .logFormat,
        .metrics, .maxBodySize, .httpIdleTimeout, .maxConnections, .shutdownTimeout, .otelTracesExporter, .otelEndpoint, .otelProtocol, .otelServiceName,
        .wsMaxFrame, .wsHelloTimeout, .wsPingInterval, .wsPongTimeout, .wsCloseTimeout, .wsQueueBytes, .wsRate, .wsBurst,
        .replayLimit, .idempotencyWindow, .presenceGrace, .restPublishRate, .restPublishBurst, .retentionEvents, .retentionAge,
        .profiles, .llmProvider, .llmBaseURL, .llmAPIKey, .llmModel, .llmTimeout, .llmHeaders, .llmChatDialect, .llmRetries,
        .generationRate, .generationBurst, .contextTokens,
        .memory37Enabled, .contentDirectory, .contentCampaign, .embedder, .embeddingBaseURL, .embeddingAPIKey, .embeddingModel,
        .embeddingDimensions, .chunkTokens, .chunkOverlap, .knowledgeSearch, .knowledgeStoreTimeout,
        .ttsEngine, .imageEngine, .mediaBaseURL, .mediaAPIKey, .ttsModel, .imageModel, .mediaWorkers, .mediaQueue, .mediaMaxText,
        .mediaRetries, .mediaJobTimeout, .mediaTokenLifetime,
    ]
}
