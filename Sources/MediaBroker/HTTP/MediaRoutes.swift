public import JSONValues
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
public import ServiceKit

/// `/v1/media/*`: submit TTS and image jobs, read and cancel them, fetch artifacts, list engines.
///
/// Any valid token may call them; a job with a `campaign_id` is visible only to tokens of that
/// campaign. `Prefer: wait=N` waits up to N seconds for the job to finish before answering.
public struct MediaRoutes: Sendable {
    let broker: MediaBroker
    let tokens: TokenAuthority

    public init(broker: MediaBroker, tokens: TokenAuthority) {
        self.broker = broker
        self.tokens = tokens
    }

    public func register(on router: CatalogedRouter<AppRequestContext>) {
        let group = router.group("v1/media").add(middleware: AuthorizationMiddleware(authority: tokens))
        let broker = self.broker
        group.post("tts") { request, context in
            try await Self.submit(.tts, request: request, context: context, broker: broker)
        }
        group.post("images") { request, context in
            try await Self.submit(.image, request: request, context: context, broker: broker)
        }
        group.get("jobs/{job_id}") { request, context in
            let job = try await Self.visibleJob(context: context, broker: broker)
            let waited = try await Self.waitIfAsked(request, job: job, broker: broker)
            return Self.answer(waited, cached: false, status: .ok, request: request)
        }
        group.delete("jobs/{job_id}") { request, context in
            try await Self.withdraw(request: request, context: context, broker: broker)
        }
        group.get("artifacts/{sha256}") { request, context in
            try ArtifactResponder.respond(request, sha: context.parameters.get("sha256") ?? "", store: broker.artifacts)
        }
        group.get("engines") { _, _ in
            Response.json(.object(["engines": .array(await broker.engines())]))
        }
    }

    static func submit(_ kind: MediaKind, request: Request, context: AppRequestContext, broker: MediaBroker) async throws -> Response {
        let caller = try context.requireIdentity()
        let wait = try PreferWait.parse(request.headers[values: .prefer], maximum: broker.settings.maxWait)
        let body = try await request.decodeJSON(as: JSONValue.self, context: context)
        let parsed = try MediaRequestBody.parse(body, kind: kind)
        if let campaign = parsed.campaignID, !caller.allows(campaign: campaign) {
            throw APIError(.forbidden, code: "forbidden_campaign", detail: "The token is for campaign \(caller.campaign), not \(campaign).")
        }
        let accepted: MediaBroker.Accepted
        do {
            accepted = try await broker.submit(MediaBroker.Submission(
                request: parsed.request, engine: parsed.engine, campaignID: parsed.campaignID, clientToken: parsed.clientToken,
                owner: caller.subject, traceparent: TraceLink.current()
            ))
        } catch let error as MediaBrokerError {
            throw problem(error)
        }
        var job = accepted.job
        if let wait, !job.status.isFinal {
            job = try await broker.wait(for: job.id, upTo: .seconds(wait)) ?? job
        }
        return answer(job, cached: accepted.cached, status: job.status == .succeeded ? .ok : .accepted, request: request)
    }

    /// `DELETE /v1/media/jobs/{id}`: the caller's interest withdrawn; the job is canceled when
    /// nobody who asked for it still wants it, or at once for a game master of its campaign or a
    /// service. `withdrawn: true` says the job goes on for the others who asked for it.
    static func withdraw(request: Request, context: AppRequestContext, broker: MediaBroker) async throws -> Response {
        let caller = try context.requireIdentity()
        let job = try await visibleJob(context: context, broker: broker)
        let overriding = caller.role == .service || (caller.role == .gm && job.campaignID != nil)
        switch try await broker.withdraw(id: job.id, requester: caller.subject, overriding: overriding) ?? .final(job) {
        case .canceled(let job), .final(let job):
            return answer(job, cached: false, status: .ok, request: request)
        case .stillWanted(let job):
            return answer(job, cached: false, status: .ok, request: request, withdrawn: true)
        case .notRequester:
            throw APIError(.forbidden, code: "not_requester", detail: "Only those who asked for this job, a game master of its campaign or a service can cancel it.")
        }
    }

    static func problem(_ error: MediaBrokerError) -> APIError {
        switch error {
        case .invalid(let errors):
            return APIError.validation(errors, detail: "The request asks for something the engine cannot do; GET /v1/media/engines lists what it can.")
        case .clientTokenConflict:
            return APIError(.conflict, code: "client_token_reused", detail: "This client_token names a job with another request; use a new token for different work.")
        case .queueFull(let retryAfter):
            return APIError(.serviceUnavailable, code: "queue_full", detail: "The media queue is full; try again later.", headers: [.retryAfter: String(retryAfter)])
        }
    }

    static func visibleJob(context: AppRequestContext, broker: MediaBroker) async throws -> MediaJob {
        let caller = try context.requireIdentity()
        let id = try context.parameters.requireID("job_id")
        // Another campaign's job answers exactly like a missing one.
        guard let job = try await broker.job(id: id), job.campaignID.map(caller.allows(campaign:)) ?? true else {
            throw APIError.notFound("There is no media job '\(id)' visible to this token.", code: "job_not_found")
        }
        return job
    }

    static func waitIfAsked(_ request: Request, job: MediaJob, broker: MediaBroker) async throws -> MediaJob {
        guard let wait = try PreferWait.parse(request.headers[values: .prefer], maximum: broker.settings.maxWait), !job.status.isFinal else { return job }
        return try await broker.wait(for: job.id, upTo: .seconds(wait)) ?? job
    }

    /// - Parameter withdrawn: the caller's interest was withdrawn and the job goes on for others.
    static func answer(_ job: MediaJob, cached: Bool, status: HTTPResponse.Status, request: Request, withdrawn: Bool = false) -> Response {
        var body = encode(job, cached: cached)
        if withdrawn, case .object(var members) = body {
            members["withdrawn"] = .bool(true)
            body = .object(members)
        }
        var response = Response.json(body, status: status)
        if !job.status.isFinal { response.headers[.retryAfter] = "1" }
        response.headers[.location] = "/v1/media/jobs/\(job.id)"
        return response
    }

    static func encode(_ job: MediaJob, cached: Bool) -> JSONValue {
        // The format style is plain Swift; ISO8601DateFormatter builds an ICU formatter per call.
        func time(_ date: Date?) -> JSONValue { date.map { .string($0.formatted(.iso8601)) } ?? .null }
        var links: [String: JSONValue] = ["self": .string("/v1/media/jobs/\(job.id)")]
        var artifact: JSONValue = .null
        if let reference = job.artifact {
            let url = "/v1/media/artifacts/\(reference.sha256)"
            links["artifact"] = .string(url)
            artifact = .object(["sha256": .string(reference.sha256), "content_type": .string(reference.contentType), "bytes": .number(Double(reference.bytes)), "url": .string(url)])
        }
        return .object([
            "job_id": .string(job.id), "kind": .string(job.kind.rawValue), "engine": .string(job.engine), "status": .string(job.status.rawValue),
            "cached": .bool(cached), "campaign_id": job.campaignID.map(JSONValue.string) ?? .null, "parameters": job.parameters,
            "attempts": .number(Double(job.attempts)), "error": job.error ?? .null, "artifact": artifact, "links": .object(links),
            "created_at": time(job.createdAt), "started_at": time(job.startedAt), "finished_at": time(job.finishedAt),
        ])
    }
}

/// `Prefer: wait=N` (RFC 7240): how long a client is willing to wait for the result.
enum PreferWait {
    static func parse(_ values: [String], maximum: Int) throws -> Int? {
        for value in values {
            for preference in value.split(separator: ",") {
                let parts = preference.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.first?.lowercased() == "wait" else { continue }
                guard parts.count == 2, let seconds = Int(parts[1]), seconds >= 0 else {
                    throw APIError.validation([.init(pointer: "/headers/Prefer", detail: "wait must be a whole number of seconds, e.g. Prefer: wait=10")])
                }
                return min(seconds, maximum)
            }
        }
        return nil
    }
}

/// The request bodies of `POST /v1/media/tts` and `/images`.
struct MediaRequestBody {
    var request: MediaRequest
    var engine: String?
    var campaignID: String?
    var clientToken: String?

    static func parse(_ body: JSONValue, kind: MediaKind) throws -> MediaRequestBody {
        guard case .object(let members) = body else { throw APIError.validation([.init(pointer: "", detail: "must be a JSON object")]) }
        var errors: [ProblemDetails.FieldError] = []
        let known: Set<String> = kind == .tts
            ? ["text", "voice", "language", "format", "speed", "engine", "campaign_id", "client_token"]
            : ["prompt", "style", "width", "height", "engine", "campaign_id", "client_token"]
        for name in members.keys.sorted() where !known.contains(name) { errors.append(.init(pointer: "/\(name)", detail: "is not an allowed member")) }
        func string(_ name: String, required: Bool) -> String? {
            switch members[name] {
            case .string(let value): return value
            case nil, .null:
                if required { errors.append(.init(pointer: "/\(name)", detail: "is required")) }
                return nil
            default:
                errors.append(.init(pointer: "/\(name)", detail: "must be a string"))
                return nil
            }
        }
        func integer(_ name: String) -> Int? {
            guard let value = members[name] else {
                errors.append(.init(pointer: "/\(name)", detail: "is required"))
                return nil
            }
            guard let number = value.numberValue, number == number.rounded(), abs(number) < 1e9 else {
                errors.append(.init(pointer: "/\(name)", detail: "must be a whole number"))
                return nil
            }
            return Int(number)
        }
        let engine = string("engine", required: false)
        let campaignID = string("campaign_id", required: false)
        if let campaignID, !PathIdentifier.isValid(campaignID) { errors.append(.init(pointer: "/campaign_id", detail: "must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")) }
        let clientToken = string("client_token", required: false)
        if let clientToken, clientToken.isEmpty || clientToken.count > 128 { errors.append(.init(pointer: "/client_token", detail: "must be 1 to 128 characters")) }
        var request: MediaRequest?
        switch kind {
        case .tts:
            let text = string("text", required: true)
            // Optional: without it the engine's voice for the language speaks.
            let voice = string("voice", required: false)
            if let voice, voice.isEmpty || voice.count > 64 { errors.append(.init(pointer: "/voice", detail: "must be 1 to 64 characters")) }
            let language = string("language", required: true)
            let formatText = string("format", required: true)
            let format = formatText.flatMap(AudioFormat.init(rawValue:))
            if formatText != nil, format == nil { errors.append(.init(pointer: "/format", detail: "must be one of wav, ogg, mp3")) }
            var speed = 1.0
            if let value = members["speed"] {
                if let number = value.numberValue { speed = number } else { errors.append(.init(pointer: "/speed", detail: "must be a number")) }
            }
            if let language, language.isEmpty || language.count > 35 { errors.append(.init(pointer: "/language", detail: "must be 1 to 35 characters")) }
            if let text, let language, let format {
                request = .speech(SpeechRequest(text: text, voice: voice ?? "", language: language, format: format, speed: speed))
            }
        case .image:
            let prompt = string("prompt", required: true)
            let style = string("style", required: false)
            let width = integer("width")
            let height = integer("height")
            if let prompt, let width, let height {
                request = .image(ImageRequest(prompt: prompt, style: style, width: width, height: height))
            }
        }
        guard errors.isEmpty, let request else { throw APIError.validation(errors) }
        return MediaRequestBody(request: request, engine: engine, campaignID: campaignID, clientToken: clientToken)
    }
}
