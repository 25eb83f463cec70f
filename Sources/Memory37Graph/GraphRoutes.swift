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
    let limits: KnowledgeLimits

    public init(service: GraphService, tokens: TokenAuthority, limits: KnowledgeLimits = KnowledgeLimits()) {
        self.service = service
        self.tokens = tokens
        self.limits = limits
    }

    public func register(on router: CatalogedRouter<AppRequestContext>) {
        let readers = router.group("v1/knowledge/graph").add(middleware: AuthorizationMiddleware(authority: tokens))
        let (service, limits) = (self.service, self.limits)
        readers.post("scene_context") { request, context in
            let body = try await KnowledgeRequest.read(request, context: context, limits: limits)
            let answer = try await service.sceneContext(
                location: try body.text("location"), npcs: try body.texts("npcs"), party: try body.texts("party"),
                depth: try body.integer("depth", range: GraphService.depths) ?? 2, limit: try body.integer("limit", range: GraphService.limits) ?? 40,
                filter: try body.filter(context: context), pins: try body.pins()
            )
            return Response.json(answer.json)
        }
        readers.post("npc_social_context") { request, context in
            let body = try await KnowledgeRequest.read(request, context: context, limits: limits)
            let answer = try await service.npcSocialContext(
                npc: try body.text("npc"), party: try body.texts("party"), depth: try body.integer("depth", range: GraphService.depths) ?? 2,
                filter: try body.filter(context: context), pins: try body.pins()
            )
            return Response.json(answer.json)
        }
        readers.post("quest_graph_context") { request, context in
            let body = try await KnowledgeRequest.read(request, context: context, limits: limits)
            let answer = try await service.questGraphContext(quest: try body.text("quest"), filter: try body.filter(context: context), pins: try body.pins())
            return Response.json(answer.json)
        }
        readers.post("causal_chain") { request, context in
            let body = try await KnowledgeRequest.read(request, context: context, limits: limits)
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
}
