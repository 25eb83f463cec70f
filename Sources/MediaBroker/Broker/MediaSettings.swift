/// Limits and choices of the media broker; every one is a setting (`rpgbot serve --help`).
public struct MediaSettings: Sendable {
    /// `espeak-ng` or `openai`.
    public var speechEngine = "espeak-ng"
    /// `placeholder` or `openai`.
    public var imageEngine = "placeholder"
    /// For the `openai` engines.
    public var openAIBaseURL = "https://api.openai.com/v1"
    public var openAIKey: String?
    public var speechModel = "gpt-4o-mini-tts"
    public var imageModel = "gpt-image-1"
    /// Jobs run at once per kind.
    public var workers = 2
    /// Queued jobs per kind before new work is refused with 503.
    public var maxQueue = 100
    public var maxTextLength = 4_096
    public var maxPromptLength = 4_000
    /// Engine retries of transient errors (with backoff from 0.5 s, doubling).
    public var retries = 2
    public var initialBackoff: Duration = .milliseconds(500)
    /// One engine run; a running job's lease lasts this long plus a margin.
    public var jobTimeout: Duration = .seconds(120)
    /// How long a client token names its job.
    public var clientTokenLifetime: Duration = .seconds(24 * 3600)
    /// Longest `Prefer: wait=N` honoured.
    public var maxWait = 60
    /// How often workers look for work queued by other nodes or recovered leases.
    public var pollInterval: Duration = .seconds(1)

    public init() {}
}
