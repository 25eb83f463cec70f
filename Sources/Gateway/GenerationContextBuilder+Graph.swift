import Foundation
import HTTPTypes
import JSONValues
import Memory37
import Memory37Graph
import ServiceKit

extension GenerationContextBuilder {
    /// Graph facts for the prompt: scene → `scene_context` of the location, social →
    /// `npc_social_context` of the NPCs present, combat → `scene_context` of the place (allies,
    /// enemies), epilogue → `causal_chain` of the session's episodes and `quest_graph_context`
    /// of the open quests they touch. Each fact is one edge, cited by its id; a place or NPC the
    /// graph does not know adds nothing.
    func graphCandidates(_ endpoint: DomainEndpoint, frame: [String: JSONValue], plan: Plan, filter: SearchFilter) async throws -> [Candidate] {
        guard let graph else { return [] }
        let reader = FrameReader(frame)
        var answers: [GraphAnswer] = []
        func attempt(_ query: () async throws -> GraphAnswer) async throws {
            do {
                answers.append(try await query())
            } catch let error as APIError where error.status == .notFound {
                // Not in the graph: the other sections still ground the request.
            }
        }
        switch endpoint {
        case .scene, .combat:
            if let location = reader.text("location") {
                try await attempt { try await graph.sceneContext(location: location, depth: endpoint == .combat ? 1 : 2, limit: 30, filter: filter) }
            }
        case .social:
            for npc in plan.npcs.prefix(3) {
                try await attempt { try await graph.npcSocialContext(npc: npc, depth: 2, filter: filter) }
            }
        case .epilogue:
            var sources: [String] = []
            if let session = plan.session, filter.campaignID != nil {
                sources = Array(Set(try await knowledge.sessionFetch(filter: filter, fromSession: session, toSession: session, limit: 10).map(\.sourceID))).sorted()
            }
            for source in sources.prefix(3) {
                try await attempt { try await graph.causalChain(from: source, direction: .both, maxDepth: 5, filter: filter) }
            }
            for quest in try await graph.openQuests(near: sources, filter: filter).prefix(2) {
                try await attempt { try await graph.questGraphContext(quest: quest, filter: filter) }
            }
        }
        var seen = Set<String>()
        var candidates: [Candidate] = []
        for answer in answers {
            let names = Dictionary(answer.nodes.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
            let domains = Dictionary(answer.nodes.map { ($0.sourceID, $0.domain) }, uniquingKeysWith: { first, _ in first })
            // The query's own order first (relations, then the rest), mentions last.
            let ranked = answer.edges.sorted { (rank($0), $1.weight, $0.id) < (rank($1), $0.weight, $1.id) }
            for edge in ranked where seen.insert(edge.id).inserted {
                func name(_ id: String) -> String { names[id].map { "\($0) (\(id))" } ?? id }
                var text = "\(name(edge.from)) \(edge.type.replacingOccurrences(of: "_", with: " ")) \(name(edge.to))"
                if let attitude = edge.attitude { text += ", attitude \(attitude)" }
                if let since = edge.since { text += ", since session \(since)" }
                if edge.snippet != "\(edge.from) \(edge.type.replacingOccurrences(of: "_", with: " ")) \(edge.to)" { text += ". " + edge.snippet }
                candidates.append(Candidate(id: edge.id, domain: domains[edge.sourceID] ?? .lore, title: "graph: \(edge.type)", sourceID: edge.sourceID, score: edge.weight, text: text, evidence: edge.chunkIDs))
            }
        }
        return candidates
    }

    private func rank(_ edge: GraphEdge) -> Int {
        if edge.type == "mentions" { return 3 }
        if RelationType.social.contains(edge.type) || edge.type == "causes" { return 0 }
        if RelationType.quest.contains(edge.type) { return 1 }
        return 2
    }
}
