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
    private let running = Mutex<[String: Task<Void, Never>]>([:])
    /// Succeeded jobs by key: they never change again, so a repeat request is answered from
    /// memory without reading the store (the cache-hit path). Bounded; emptied when full.
    private let succeeded = Mutex<[String: MediaJob]>([:])
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

    /// The engines a configuration names: the configured ones, plus the offline ones that always work.
    public static func standardEngines(_ settings: MediaSettings) -> (speech: [any SpeechEngine], images: [any ImageEngine]) {
        var speech: [any SpeechEngine] = [EspeakEngine()]
        var images: [any ImageEngine] = [PlaceholderImageEngine()]
        if settings.speechEngine == "openai" {
            speech.append(OpenAISpeechEngine(settings: OpenAIMediaSettings(baseURL: settings.openAIBaseURL, apiKey: settings.openAIKey, model: settings.speechModel, timeout: settings.jobTimeout)))
        }
        if settings.imageEngine == "openai" {
            images.append(OpenAIImageEngine(settings: OpenAIMediaSettings(baseURL: settings.openAIBaseURL, apiKey: settings.openAIKey, model: settings.imageModel, timeout: settings.jobTimeout)))
        }
        return (speech, images)
    }

    public func defaultEngine(_ kind: MediaKind) -> String {
        kind == .tts ? settings.speechEngine : settings.imageEngine
    }

    // MARK: - Requests

    /// One request for work, already shaped by the HTTP layer.
    public struct Submission: Sendable {
        public var request: MediaRequest
        public var engine: String?
        public var campaignID: String?
        public var clientToken: String?
        public var owner: String
        public var traceparent: String?

        public init(request: MediaRequest, engine: String? = nil, campaignID: String?, clientToken: String?, owner: String, traceparent: String? = nil) {
            self.request = request
            self.engine = engine
            self.campaignID = campaignID
            self.clientToken = clientToken
            self.owner = owner
            self.traceparent = traceparent
        }
    }

    public struct Accepted: Sendable {
        public var job: MediaJob
        /// The job had already succeeded when asked: its artifact is ready.
        public var cached: Bool
    }

    public func submit(_ submission: Submission) async throws -> Accepted {
        let engine = submission.engine ?? defaultEngine(submission.request.kind)
        let request = try await validated(submission.request, engine: engine)
        // The campaign is part of the job's identity: one campaign's jobs are never shown to
        // another's players. Identical bytes are still stored once.
        var scoped = request.key(engine: engine)
        if let campaign = submission.campaignID { scoped = Self.sha256("\(scoped)\u{0}\(campaign)") }
        let key = scoped
        let now = Date()
        if let token = submission.clientToken, let known = try await store.clientToken(owner: submission.owner, token: token, now: now) {
            guard known.fingerprint == key else { throw MediaBrokerError.clientTokenConflict }
            if let job = try await store.job(id: known.jobID) {
                if !job.status.isFinal { try await store.addRequester(jobID: job.id, requester: submission.owner) }
                metrics.requested(job.kind, outcome: job.status == .succeeded ? "cache_hit" : "joined")
                return Accepted(job: job, cached: job.status == .succeeded)
            }
        }
        var accepted: Accepted
        var outcome: String
        if let done = succeeded.withLock({ $0[key] }) {
            accepted = Accepted(job: done, cached: true)
            outcome = "cache_hit"
        } else if let live = try await store.liveJob(key: key) {
            if live.status == .succeeded { remember(live) }
            accepted = Accepted(job: live, cached: live.status == .succeeded)
            outcome = accepted.cached ? "cache_hit" : "joined"
        } else {
            let queued = try await store.queuedCount(kind: request.kind)
            guard queued < settings.maxQueue else {
                metrics.requested(request.kind, outcome: "queue_full")
                throw MediaBrokerError.queueFull(retryAfter: max(1, queued / max(1, settings.workers)))
            }
            let fresh = MediaJob(
                id: MediaJob.newID(), kind: request.kind, engine: engine, key: key, parameters: request.parameters,
                campaignID: submission.campaignID, owner: submission.owner, createdAt: now, traceparent: submission.traceparent
            )
            let (stored, created) = try await store.insertOrJoin(fresh)
            accepted = Accepted(job: stored, cached: !created && stored.status == .succeeded)
            outcome = created ? "created" : accepted.cached ? "cache_hit" : "joined"
            if created {
                metrics.queueDepth(request.kind, queued + 1)
                signals.signal("work:\(request.kind.rawValue)")
                await notify(stored)
            }
        }
        if let token = submission.clientToken {
            let saved = try await store.saveClientToken(owner: submission.owner, token: token, jobID: accepted.job.id, fingerprint: key, expiresAt: now.addingTimeInterval(Self.seconds(settings.clientTokenLifetime)), now: now)
            // Two requests raced with one token: the first one recorded wins.
            guard saved.fingerprint == key else { throw MediaBrokerError.clientTokenConflict }
            if saved.jobID != accepted.job.id, let job = try await store.job(id: saved.jobID) {
                accepted = Accepted(job: job, cached: job.status == .succeeded)
            }
        }
        if !accepted.job.status.isFinal {
            try await store.addRequester(jobID: accepted.job.id, requester: submission.owner)
        }
        metrics.requested(request.kind, outcome: outcome)
        return accepted
    }

    func remember(_ job: MediaJob) {
        succeeded.withLock { cache in
            if cache.count >= Self.succeededCacheSize { cache.removeAll(keepingCapacity: true) }
            cache[job.key] = job
        }
    }

    /// Checks the request against the engine's capabilities and normalises its text.
    func validated(_ request: MediaRequest, engine: String) async throws -> MediaRequest {
        var errors: [ProblemDetails.FieldError] = []
        switch request {
        case .speech(var speech):
            guard let speechEngine = speechEngines[engine] else {
                throw MediaBrokerError.invalid([.init(pointer: "/engine", detail: "must be one of \(speechEngines.keys.sorted().joined(separator: ", "))")])
            }
            speech.text = MediaRequest.normalize(speech.text)
            if speech.text.isEmpty { errors.append(.init(pointer: "/text", detail: "must not be empty")) }
            if speech.text.count > settings.maxTextLength { errors.append(.init(pointer: "/text", detail: "must be at most \(settings.maxTextLength) characters (has \(speech.text.count))")) }
            if !(0.5...2.0).contains(speech.speed) { errors.append(.init(pointer: "/speed", detail: "must be from 0.5 to 2.0")) }
            let capabilities = await speechEngine.capabilities()
            guard capabilities.ready else {
                throw MediaBrokerError.invalid([.init(pointer: "/engine", detail: "\(engine) is not available: \(capabilities.problem ?? "not ready")")])
            }
            if !capabilities.formats.contains(speech.format) {
                errors.append(.init(pointer: "/format", detail: "\(engine) can produce \(capabilities.formats.map(\.rawValue).joined(separator: ", ")) here"))
            }
            // A voice id, or a language code the engine resolves to its voice for it (`en`); no
            // voice at all means the engine's voice for the language.
            let asked = speech.voice.isEmpty ? speech.language : speech.voice
            if let voice = capabilities.voice(for: asked, isLanguage: speech.voice.isEmpty) {
                speech.voice = voice.id
                let language = speech.language.lowercased()
                let speaks = voice.language == "*" || voice.language == language || voice.language.hasPrefix(language + "-")
                    || language.hasPrefix(voice.language + "-") || voice.alsoFor[language] != nil
                if !speaks {
                    errors.append(.init(pointer: "/language", detail: "voice \(voice.id) speaks \(voice.language), not \(speech.language)"))
                }
            } else if speech.voice.isEmpty {
                errors.append(.init(pointer: "/language", detail: "\(engine) has no voice for '\(speech.language)'; name a voice, GET /v1/media/engines lists them"))
            } else {
                errors.append(.init(pointer: "/voice", detail: "\(engine) has no voice '\(speech.voice)'; GET /v1/media/engines lists them"))
            }
            guard errors.isEmpty else { throw MediaBrokerError.invalid(errors) }
            return .speech(speech)
        case .image(var image):
            guard let imageEngine = imageEngines[engine] else {
                throw MediaBrokerError.invalid([.init(pointer: "/engine", detail: "must be one of \(imageEngines.keys.sorted().joined(separator: ", "))")])
            }
            image.prompt = MediaRequest.normalize(image.prompt)
            if image.prompt.isEmpty { errors.append(.init(pointer: "/prompt", detail: "must not be empty")) }
            if image.prompt.count > settings.maxPromptLength { errors.append(.init(pointer: "/prompt", detail: "must be at most \(settings.maxPromptLength) characters")) }
            let capabilities = await imageEngine.capabilities()
            if !capabilities.sizes.contains(ImageSize(width: image.width, height: image.height)) {
                errors.append(.init(pointer: "/width", detail: "\(image.width)x\(image.height) is not a size \(engine) makes; one of \(capabilities.sizes.map(\.description).joined(separator: ", "))"))
            }
            if let style = image.style, !capabilities.styles.contains(style) {
                errors.append(.init(pointer: "/style", detail: "must be one of \(capabilities.styles.joined(separator: ", "))"))
            }
            guard errors.isEmpty else { throw MediaBrokerError.invalid(errors) }
            return .image(image)
        }
    }

    public func job(id: String) async throws -> MediaJob? {
        try await store.job(id: id)
    }

    /// What withdrawing from a job did.
    public enum Withdrawal: Sendable {
        /// Nobody wants the job any more (or the caller may stop it for everyone): canceled.
        case canceled(MediaJob)
        /// The caller's interest is withdrawn; others who asked for the same work still want it.
        case stillWanted(MediaJob)
        /// The job had already ended; nothing changed.
        case final(MediaJob)
        /// The caller never asked for this job and may not stop it.
        case notRequester(MediaJob)
    }

    /// Withdraws `requester`'s interest in a job. Deduplication gives callers who ask for the
    /// same work one shared job, so one caller cannot stop it for the others: the job is
    /// canceled when the last of its requesters withdraws, or at once when `overriding` (a game
    /// master of the job's campaign, or a service). nil when there is no such job.
    public func withdraw(id: String, requester: String, overriding: Bool) async throws -> Withdrawal? {
        guard let job = try await store.job(id: id) else { return nil }
        guard !job.status.isFinal else { return .final(job) }
        let remaining = try await store.withdrawRequester(jobID: id, requester: requester)
        if !overriding {
            guard let remaining else { return .notRequester(job) }
            if remaining > 0 { return .stillWanted(job) }
        }
        return try await cancel(id: id).map { $0.status == .canceled ? .canceled($0) : .final($0) }
    }

    /// Cancels a queued or running job for everyone; a final job is returned unchanged.
    func cancel(id: String) async throws -> MediaJob? {
        guard var job = try await store.job(id: id) else { return nil }
        guard !job.status.isFinal else { return job }
        job.status = .canceled
        job.finishedAt = Date()
        job.leaseUntil = nil
        if try await store.transition(job, from: [.queued, .running]) {
            running.withLock { $0[id] }?.cancel()
            metrics.finished(job)
            signals.signal(id)
            await notify(job)
            return job
        }
        return try await store.job(id: id)
    }

    /// Waits until the job is final or `timeout` passes, and returns its state then.
    public func wait(for id: String, upTo timeout: Duration) async throws -> MediaJob? {
        let deadline = ContinuousClock.now + timeout
        while true {
            guard let job = try await store.job(id: id) else { return nil }
            let left = deadline - ContinuousClock.now
            if job.status.isFinal || left <= .zero { return job }
            // Signalled by this process's workers; polled for jobs run by another node.
            await signals.wait(for: id, upTo: min(left, .milliseconds(250)))
        }
    }

    /// What each engine can do now.
    public func engines() async -> [JSONValue] {
        var list: [JSONValue] = []
        for (name, engine) in speechEngines.sorted(by: { $0.key < $1.key }) {
            let capabilities = await engine.capabilities()
            list.append(.object([
                "kind": .string("tts"), "name": .string(name), "default": .bool(name == settings.speechEngine), "ready": .bool(capabilities.ready),
                "problem": capabilities.problem.map(JSONValue.string) ?? .null,
                "formats": .array(capabilities.formats.map { .string($0.rawValue) }),
                "voices": .array(capabilities.voices.map { .object(["id": .string($0.id), "language": .string($0.language), "name": .string($0.name)]) }),
            ]))
        }
        for (name, engine) in imageEngines.sorted(by: { $0.key < $1.key }) {
            let capabilities = await engine.capabilities()
            list.append(.object([
                "kind": .string("image"), "name": .string(name), "default": .bool(name == settings.imageEngine), "ready": .bool(capabilities.ready),
                "problem": capabilities.problem.map(JSONValue.string) ?? .null,
                "sizes": .array(capabilities.sizes.map { .string($0.description) }), "styles": .array(capabilities.styles.map(JSONValue.string)),
                "offline_placeholder": .bool(name == "placeholder"),
            ]))
        }
        return list
    }

    // MARK: - Workers

    public func run() async throws {
        // Only this process uses an SQLite file: every job it finds running was abandoned by a
        // crash. A shared PostgreSQL store only gives up jobs whose lease expired (their node
        // stopped renewing it). The tables appear when the server's migrations have run,
        // which happens beside this.
        try await cancelWhenGracefulShutdown {
            var recovered: Int?
            while recovered == nil, !Task.isCancelled {
                let store = self.store
                recovered = try? await withDeadline(Self.storeCallDeadline) { try await store.requeueAbandoned(now: store.isShared ? Date() : .distantFuture) }
                if recovered == nil { try? await Task.sleep(for: .milliseconds(100)) }
            }
            guard !Task.isCancelled else { return }
            if let recovered, recovered > 0 { self.logger.notice("media jobs re-queued after a restart", metadata: ["jobs": "\(recovered)"]) }
            self.artifacts.removePartialFiles()
            await withDiscardingTaskGroup { group in
                for kind in MediaKind.allCases {
                    for _ in 0..<max(1, self.settings.workers) {
                        group.addTask { await self.work(kind) }
                    }
                }
                group.addTask {
                    // Leases of jobs whose node died come back into the queue.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(15))
                        let store = self.store
                        _ = try? await withDeadline(Self.storeCallDeadline) { try await store.requeueAbandoned(now: Date()) }
                    }
                }
            }
        }
    }

    /// The longest a background store call may take before the loop making it moves on.
    static let storeCallDeadline: Duration = .seconds(5)

    func work(_ kind: MediaKind) async {
        while !Task.isCancelled {
            let engine = defaultEngines(kind)
            var claimed: MediaJob?
            for name in engine where claimed == nil {
                let store = self.store
                claimed = (try? await withDeadline(Self.storeCallDeadline) { try await store.claim(kind: kind, engine: name, leaseUntil: Date().addingTimeInterval(Self.leaseSeconds), now: Date()) }) ?? nil
            }
            guard let job = claimed else {
                await signals.wait(for: "work:\(kind.rawValue)", upTo: settings.pollInterval)
                continue
            }
            let task = Task { await self.execute(job) }
            running.withLock { $0[job.id] = task }
            // The lease is renewed while the job runs, so another node takes it over only
            // when this process stops renewing (it died).
            let heartbeat = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(Self.leaseSeconds / 3))
                    if Task.isCancelled { break }
                    _ = try? await self.store.renewLease(id: job.id, until: Date().addingTimeInterval(Self.leaseSeconds))
                }
            }
            // Cancelling the worker cancels the job, which then puts itself back in the queue.
            await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
            heartbeat.cancel()
            running.withLock { $0[job.id] = nil }
        }
    }

    /// Engines of a kind this process can run, the configured one first.
    func defaultEngines(_ kind: MediaKind) -> [String] {
        let names = kind == .tts ? Array(speechEngines.keys) : Array(imageEngines.keys)
        let preferred = defaultEngine(kind)
        return [preferred] + names.filter { $0 != preferred }.sorted()
    }

    func execute(_ claimed: MediaJob) async {
        var job = claimed
        await notify(job)
        await withSpan("media.job", ofKind: .consumer) { span in
            span.attributes["rpgbot.media.job_id"] = job.id
            span.attributes["rpgbot.media.kind"] = job.kind.rawValue
            span.attributes["rpgbot.media.engine"] = job.engine
            if let traceparent = job.traceparent {
                span.attributes["rpgbot.media.requested_by"] = traceparent
                TraceLink.link(span, to: traceparent)
            }
            guard let request = job.request else {
                await finish(&job, failure: "the stored parameters cannot be read")
                return
            }
            var attempt = 0
            while true {
                attempt += 1
                job.attempts += 1
                let started = ContinuousClock.now
                do {
                    let output = try await runEngine(request, engine: job.engine)
                    metrics.engineRun(job.kind, engine: job.engine, outcome: "ok", duration: ContinuousClock.now - started)
                    job.artifact = try artifacts.write(output)
                    job.status = .succeeded
                    job.error = nil
                    await finish(&job, failure: nil)
                    span.attributes["rpgbot.media.bytes"] = job.artifact?.bytes ?? 0
                    return
                } catch is CancellationError {
                    // Canceled by DELETE: the job is already stored as canceled and this changes
                    // nothing. Stopped by a shutdown: the job goes back to the queue at once
                    // rather than waiting for its lease or a restart.
                    var requeued = job
                    requeued.status = .queued
                    requeued.leaseUntil = nil
                    _ = try? await store.transition(requeued, from: [.running])
                    return
                } catch let error as MediaEngineError where error.transient && attempt <= settings.retries && !Task.isCancelled {
                    metrics.engineRun(job.kind, engine: job.engine, outcome: "retry", duration: ContinuousClock.now - started)
                    logger.warning("media engine failed; retrying", metadata: ["job": "\(job.id)", "attempt": "\(attempt)", "error": "\(error)"])
                    guard (try? await store.transition(job, from: [.running])) == true else { return }
                    try? await Task.sleep(for: settings.initialBackoff * (1 << (attempt - 1)))
                    if Task.isCancelled { return }
                } catch {
                    metrics.engineRun(job.kind, engine: job.engine, outcome: "error", duration: ContinuousClock.now - started)
                    span.recordError(error)
                    await finish(&job, failure: "\(error)")
                    return
                }
            }
        }
    }

    func runEngine(_ request: MediaRequest, engine: String) async throws -> MediaOutput {
        let timeout = settings.jobTimeout
        return try await withThrowingTaskGroup(of: MediaOutput?.self) { group in
            group.addTask {
                switch request {
                case .speech(let speech):
                    guard let engine = self.speechEngines[engine] else { throw MediaEngineError("no speech engine \(engine) here", transient: false) }
                    return try await engine.synthesize(speech)
                case .image(let image):
                    guard let engine = self.imageEngines[engine] else { throw MediaEngineError("no image engine \(engine) here", transient: false) }
                    return try await engine.render(image)
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let output = first else {
                throw MediaEngineError("the engine took longer than \(timeout)", transient: true)
            }
            return output
        }
    }

    /// Stores the final state (unless the job was canceled meanwhile) and tells whoever waits.
    func finish(_ job: inout MediaJob, failure: String?) async {
        if let failure {
            job.status = .failed
            job.error = .object([
                "type": .string("https://rpgbot.dev/problems/media-engine-failed"), "title": .string("Media engine failed"),
                "status": .number(502), "code": .string("engine_failed"), "detail": .string(failure),
            ])
        }
        job.finishedAt = Date()
        job.leaseUntil = nil
        if (try? await store.transition(job, from: [.running])) == true {
            metrics.finished(job)
            await notify(job)
        }
        signals.signal(job.id)
        if let depth = try? await store.queuedCount(kind: job.kind) { metrics.queueDepth(job.kind, depth) }
    }

    func notify(_ job: MediaJob) async {
        guard job.campaignID != nil, let observer else { return }
        await observer.jobUpdated(job)
    }

    /// How long a running job stays claimed without a renewal.
    static let leaseSeconds = 30.0

    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).hexString
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
