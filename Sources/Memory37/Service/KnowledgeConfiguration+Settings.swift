public import CapabilityKit

extension Setting {
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
}
