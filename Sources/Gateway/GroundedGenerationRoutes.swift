import JSONValues
import Foundation
import Memory37
import Genlayers
import HTTPTypes
import Hummingbird
import JSONSchema
import Observability
public import ServiceKit

/// `POST /v1/generate/{scene|combat|social|epilogue}`: knowledge-grounded structured generation.
///
/// The body is the frame — what the GM and the party know now, validated against the
/// profile's input schema — plus `campaign_id` (required), `broadcast` and `record`. Any valid
/// token for the campaign may generate; `broadcast` needs a game master. An `Idempotency-Key`
/// makes a repeat return the first answer.
public struct GroundedGenerationRoutes: Sendable {
    let generator: GroundedGenerator
    let tokens: TokenAuthority
    let limiter: TokenBucketRateLimiter
    let rate: Double
    let answers: IdempotencyCache

    public init(generator: GroundedGenerator, tokens: TokenAuthority, rate: Double, burst: Double, idempotencyLifetime: Duration = .seconds(24 * 3600)) {
        self.generator = generator
        self.tokens = tokens
        self.rate = rate
        self.limiter = TokenBucketRateLimiter(policy: .init(burst: burst, refillPerSecond: rate))
        self.answers = IdempotencyCache(lifetime: idempotencyLifetime)
    }

    /// Members of the body that are options, not frame.
    static let optionKeys: Set<String> = ["campaign_id", "broadcast", "record"]

    public func register(on router: CatalogedRouter<AppRequestContext>) {
        let group = router.group("v1/generate").add(middleware: AuthorizationMiddleware(authority: tokens))
        for endpoint in DomainEndpoint.allCases {
            group.post(RouterPath(stringLiteral: endpoint.rawValue)) { request, context in
                try await generate(endpoint, request: request, context: context)
            }
        }
    }

    func generate(_ endpoint: DomainEndpoint, request: Request, context: AppRequestContext) async throws -> Response {
        let caller = try context.requireIdentity()
        if case .limited(let retryAfter) = limiter.acquire(caller.subject) {
            throw APIError.rateLimited(retryAfter: retryAfter, detail: "Generation is limited to \(rate) requests per second per caller.")
        }
        let key = request.headers[.idempotencyKey]
        if let key, key.isEmpty || key.count > 64 {
            throw APIError.validation([.init(pointer: "/headers/Idempotency-Key", detail: "must be 1 to 64 characters")])
        }
        let body = try await request.decodeJSON(as: JSONValue.self, context: context)
        let parsed = try parse(body, endpoint: endpoint, caller: caller, idempotencyKey: key)

        let cacheKey = key.map { "\(caller.subject)\u{0}\(endpoint.rawValue)\u{0}\($0)" }
        if let cacheKey {
            switch answers.begin(cacheKey, fingerprint: body.canonicalText) {
            case .proceed: break
            case .replay(let answer):
                var response = Response.json(answer)
                response.headers[.idempotentReplayed] = "true"
                return response
            case .inProgress:
                throw APIError(.conflict, code: "request_in_progress", detail: "A request with this Idempotency-Key is still being answered; repeat it when that one is done.")
            case .conflict:
                throw APIError(.conflict, code: "idempotency_key_reused", detail: "This Idempotency-Key was used with another body; use a new key for a different request.")
            }
        }
        do {
            let result = try await generator.generate(parsed)
            let answer = Self.encode(result)
            if let cacheKey { answers.finish(cacheKey, response: answer) }
            return Response.json(answer)
        } catch let failure as GenerationFailure {
            if let cacheKey { answers.abandon(cacheKey) }
            throw GenerationRoutes.problem(for: failure)
        } catch {
            if let cacheKey { answers.abandon(cacheKey) }
            throw error
        }
    }

    /// Splits the body into options and frame and checks both; every problem is reported at once.
    func parse(_ body: JSONValue, endpoint: DomainEndpoint, caller: TokenClaims, idempotencyKey: String?) throws -> GroundedGenerator.Request {
        guard case .object(let members) = body else {
            throw APIError.validation([.init(pointer: "", detail: "must be a JSON object")])
        }
        var errors: [ProblemDetails.FieldError] = []
        var campaignID = ""
        switch members["campaign_id"] {
        case .string(let id) where PathIdentifier.isValid(id): campaignID = id
        case .string: errors.append(.init(pointer: "/campaign_id", detail: "must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"))
        case nil: errors.append(.init(pointer: "/campaign_id", detail: "is required"))
        default: errors.append(.init(pointer: "/campaign_id", detail: "must be a string"))
        }
        func flag(_ name: String) -> Bool {
            switch members[name] {
            case nil, .null: return false
            case .bool(let value): return value
            default:
                errors.append(.init(pointer: "/\(name)", detail: "must be true or false"))
                return false
            }
        }
        let broadcast = flag("broadcast")
        let record = flag("record")
        let frame = members.filter { !Self.optionKeys.contains($0.key) }
        if let schema = generator.engine.catalog[endpoint.profile]?.inputSchema {
            errors += schema.validate(.object(frame)).map { .init(pointer: $0.instanceLocation, detail: $0.message) }
        }
        guard errors.isEmpty else {
            throw APIError.validation(errors, detail: "The request does not match the \(endpoint.rawValue) frame; see the OpenAPI document.")
        }
        return GroundedGenerator.Request(endpoint: endpoint, campaignID: campaignID, frame: frame, caller: caller, broadcast: broadcast, record: record, idempotencyKey: idempotencyKey)
    }

    /// The success body.
    static func encode(_ result: GroundedGenerator.Result) -> JSONValue {
        guard case .object(var object) = GenerationRoutes.encode(result.generation) else { return .null }
        object["knowledge_items"] = .array(result.context.items.map { item in
            var fields: [String: JSONValue] = [
                "id": .string(item.id), "domain": .string(item.domain.rawValue), "title": .string(item.title),
                "source_id": .string(item.sourceID), "section": .string(item.section.rawValue),
                "snippet": .string(Snippet.make(item.text, query: "")),
                "score": .number((item.score * 10_000).rounded() / 10_000), "cited": .bool(result.cited.contains(item.id)),
            ]
            // A graph fact names the chunks it was read from.
            if !item.evidence.isEmpty { fields["evidence"] = .array(item.evidence.map { .string($0) }) }
            return .object(fields)
        })
        object["knowledge"] = .string(result.knowledgeState.rawValue)
        object["knowledge_versions"] = KnowledgeRoutes.encode(result.knowledgeVersions)
        object["context_tokens"] = .number(Double(result.context.tokens))
        object["broadcast"] = result.broadcastOffset.map { .object(["offset": .number(Double($0))]) } ?? .null
        object["recorded"] = result.recordedSourceID.map { .object(["source_id": .string($0)]) } ?? .null
        return .object(object)
    }
}
