public import CapabilityKit

extension Setting {
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
    public static let contextTokens = Setting(flag: "context-tokens", environment: "RPGBOT_CONTEXT_TOKENS", defaultValue: "npcs:700,graph:400,lore:700,rules:500,episodes:500", summary: "Prompt tokens per knowledge section of /v1/generate/*.", accepted: "SECTION:TOKENS pairs (sections npcs, graph, lore, rules, episodes; 0–20000; 0 leaves a section out)")
}
