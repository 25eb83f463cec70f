import JSONValues
import Foundation
import HTTPTypes
public import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
public import ServiceKit

/// The HTTP surface of Party Sync: the campaign WebSocket and REST publish and history.
public struct PartySyncRoutes: Sendable {
    let hub: PartySyncHub
    let tokens: TokenAuthority
    let restLimiter: TokenBucketRateLimiter

    public init(hub: PartySyncHub, tokens: TokenAuthority) {
        self.hub = hub
        self.tokens = tokens
        self.restLimiter = TokenBucketRateLimiter(policy: .init(burst: hub.settings.restBurst, refillPerSecond: hub.settings.restRate))
    }

    /// `GET /ws/campaign/{campaign_id}` on the WebSocket router.
    public func registerWebSocket(on router: Router<AppRequestContext>) {
        let hub = self.hub
        let tokens = self.tokens
        router.ws("ws/campaign/{campaign_id}") { _, context in
            PathIdentifier.isValid(context.parameters.get("campaign_id") ?? "") ? .upgrade([:]) : .dontUpgrade
        } onUpgrade: { inbound, outbound, context in
            guard let campaignID = context.requestContext.parameters.get("campaign_id") else { return }
            let connection = PartySyncConnection(
                campaignID: campaignID, hub: hub, tokens: tokens, channel: context.requestContext.channel, logger: context.logger
            )
            await connection.run(inbound: inbound, outbound: outbound)
        }
    }

    /// REST publish and history, and the plain-HTTP answer of the WebSocket path.
    public func registerHTTP(on router: CatalogedRouter<AppRequestContext>) {
        router.get("ws/campaign/{campaign_id}") { _, context -> Response in
            _ = try context.parameters.requireID("campaign_id")
            throw APIError(
                .upgradeRequired, code: "upgrade_required",
                detail: "This endpoint speaks WebSocket; see docs/party-sync-protocol.md.",
                headers: [.upgrade: "websocket", .connection: "Upgrade"]
            )
        }
        let campaign = router.group("v1/campaigns/{campaign_id}")
        let hub = self.hub
        let limiter = self.restLimiter
        campaign.group("events")
            .add(middleware: AuthorizationMiddleware(authority: tokens, roles: [.gm, .service], campaignParameter: "campaign_id"))
            .post { request, context in
                try await Self.publish(request: request, context: context, hub: hub, limiter: limiter)
            }
        campaign.group("events")
            .add(middleware: AuthorizationMiddleware(authority: tokens, roles: [.player, .gm, .service], campaignParameter: "campaign_id"))
            .get { request, context in
                try await Self.page(request: request, context: context, hub: hub)
            }
    }

    /// `{type, payload?}`; the payload is kept exactly as sent (numbers as written).
    struct PublishBody {
        let type: String
        let payload: ExactJSON?

        init(_ body: ExactJSON) throws {
            guard case .object(let members) = body else { throw APIError.validation([.init(pointer: "", detail: "must be a JSON object")]) }
            switch members["type"] {
            case .string(let type)?: self.type = type
            case nil: throw APIError.validation([.init(pointer: "/type", detail: "is required")])
            default: throw APIError.validation([.init(pointer: "/type", detail: "must be a string")])
            }
            payload = members["payload"].flatMap { $0 == .null ? nil : $0 }
        }
    }

    static func publish(request: Request, context: AppRequestContext, hub: PartySyncHub, limiter: TokenBucketRateLimiter) async throws -> Response {
        let campaignID = try context.parameters.requireID("campaign_id")
        let caller = try context.requireIdentity()
        if case .limited(let retryAfter) = limiter.acquire("\(caller.subject)\u{0}\(campaignID)") {
            hub.metrics.recordRateLimited()
            throw APIError.rateLimited(retryAfter: retryAfter, detail: "Publishing is limited to \(hub.settings.restRate) events per second per caller and campaign.")
        }
        let key = request.headers[.idempotencyKey]
        if let key, key.isEmpty || key.count > 64 {
            throw APIError.validation([.init(pointer: "/headers/Idempotency-Key", detail: "must be 1 to 64 characters")])
        }
        let body = try PublishBody(try await request.decodeExactJSON(context: context))
        guard EventValidation.isValidType(body.type, maxLength: hub.settings.maxTypeLength) else {
            throw APIError.validation([.init(pointer: "/type", detail: EventValidation.typeRule(maxLength: hub.settings.maxTypeLength))])
        }
        let draft: EventDraft
        do {
            draft = try ServerDice.resolve(EventDraft(
                campaignID: campaignID, type: body.type, actor: caller.subject, role: caller.role, cmid: key,
                payload: body.payload?.canonicalText ?? "{}"
            ), payload: body.payload)
        } catch {
            throw APIError.validation([.init(pointer: error.pointer, detail: error.message)], detail: error.code == "reserved_type" ? "This event type is written by the server." : "The dice expression cannot be rolled.")
        }
        let outcome: AppendOutcome
        do {
            outcome = try await hub.publish(draft)
        } catch let error as EventLogError {
            throw APIError(.conflict, code: "idempotency_key_reused", detail: "\(error.description); use a new Idempotency-Key for a different event.")
        }
        // A repeated key answers exactly what the first request answered.
        let (offset, id, epoch, replayed): (Int64, String, String, Bool) =
            switch outcome {
            case .stored(let event): (event.offset, event.id, event.epoch, false)
            case .duplicate(let offset, let id, let epoch): (offset, id, epoch, true)
            }
        let text = #"{"id":"# + JSONValue.quoted(id) + #","offset":"# + String(offset) + #","epoch":"# + JSONValue.quoted(epoch) + #","duplicate":false}"#
        var headers: HTTPFields = [.contentType: "application/json"]
        if replayed { headers[.idempotentReplayed] = "true" }
        return Response(status: .created, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func page(request: Request, context: AppRequestContext, hub: PartySyncHub) async throws -> Response {
        let campaignID = try context.parameters.requireID("campaign_id")
        let query = request.uri.queryParameters
        var errors: [ProblemDetails.FieldError] = []
        let after = query.get("after").map { Int64($0) } ?? 0
        if after == nil || after! < 0 { errors.append(.init(pointer: "/query/after", detail: "must be an offset, 0 or more")) }
        let limit = query.get("limit").map { Int($0) } ?? 100
        if limit == nil || !(1...hub.settings.maxHistoryPage).contains(limit!) {
            errors.append(.init(pointer: "/query/limit", detail: "must be 1–\(hub.settings.maxHistoryPage)"))
        }
        guard errors.isEmpty, let after, let limit else { throw APIError.validation(errors) }
        let head = try await hub.store.head(campaignID: campaignID)
        let events = try await hub.store.events(campaignID: campaignID, after: after, limit: limit + 1)
        let page = events.prefix(limit)
        var text = #"{"epoch":"# + JSONValue.quoted(head.epoch) + #","top":"# + String(head.top)
        text += #","first_retained":"# + String(head.firstRetained)
        text += #","events":["# + page.map(ServerFrame.eventObject).joined(separator: ",") + "]"
        text += #","has_more":"# + (events.count > limit ? "true" : "false")
        if let last = page.last { text += #","next_after":"# + String(last.offset) }
        text += "}"
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
