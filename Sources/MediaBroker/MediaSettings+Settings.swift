public import CapabilityKit

extension Setting {
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
}
