public import JSONValues
import Foundation
import HTTPTypes
import Hummingbird
import JSONSchema
import NIOCore
import Observability
public import ServiceKit

/// `/v1/generation/*`: the profiles and structured generation over HTTP. Any valid token may
/// call them; each caller is rate limited, since every call may cost model tokens.
public struct GenerationRoutes: Sendable {
    let engine: GenerationEngine
    let tokens: TokenAuthority
    let limiter: TokenBucketRateLimiter
    let rate: Double

    public init(engine: GenerationEngine, tokens: TokenAuthority, rate: Double, burst: Double) {
        self.engine = engine
        self.tokens = tokens
        self.rate = rate
        self.limiter = TokenBucketRateLimiter(policy: .init(burst: burst, refillPerSecond: rate))
    }

    public func register(on router: CatalogedRouter<AppRequestContext>) {
        let group = router.group("v1/generation").add(middleware: AuthorizationMiddleware(authority: tokens))
        let engine = self.engine
        group.get("profiles") { _, _ in
            Response.json(.object(["profiles": .array(engine.catalog.sorted.map(Self.describe))]))
        }
        group.post("{profile}") { request, context in
            try await generate(request: request, context: context)
        }
    }

    struct Body: Decodable {
        let input: JSONValue?
        let context: JSONValue?
    }

    func generate(request: Request, context: AppRequestContext) async throws -> Response {
        let name = try context.parameters.requireID("profile")
        guard engine.catalog[name] != nil else {
            throw APIError.notFound("There is no generation profile named '\(name)'; GET /v1/generation/profiles lists them.", code: "unknown_profile")
        }
        let caller = try context.requireIdentity()
        if case .limited(let retryAfter) = limiter.acquire(caller.subject) {
            throw APIError.rateLimited(retryAfter: retryAfter, detail: "Generation is limited to \(rate) requests per second per caller.")
        }
        let body = try await request.decodeJSON(as: Body.self, context: context)
        var errors: [ProblemDetails.FieldError] = []
        if let input = body.input, input.objectValue == nil { errors.append(.init(pointer: "/input", detail: "must be an object")) }
        if let extra = body.context, extra.objectValue == nil { errors.append(.init(pointer: "/context", detail: "must be an object")) }
        guard errors.isEmpty else { throw APIError.validation(errors) }
        let generation = GenerationRequest(profile: name, input: body.input ?? .object([:]), context: body.context ?? .object([:]))
        do {
            let result = try await engine.generate(generation)
            return Response.json(Self.encode(result))
        } catch let failure as GenerationFailure {
            throw Self.problem(for: failure)
        }
    }

    /// The success body: the output and how it was obtained.
    public static func encode(_ result: GenerationResult) -> JSONValue {
        var object: [String: JSONValue] = [
            "profile": .string(result.profile),
            "output": result.output,
            "attempts": .number(Double(result.attempts.count)),
            "attempt_log": .array(result.attempts.map(\.json)),
            "usage": result.usage.json,
            "provider": .string(result.provider),
            "model": .string(result.model),
            "latency_ms": .number((result.latencyMilliseconds * 10).rounded() / 10),
        ]
        if let traceID = Telemetry.currentTraceID() { object["trace_id"] = .string(traceID) }
        return .object(object)
    }

    /// How each failure reaches the client: the promise is valid output or one of these.
    public static func problem(for failure: GenerationFailure) -> APIError {
        switch failure {
        case .unknownProfile(let name):
            return APIError.notFound("There is no generation profile named '\(name)'.", code: "unknown_profile")
        case .unknownProvider(let name):
            return APIError(.serviceUnavailable, code: "provider_not_configured", detail: "The provider '\(name)' is not available in this server.")
        case .invalidInput(let errors):
            let fields = errors.map { ProblemDetails.FieldError(pointer: "/input" + $0.instanceLocation, detail: $0.message) }
            return APIError.validation(fields, detail: "The input does not match the profile's input schema.")
        case .refused(let text, let attempts, let usage, let model):
            var error = APIError(.unprocessableContent, code: "model_refused", detail: "The model declined to answer: \(text)", title: "Model refused")
            error.problem.extensions = ["refusal": .string(text), "attempts": .number(Double(attempts.count)), "attempt_log": .array(attempts.map(\.json)), "usage": usage.json, "model": .string(model)]
            return error
        case .invalidOutput(let attempts, let usage, let model):
            let last = attempts.last?.errors ?? []
            var error = APIError(.badGateway, code: "generation_failed", detail: "The model gave no valid output in \(attempts.count) attempts; no output is returned. Last errors: \(last.prefix(3).joined(separator: "; "))", title: "Generation failed")
            error.problem.extensions = ["attempts": .number(Double(attempts.count)), "attempt_log": .array(attempts.map(\.json)), "last_errors": .array(last.map { .string($0) }), "usage": usage.json, "model": .string(model)]
            return error
        case .provider(let providerError, let attempts, let usage):
            var error: APIError
            if case .rateLimited(let retryAfter, _) = providerError {
                var headers: HTTPFields = [:]
                if let retryAfter { headers[.retryAfter] = String(max(1, Int(retryAfter.inSeconds.rounded(.up)))) }
                error = APIError(.serviceUnavailable, code: "provider_rate_limited", detail: "The model provider is rate limiting: \(providerError)", headers: headers)
            } else {
                error = APIError(.badGateway, code: "provider_error", detail: "The model provider failed: \(providerError)")
            }
            error.problem.extensions = ["attempts": .number(Double(attempts.count)), "attempt_log": .array(attempts.map(\.json)), "usage": usage.json]
            return error
        }
    }

    static func describe(_ profile: GenerationProfile) -> JSONValue {
        var object: [String: JSONValue] = [
            "name": .string(profile.name),
            "description": .string(profile.description),
            "schema": profile.schemaDocument,
            "max_retries": .number(Double(profile.maxRetries)),
            "strict": .bool(profile.strict),
            "repair": .bool(profile.repair),
        ]
        if let provider = profile.provider { object["provider"] = .string(provider) }
        if let model = profile.model { object["model"] = .string(model) }
        return .object(object)
    }
}
