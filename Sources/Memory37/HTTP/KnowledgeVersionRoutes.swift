public import JSONValues
import Foundation
import Hummingbird
import HTTPTypes
public import ServiceKit

/// `/v1/knowledge/versions`, `/aliases` and `/policies`: the version registry over HTTP.
///
/// Any valid token may list what its campaign sees; switching aliases, publishing and
/// retiring versions and setting lifetime policies need `gm` or `service`, and changes to the
/// global scope (no `campaign_id`) need `service`.
public struct KnowledgeVersionRoutes: Sendable {
    let service: KnowledgeService
    let tokens: TokenAuthority

    public init(service: KnowledgeService, tokens: TokenAuthority) {
        self.service = service
        self.tokens = tokens
    }

    public func register(on router: CatalogedRouter<AppRequestContext>) {
        let service = self.service
        let readers = router.group("v1/knowledge").add(middleware: AuthorizationMiddleware(authority: tokens))
        readers.get("versions") { request, context in
            let campaign = try Self.readScope(request, context: context)
            let listed = try await service.versions(campaignID: campaign)
            return Response.json(.object(["versions": .array(listed.map { Self.encode($0.version, counts: $0.counts, aliases: $0.aliases) })]))
        }
        readers.get("aliases") { request, context in
            let campaign = try Self.readScope(request, context: context)
            let catalog = try await service.catalog()
            let listed = try await service.versions(campaignID: campaign)
            let scopes: [String?] = campaign.map { [$0, nil] } ?? [nil]
            var aliases: [JSONValue] = []
            for scope in scopes {
                for alias in catalog.aliases.values.filter({ $0.campaignID == scope }).sorted(by: { $0.name < $1.name }) {
                    let domain = catalog.version(alias.version, campaignID: scope)?.domain
                    aliases.append(Self.encode(alias.name, campaignID: scope, version: alias.version, domain: domain, updated: alias, implicit: false))
                }
                // `<domain>_latest` of a domain with content and no switch yet: the working version.
                for entry in listed where entry.version.campaignID == scope && entry.version.state == .working && entry.counts.documents > 0 {
                    let name = KnowledgeAlias.latest(entry.version.domain)
                    if catalog.aliases[KnowledgeVersionRef(campaignID: scope, version: name)] == nil {
                        aliases.append(Self.encode(name, campaignID: scope, version: entry.version.id, domain: entry.version.domain, updated: nil, implicit: true))
                    }
                }
            }
            let history = catalog.history.filter { scopes.contains($0.campaignID) }.suffix(100).map(Self.encode)
            return Response.json(.object(["aliases": .array(aliases), "history": .array(Array(history))]))
        }
        readers.get("policies") { request, context in
            let campaign = try Self.readScope(request, context: context)
            let catalog = try await service.catalog()
            var ttl: [String: JSONValue] = [:]
            for domain in KnowledgeDomain.allCases {
                ttl[domain.rawValue] = catalog.lifetime(domain, campaignID: campaign, defaults: service.lifetimes).map { .string(KnowledgeLifetimes.format($0)) } ?? .null
            }
            let defaults = Dictionary(uniqueKeysWithValues: KnowledgeDomain.allCases.map { ($0.rawValue, service.lifetimes[$0].map { JSONValue.string(KnowledgeLifetimes.format($0)) } ?? .null) })
            return Response.json(.object(["campaign_id": campaign.map { .string($0) } ?? .null, "ttl": .object(ttl), "defaults": .object(defaults)]))
        }
        let writers = router.group("v1/knowledge").add(middleware: AuthorizationMiddleware(authority: tokens, roles: [.gm, .service]))
        writers.put("aliases/{name}") { request, context in
            let name = try Self.name(context, "name")
            let body = try await Self.body(request, context: context)
            let campaign = try Self.writeScope(body, context: context)
            guard let version = try body.versionName("version") else {
                throw APIError.validation([.init(pointer: "/version", detail: "is required: the version the alias points to")])
            }
            let change = try await service.setAlias(name, campaignID: campaign, to: version, by: try context.requireIdentity().subject)
            return Response.json(Self.encode(change))
        }
        writers.post("aliases/{name}/rollback") { request, context in
            let name = try Self.name(context, "name")
            let campaign = try Self.writeScope(try await Self.body(request, context: context), context: context)
            let change = try await service.rollbackAlias(name, campaignID: campaign, by: try context.requireIdentity().subject)
            return Response.json(Self.encode(change))
        }
        writers.post("versions/{version}/publish") { request, context in
            let id = try Self.name(context, "version")
            let campaign = try Self.writeScope(try await Self.body(request, context: context), context: context)
            return Response.json(Self.encode(try await service.publish(id, campaignID: campaign), counts: nil, aliases: nil))
        }
        writers.post("versions/{version}/retire") { request, context in
            let id = try Self.name(context, "version")
            let campaign = try Self.writeScope(try await Self.body(request, context: context), context: context)
            return Response.json(Self.encode(try await service.retire(id, campaignID: campaign), counts: nil, aliases: nil))
        }
        writers.put("policies") { request, context in
            let body = try await Self.body(request, context: context)
            guard try body.campaignID() != nil, let campaign = try Self.writeScope(body, context: context) else {
                throw APIError.validation([.init(pointer: "/campaign_id", detail: "is required: the global defaults are the RPGBOT_KNOWLEDGE_TTL setting")])
            }
            guard case .object(let entries)? = body.fields["ttl"] else {
                throw APIError.validation([.init(pointer: "/ttl", detail: "must be an object of domain: duration (90s, 45m, 12h, 180d, 2w) or \"none\"")])
            }
            var lifetimes: [KnowledgeDomain: Double?] = [:]
            var errors: [ProblemDetails.FieldError] = []
            for (key, value) in entries.sorted(by: { $0.key < $1.key }) {
                guard let domain = KnowledgeDomain(rawValue: key) else {
                    errors.append(.init(pointer: "/ttl/\(key)", detail: "is not a domain; domains are \(KnowledgeDomain.acceptedList)"))
                    continue
                }
                switch value {
                case .null: continue
                case .string("none"): lifetimes[domain] = .some(nil)
                case .string(let text) where KnowledgeLifetimes.parse(text) != nil: lifetimes[domain] = KnowledgeLifetimes.parse(text)
                default: errors.append(.init(pointer: "/ttl/\(key)", detail: "must be a duration such as 90s, 45m, 12h, 180d or 2w, \"none\" (never expires) or null (the default)"))
                }
            }
            guard errors.isEmpty else { throw APIError.validation(errors) }
            try await service.setPolicies(lifetimes, campaignID: campaign)
            var ttl: [String: JSONValue] = [:]
            for domain in KnowledgeDomain.allCases {
                let effective: Double? = lifetimes[domain].map { $0 } ?? service.lifetimes[domain]
                ttl[domain.rawValue] = effective.map { .string(KnowledgeLifetimes.format($0)) } ?? .null
            }
            return Response.json(.object(["campaign_id": .string(campaign), "ttl": .object(ttl)]))
        }
    }

    /// A version id or alias name from the path; 400 when it cannot be one.
    static func name(_ context: AppRequestContext, _ parameter: String) throws -> String {
        guard let value = context.parameters.get(parameter), KnowledgeVersion.isValidName(value) else {
            throw APIError(.badRequest, code: "invalid_name", detail: "\(parameter) must match \(KnowledgeVersion.namePattern).",
                           errors: [.init(pointer: "/path/\(parameter)", detail: "1–64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")])
        }
        return value
    }

    /// The optional JSON body of a registry change.
    static func body(_ request: Request, context: AppRequestContext) async throws -> KnowledgeRequest {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { return KnowledgeRequest(fields: [:], limits: KnowledgeLimits()) }
        if let contentType = request.headers[.contentType], !Request.isJSONMediaType(contentType) {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", detail: "Send the body as application/json (got \(contentType)).")
        }
        guard case .object(let fields) = try JSONBodyDecoder.decode(JSONValue.self, from: Data(buffer.readableBytesView)) else {
            throw APIError.validation([.init(pointer: "", detail: "the body must be a JSON object")])
        }
        return KnowledgeRequest(fields: fields, limits: KnowledgeLimits())
    }

    /// The scope listed: `campaign_id` from the query (the token must cover it), else the
    /// token's campaign (global for a token of every campaign).
    static func readScope(_ request: Request, context: AppRequestContext) throws -> String? {
        let caller = try context.requireIdentity()
        let requested = request.uri.queryParameters.get("campaign_id")
        if let requested, !PathIdentifier.isValid(requested) {
            throw APIError.validation([.init(pointer: "/query/campaign_id", detail: "must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")])
        }
        return try KnowledgeRequest.filter(caller: caller, campaign: requested).campaignID
    }

    /// The scope a change applies to: the body's `campaign_id` (the token must cover it), or
    /// the global scope, which only `service` tokens of every campaign change.
    static func writeScope(_ body: KnowledgeRequest, context: AppRequestContext) throws -> String? {
        let caller = try context.requireIdentity()
        let campaign = try body.campaignID()
        if let campaign {
            guard caller.campaign == TokenClaims.anyCampaign || caller.campaign == campaign else {
                throw APIError(.forbidden, code: "forbidden_campaign", detail: "The token is for campaign \(caller.campaign), not \(campaign).")
            }
            return campaign
        }
        guard caller.role == .service, caller.campaign == TokenClaims.anyCampaign else {
            throw APIError(.forbidden, code: "forbidden_scope", detail: "The global scope (no campaign_id) is changed by service tokens for every campaign (*) only.")
        }
        return nil
    }

    static func time(_ date: Date?) -> JSONValue {
        date.map { .string(ISO8601DateFormatter().string(from: $0)) } ?? .null
    }

    public static func encode(_ version: KnowledgeVersion, counts: VersionCounts?, aliases: [String]?) -> JSONValue {
        var fields: [String: JSONValue] = [
            "id": .string(version.id), "campaign_id": version.campaignID.map { .string($0) } ?? .null, "domain": .string(version.domain.rawValue),
            "state": .string(version.state.rawValue), "created_at": version.state == .working ? .null : time(version.createdAt),
            "created_by": version.state == .working ? .null : .string(version.createdBy), "published_at": time(version.publishedAt),
            "retired_at": time(version.retiredAt), "note": .string(version.note),
        ]
        if let counts {
            fields["documents"] = .number(Double(counts.documents))
            fields["chunks"] = .number(Double(counts.chunks))
        }
        if let aliases { fields["aliases"] = .array(aliases.map { .string($0) }) }
        return .object(fields)
    }

    public static func encode(_ change: AliasChange) -> JSONValue {
        .object([
            "name": .string(change.name), "campaign_id": change.campaignID.map { .string($0) } ?? .null,
            "from": change.from.map { .string($0) } ?? .null, "to": change.to.map { .string($0) } ?? .null,
            "changed_by": .string(change.changedBy), "changed_at": time(change.changedAt),
        ])
    }

    static func encode(_ name: String, campaignID: String?, version: String, domain: KnowledgeDomain?, updated: KnowledgeAlias?, implicit: Bool) -> JSONValue {
        .object([
            "name": .string(name), "campaign_id": campaignID.map { .string($0) } ?? .null, "version": .string(version),
            "domain": domain.map { .string($0.rawValue) } ?? .null, "implicit": .bool(implicit),
            "updated_at": time(updated?.updatedAt), "updated_by": updated.map { .string($0.updatedBy) } ?? .null,
        ])
    }
}
