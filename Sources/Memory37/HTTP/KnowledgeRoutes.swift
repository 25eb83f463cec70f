public import JSONValues
import Foundation
import Hummingbird
import NIOCore
public import ServiceKit

/// `/v1/knowledge/*`: search, the read API and ingestion over HTTP.
///
/// Any valid token may read; what it sees is its campaign's knowledge plus the global one,
/// and `gm` chunks only for the `gm` and `service` roles. Ingestion needs `gm` or `service`.
public struct KnowledgeRoutes: Sendable {
    let service: KnowledgeService
    let tokens: TokenAuthority
    let limits: KnowledgeLimits

    public init(service: KnowledgeService, tokens: TokenAuthority, limits: KnowledgeLimits = KnowledgeLimits()) {
        self.service = service
        self.tokens = tokens
        self.limits = limits
    }

    public func register(on router: CatalogedRouter<AppRequestContext>) {
        let readers = router.group("v1/knowledge")
            .add(middleware: AuthorizationMiddleware(authority: tokens))
            .add(middleware: ReadScopeMiddleware())
        let service = self.service
        let limits = self.limits
        readers.post("search") { request, context in
            let body = try await KnowledgeRequest.read(request, context: context, limits: limits)
            let read = try await Self.resolve(body, context: context, domains: try body.domains(), service: service)
            let hits = try await service.search(try body.text("query"), filter: read.filter, k: try body.k(), mode: try body.mode())
            return Response.json(.object([
                "hits": .array(hits.map(Self.encode)), "versions": Self.encode(read.versions),
                "store": .string(service.isDegraded ? "memory" : service.primary.kind), "degraded": .bool(service.isDegraded),
            ]))
        }
        readers.post("lore_search") { request, context in
            let body = try await KnowledgeRequest.read(request, context: context, limits: limits)
            let domains = try body.domains()
            let read = try await Self.resolve(body, context: context, domains: domains.isEmpty ? [.lore] : domains, service: service)
            let hits = try await service.loreSearch(try body.text("query"), filter: read.filter, k: try body.k())
            return Response.json(.object(["hits": .array(hits.map(Self.encode)), "versions": Self.encode(read.versions)]))
        }
        readers.post("rules_lookup") { request, context in
            let body = try await KnowledgeRequest.read(request, context: context, limits: limits)
            let read = try await Self.resolve(body, context: context, domains: [.srd], service: service)
            let hits = try await service.rulesLookup(try body.text("query"), filter: read.filter, k: try body.k(default: 5))
            return Response.json(.object(["hits": .array(hits.map(Self.encode)), "versions": Self.encode(read.versions)]))
        }
        readers.post("art_suggest") { request, context in
            let body = try await KnowledgeRequest.read(request, context: context, limits: limits)
            let read = try await Self.resolve(body, context: context, domains: [.art], service: service)
            let hits = try await service.artSuggest(try body.text("description"), filter: read.filter, k: try body.k(default: 5))
            return Response.json(.object(["hits": .array(hits.map(Self.encode)), "versions": Self.encode(read.versions)]))
        }
        readers.post("session_fetch") { request, context in
            let body = try await KnowledgeRequest.read(request, context: context, limits: limits)
            let filter = try body.filter(context: context)
            guard filter.campaignID != nil else {
                throw APIError.validation([.init(pointer: "/campaign_id", detail: "is required (episodes belong to a campaign)")])
            }
            let (from, to, limit) = (try body.integer("from_session", range: 0...100_000), try body.integer("to_session", range: 0...100_000), try body.integer("limit", range: 1...500) ?? 50)
            let read = try await Self.resolve(body, context: context, domains: [.episode], service: service)
            let episodes = try await service.sessionFetch(filter: read.filter, fromSession: from, toSession: to, limit: limit)
            return Response.json(.object(["episodes": .array(episodes.map { chunk in
                .object([
                    "id": .string(chunk.id), "source_id": .string(chunk.sourceID), "title": .string(chunk.title),
                    "session": chunk.sessionNumber.map { .number(Double($0)) } ?? .null, "text": .string(chunk.text),
                    "metadata": .object(chunk.metadata), "version": .string(chunk.version),
                ])
            }), "versions": Self.encode(read.versions)]))
        }
        readers.post("npc_profile") { request, context in
            let body = try await KnowledgeRequest.read(request, context: context, limits: limits)
            let reference = try body.text("npc")
            let read = try await Self.resolve(body, context: context, domains: [.npc], service: service)
            guard let profile = try await service.npcProfile(reference, filter: read.filter) else {
                throw APIError.notFound("No NPC with the id, name or alias '\(reference)' is visible here.", code: "npc_not_found")
            }
            return Response.json(.object([
                "id": .string(profile.id), "name": .string(profile.name), "aliases": .array(profile.aliases.map { .string($0) }),
                "campaign_id": profile.campaignID.map { .string($0) } ?? .null, "visibility": .string(profile.visibility.rawValue),
                "fields": .object(profile.fields), "text": .string(profile.text), "chunk_ids": .array(profile.chunkIDs.map { .string($0) }),
                "versions": Self.encode(read.versions),
            ]))
        }
        readers.post("lore_assert") { request, context in
            let body = try await KnowledgeRequest.read(request, context: context, limits: limits)
            let claim = try body.text("claim")
            let read = try await Self.resolve(body, context: context, domains: [], service: service)
            let assertion = try await service.loreAssert(claim, filter: read.filter)
            return Response.json(.object([
                "verdict": .string(assertion.verdict.rawValue), "deciding_sentence": assertion.deciding.map { .string($0) } ?? .null,
                "evidence": .array(assertion.evidence.map(Self.encode)), "versions": Self.encode(read.versions),
            ]))
        }
        KnowledgeVersionRoutes(service: service, tokens: tokens).register(on: router)
        router.group("v1/knowledge")
            .add(middleware: AuthorizationMiddleware(authority: tokens, roles: [.gm, .service]))
            .post("ingest") { request, context in
                try await Self.ingest(request: request, context: context, service: service, limits: limits)
            }
    }

    static func ingest(request: Request, context: AppRequestContext, service: KnowledgeService, limits: KnowledgeLimits) async throws -> Response {
        let body = try await KnowledgeRequest.read(request, context: context, limits: limits)
        let caller = try context.requireIdentity()
        let campaign = try body.campaignID()
        if campaign == nil, caller.campaign != "*" {
            throw APIError(.forbidden, code: "forbidden_campaign", detail: "Global knowledge (no campaign_id) needs a token for every campaign (*).")
        }
        if let campaign, caller.campaign != "*", caller.campaign != campaign {
            throw APIError(.forbidden, code: "forbidden_campaign", detail: "The token is for campaign \(caller.campaign), not \(campaign).")
        }
        guard case .array(let items)? = body.fields["documents"], !items.isEmpty || body.fields["from"] != nil else {
            throw APIError.validation([.init(pointer: "/documents", detail: "must be a non-empty array of documents (it may be empty only with from)")])
        }
        guard items.count <= limits.maxDocumentsPerIngest else {
            throw APIError.validation([.init(pointer: "/documents", detail: "at most \(limits.maxDocumentsPerIngest) documents per request")])
        }
        let options = IngestOptions(
            version: try body.versionName("version"), from: try body.versionName("from"), publish: try body.boolean("publish") ?? false,
            alias: try body.versionName("alias"), prune: try body.boolean("prune") ?? false, pruneScope: .some(campaign), actor: caller.subject
        )
        let loader = DocumentLoader(defaultDomain: .lore, defaultCampaign: campaign)
        var documents: [KnowledgeDocument] = []
        var errors: [ProblemDetails.FieldError] = []
        for (index, item) in items.enumerated() {
            guard case .object(var fields) = item else {
                errors.append(.init(pointer: "/documents/\(index)", detail: "must be an object"))
                continue
            }
            // A document may not move itself into another campaign than the request's.
            fields["campaign"] = campaign.map { .string($0) } ?? .null
            let text = fields.removeValue(forKey: "text")?.stringValue ?? ""
            guard fields["id"]?.stringValue != nil else {
                errors.append(.init(pointer: "/documents/\(index)/id", detail: "is required"))
                continue
            }
            do {
                documents.append(try loader.document(fields, body: text, defaultID: "", path: "/documents/\(index)"))
            } catch {
                errors.append(.init(pointer: "/documents/\(index)", detail: error.reason))
            }
        }
        guard errors.isEmpty else { throw APIError.validation(errors, detail: "No document was stored: fix these and send again.") }
        let report = try await service.ingest(documents, options: options)
        return Response.json(.object([
            "added": .array(report.added.map { .string($0) }), "updated": .array(report.updated.map { .string($0) }),
            "unchanged": .array(report.unchanged.map { .string($0) }), "removed": .array(report.removed.map { .string($0) }),
            "carried": .array(report.carried.map { .string($0) }),
            "failed": .array(report.failed.map { .object(["document": .string($0.path), "reason": .string($0.reason)]) }),
            "chunks_written": .number(Double(report.chunksWritten)), "chunks_embedded": .number(Double(report.chunksEmbedded)),
            "version": report.version.map { KnowledgeVersionRoutes.encode($0, counts: nil, aliases: nil) } ?? .null,
            "alias": report.alias.map(KnowledgeVersionRoutes.encode) ?? .null,
        ]))
    }

    /// `body`'s filter with its versions resolved (and pinned by `versions`).
    static func resolve(_ body: KnowledgeRequest, context: AppRequestContext, domains: Set<KnowledgeDomain>, service: KnowledgeService) async throws -> ResolvedRead {
        try await service.resolve(try body.filter(context: context, domains: domains), pins: try body.pins())
    }

    /// Which version of each domain answered.
    public static func encode(_ versions: [KnowledgeDomain: String]) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: versions.map { ($0.key.rawValue, JSONValue.string($0.value)) }))
    }

    public static func encode(_ hit: SearchHit) -> JSONValue {
        var why: [String: JSONValue] = ["alias_hit": .bool(hit.aliasHit)]
        why["bm25_rank"] = hit.bm25Rank.map { .number(Double($0)) } ?? .null
        why["vector_rank"] = hit.vectorRank.map { .number(Double($0)) } ?? .null
        return .object([
            "id": .string(hit.chunk.id), "domain": .string(hit.chunk.domain.rawValue), "title": .string(hit.chunk.title),
            "snippet": .string(hit.snippet), "score": .number((hit.score * 10000).rounded() / 10000), "source_id": .string(hit.chunk.sourceID),
            "campaign_id": hit.chunk.campaignID.map { .string($0) } ?? .null, "version": .string(hit.chunk.version), "why": .object(why),
        ])
    }
}

/// Bounds on knowledge requests; each is a setting.
public struct KnowledgeLimits: Sendable {
    public var maxQueryLength = 1000
    public var maxK = 50
    public var maxDocumentsPerIngest = 500

    public init() {}
}

extension JSONValue {
    var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }
}
