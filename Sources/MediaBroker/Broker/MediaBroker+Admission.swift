import Crypto
public import Foundation
import Logging
import Observability
public import ServiceKit
import ServiceLifecycle
import Synchronization
import Tracing

/// Admission: a request is checked against its engine, deduplicated by key and client token
/// (joining a live job, or answered from the success cache), queued within the queue's bound,
/// and its requester recorded; requesters withdraw, and a job nobody wants is canceled.
extension MediaBroker {
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
            let saved = try await store.saveClientToken(owner: submission.owner, token: token, jobID: accepted.job.id, fingerprint: key, expiresAt: now.addingTimeInterval(settings.clientTokenLifetime.inSeconds), now: now)
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
}
