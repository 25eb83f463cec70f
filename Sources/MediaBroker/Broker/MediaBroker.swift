import Crypto
public import Foundation
public import Logging
public import Observability
public import ServiceKit
public import ServiceLifecycle
import Synchronization
import Tracing

/// Why the broker refused a request.
public enum MediaBrokerError: Error, Sendable {
    /// The request names something the engine cannot do (422).
    case invalid([ProblemDetails.FieldError])
    /// The client token was used with another body (409).
    case clientTokenConflict
    /// The queue is full (503 with Retry-After).
    case queueFull(retryAfter: Int)
}

/// The media job broker: takes TTS and image requests, deduplicates them by key and client
/// token, queues them durably, runs them on a bounded worker pool per kind, retries transient
/// engine errors, stores artifacts by content, and tells the campaign about every change.
///
/// It is a lifecycle service: `run()` recovers jobs a crashed process left running, then
/// works the queues until shutdown.
public final class MediaBroker: Service, Sendable {
    public let store: any MediaJobStore
    public let artifacts: ArtifactStore
    public let settings: MediaSettings
    let speechEngines: [String: any SpeechEngine]
    let imageEngines: [String: any ImageEngine]
    let observer: (any MediaJobObserver)?
    let metrics: MediaMetrics
    let logger: Logger
    let signals = Signals()
    let running = Mutex<[String: Task<Void, Never>]>([:])
    /// Succeeded jobs by key: they never change again, so a repeat request is answered from
    /// memory without reading the store (the cache-hit path). Bounded; emptied when full.
    let succeeded = Mutex<[String: MediaJob]>([:])
    static let succeededCacheSize = 10_000

    public init(store: any MediaJobStore, artifacts: ArtifactStore, settings: MediaSettings, speechEngines: [any SpeechEngine], imageEngines: [any ImageEngine], observer: (any MediaJobObserver)? = nil, metrics: MetricsRegistry? = nil, logger: Logger = Logger(label: "rpgbot.media")) {
        self.store = store
        self.artifacts = artifacts
        self.settings = settings
        self.speechEngines = Dictionary(speechEngines.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.imageEngines = Dictionary(imageEngines.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.observer = observer
        self.metrics = MediaMetrics(registry: metrics)
        self.logger = logger
    }
}
