import Foundation
import Hummingbird
import JSONValues
public import Memory37
public import ServiceKit

/// `POST /v1/knowledge/graph/{scene_context,npc_social_context,quest_graph_context,causal_chain}`:
/// the four graph queries over HTTP. Any valid token may read; it sees its campaign's graph and
/// the global one, gm nodes and edges only with the `gm` or `service` role.
public struct GraphRoutes: Sendable {
    let service: GraphService
    let tokens: TokenAuthority
    let maxQueryLength: Int

    public init(service: GraphService, tokens: TokenAuthority, maxQueryLength: Int = 1_000) {
        self.service = service
        self.tokens = tokens
        self.maxQueryLength = maxQueryLength
    }

    public func register(on router: CatalogedRouter<AppRequestContext>) {
        let readers = router.group("v1/knowledge/graph").add(middleware: AuthorizationMiddleware(authority: tokens))
        let (service, maxLength) = (self.service, maxQueryLength)
        readers.post("scene_context") { request, context in
            let body = try await Body.read(request, context: context, maxLength: maxLength)
            let answer = try await service.sceneContext(
                location: try body.text("location"), npcs: try body.texts("npcs"), party: try body.texts("party"),
                depth: try body.integer("depth", range: GraphService.depths) ?? 2, limit: try body.integer("limit", range: GraphService.limits) ?? 40,
                filter: try body.filter(context: context), pins: try body.pins()
            )
            return Response.json(answer.json)
        }
        readers.post("npc_social_context") { request, context in
            let body = try await Body.read(request, context: context, maxLength: maxLength)
            let answer = try await service.npcSocialContext(
                npc: try body.text("npc"), party: try body.texts("party"), depth: try body.integer("depth", range: GraphService.depths) ?? 2,
                filter: try body.filter(context: context), pins: try body.pins()
            )
            return Response.json(answer.json)
        }
        readers.post("quest_graph_context") { request, context in
            let body = try await Body.read(request, context: context, maxLength: maxLength)
            let answer = try await service.questGraphContext(quest: try body.text("quest"), filter: try body.filter(context: context), pins: try body.pins())
            return Response.json(answer.json)
        }
        readers.post("causal_chain") { request, context in
            let body = try await Body.read(request, context: context, maxLength: maxLength)
            var direction = CausalDirection.back
            if let value = body.fields["direction"], value != .null {
                guard let name = value.stringValue, let parsed = CausalDirection(rawValue: name) else {
                    throw APIError.validation([.init(pointer: "/direction", detail: "must be back, forward or both")])
                }
                direction = parsed
            }
            let answer = try await service.causalChain(
                from: try body.text("from"), direction: direction, maxDepth: try body.integer("max_depth", range: GraphService.causalDepths) ?? 5,
                filter: try body.filter(context: context), pins: try body.pins()
            )
            return Response.json(answer.json)
        }
    }

    /// A graph request body, read field by field so that each bad value gets its own pointer.
    struct Body {
        let fields: [String: JSONValue]
        let maxLength: Int

        static func read(_ request: Request, context: AppRequestContext, maxLength: Int) async throws -> Body {
            guard case .object(let fields) = try await request.decodeJSON(as: JSONValue.self, context: context) else {
                throw APIError.validation([.init(pointer: "", detail: "the body must be a JSON object")])
            }
            return Body(fields: fields, maxLength: maxLength)
        }

        func text(_ name: String) throws -> String {
            guard case .string(let raw)? = fields[name] else { throw APIError.validation([.init(pointer: "/\(name)", detail: "is required and must be a string")]) }
            let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { throw APIError.validation([.init(pointer: "/\(name)", detail: "must not be empty")]) }
            guard text.count <= maxLength else { throw APIError.validation([.init(pointer: "/\(name)", detail: "must be at most \(maxLength) characters")]) }
            return text
        }

        func texts(_ name: String) throws -> [String] {
            guard let value = fields[name], value != .null else { return [] }
            guard case .array(let items) = value, items.count <= 50 else { throw APIError.validation([.init(pointer: "/\(name)", detail: "must be a list of at most 50 node ids or names")]) }
            return try items.enumerated().map { index, item in
                guard let text = item.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty, text.count <= maxLength else {
                    throw APIError.validation([.init(pointer: "/\(name)/\(index)", detail: "must be a non-empty string of at most \(maxLength) characters")])
                }
                return text
            }
        }

        func integer(_ name: String, range: ClosedRange<Int>) throws -> Int? {
            guard let value = fields[name], value != .null else { return nil }
            guard let number = value.intValue, range.contains(number) else {
                throw APIError.validation([.init(pointer: "/\(name)", detail: "must be an integer \(range.lowerBound)–\(range.upperBound)")])
            }
            return number
        }

        func pins() throws -> [KnowledgeDomain: String] {
            guard let value = fields["versions"], value != .null else { return [:] }
            guard case .object(let entries) = value else { throw APIError.validation([.init(pointer: "/versions", detail: "must be an object of domain: version or alias")]) }
            var pins: [KnowledgeDomain: String] = [:]
            for (key, entry) in entries {
                guard let domain = KnowledgeDomain(rawValue: key) else { throw APIError.validation([.init(pointer: "/versions/\(key)", detail: "is not a domain; domains are \(KnowledgeDomain.acceptedList)")]) }
                guard let name = entry.stringValue, KnowledgeVersion.isValidName(name) else {
                    throw APIError.validation([.init(pointer: "/versions/\(key)", detail: "must be a version id or alias name matching \(KnowledgeVersion.namePattern)")])
                }
                pins[domain] = name
            }
            return pins
        }

        /// The caller's view: the requested campaign (which the token must cover), else the token's.
        func filter(context: AppRequestContext) throws -> SearchFilter {
            let caller = try context.requireIdentity()
            var campaign: String?
            if let value = fields["campaign_id"], value != .null {
                guard let id = value.stringValue, PathIdentifier.isValid(id) else {
                    throw APIError.validation([.init(pointer: "/campaign_id", detail: "must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")])
                }
                if caller.campaign != "*", caller.campaign != id {
                    throw APIError(.forbidden, code: "forbidden_campaign", detail: "The token is for campaign \(caller.campaign), not \(id).")
                }
                campaign = id
            } else if caller.campaign != "*" {
                campaign = caller.campaign
            }
            return SearchFilter(campaignID: campaign, includeGM: caller.role != .player)
        }
    }
}
