public import Foundation
public import Memory37
import ServiceKit
import Tracing

/// The campaign graph's front: the four GraphRAG queries over a ``GraphStore``, each read
/// through the knowledge layer's aliases (every node and edge belongs to a knowledge version)
/// with the caller's visibility. See docs/knowledge-graph.md.
public final class GraphService: Sendable {
    public let store: any GraphStore
    public let knowledge: KnowledgeService
    public let indexer: GraphIndexer
    /// Edges one hop may read: a hub beyond it is read in part.
    let edgesPerHop: Int
    /// Nodes a hop expands further (the best connected of those it reached).
    let frontierCap: Int

    public init(store: any GraphStore, knowledge: KnowledgeService, indexer: GraphIndexer, edgesPerHop: Int = 2_000, frontierCap: Int = 48) {
        self.store = store
        self.knowledge = knowledge
        self.indexer = indexer
        self.edgesPerHop = edgesPerHop
        self.frontierCap = frontierCap
    }

    /// Query bounds, checked by the routes and the CLI.
    public static let depths = 1...3
    public static let limits = 1...200
    public static let causalDepths = 1...10

    /// The view of `filter` through the aliases (or `pins`), and which version of each domain answers.
    public func view(_ filter: SearchFilter, pins: [KnowledgeDomain: String] = [:]) async throws -> (GraphView, [KnowledgeDomain: String]) {
        let read = try await knowledge.resolve(filter, pins: pins)
        return (GraphView(read.filter), read.versions)
    }

    // MARK: - Traversal

    /// The visible neighbourhood of `seeds` within `depth` hops along `types` (nil: all).
    struct Neighbourhood {
        var nodes: [String: GraphNode] = [:]
        var edges: [String: GraphEdge] = [:]
        var distance: [String: Int] = [:]
        var unresolved: Set<String> = []

    }

    /// - Parameters:
    ///   - farBudget: at most this many nodes two or more hops away are kept (the ones reached
    ///     most strongly from nearer nodes); the rest are dropped with their edges before any
    ///     node is read. nil: all. A scene of a crowded place reaches a thousand people's
    ///     friends, of which a few dozen can ever rank.
    ///   - ring: beyond the first hop, at most this many of the newest ring are expanded
    ///     (nil: ``frontierCap``).
    ///   - skippingIncoming: beyond the first hop, edges of these types that end at a node are
    ///     not followed (nor read): a faction reached is not a way to its member list.
    ///   - firstHop: the first hop's edges when already read (see ``prefetchFirstHop(_:types:view:)``).
    ///   - follow: whether an edge is followed from a node (direction rules).
    func expand(_ seeds: [String], depth: Int, types: Set<String>?, view: GraphView, ring: Int? = nil, skippingIncoming: Set<String> = [], farBudget: Int? = nil, firstHop: [GraphEdge]? = nil, follow: (GraphEdge, String) -> Bool = { _, _ in true }) async throws -> Neighbourhood {
        var walk = GraphTraversal(seeds: seeds)
        var frontier = seeds.compactMap { walk.number(of: $0) }
        for hop in 1...max(1, depth) where !frontier.isEmpty {
            var inFrontier = [Bool](repeating: false, count: walk.count)
            for number in frontier { inFrontier[number] = true }
            var next: [Int] = []
            let found: [GraphEdge]
            if hop == 1, let firstHop {
                found = firstHop
            } else {
                found = try await store.edges(touching: frontier.map { walk.ids[$0] }, types: types, skippingIncoming: hop == 1 ? [] : skippingIncoming, view: view, limit: edgesPerHop)
            }
            for edge in found where view.admits(edge) {
                // The edge must be followed from one of the frontier's nodes in an allowed direction.
                let fromFrontier = walk.number(of: edge.from).map { $0 < inFrontier.count && inFrontier[$0] } ?? false
                let toFrontier = walk.number(of: edge.to).map { $0 < inFrontier.count && inFrontier[$0] } ?? false
                guard (fromFrontier && follow(edge, edge.from)) || (toFrontier && follow(edge, edge.to)) else { continue }
                next += walk.add(edge, hop: hop)
            }
            // Hub damping: beyond the first hop only the best-connected newcomers are expanded,
            // so a crowded place or a large faction costs a bounded number of rows.
            frontier = walk.strongest(next, limit: min(frontierCap, ring ?? frontierCap))
        }
        if let farBudget { walk.limitFar(to: farBudget) }
        var result = walk.neighbourhood()
        try await load(&result, view: view)
        return result
    }

    /// Resolves `reference` to a node while reading, at the same time, the first hop of a walk
    /// from it on the guess that it is an id (it usually is): one round trip less. The edges
    /// are returned only when the guess was right.
    func resolveWithFirstHop(_ reference: String, view: GraphView, kinds: Set<String>? = nil, what: String, pointer: String, types: Set<String>?) async throws -> (GraphNode, [GraphEdge]?) {
        async let guess = store.edges(touching: [reference], types: types, view: view, limit: edgesPerHop)
        let node = try await require(reference, view: view, kinds: kinds, what: what, pointer: pointer)
        let edges = try await guess
        return (node, node.id == reference ? edges : nil)
    }

    /// Loads the nodes of a neighbourhood; drops what the view may not see (gm nodes for
    /// players, expired ones) with every edge touching it.
    func load(_ result: inout Neighbourhood, view: GraphView) async throws {
        let rows = try await store.nodes(ids: Array(result.distance.keys), view: view)
        var hidden = Set<String>()
        var nodes: [String: GraphNode] = [:]
        for node in rows {
            // A campaign's own document stands in for a global one of the same id.
            if let present = nodes[node.id], present.campaignID != nil, node.campaignID == nil { continue }
            nodes[node.id] = node
        }
        for (id, node) in nodes where !view.admits(node) || (!view.includeGM && node.visibility == .gm) {
            hidden.insert(id)
            nodes[id] = nil
        }
        result.nodes = nodes
        result.edges = result.edges.filter { !hidden.contains($0.value.from) && !hidden.contains($0.value.to) }
        let reachable = Set(result.edges.values.flatMap { [$0.from, $0.to] }).union(result.distance.filter { $0.value == 0 }.keys)
        result.distance = result.distance.filter { !hidden.contains($0.key) && reachable.contains($0.key) }
        result.unresolved = Set(result.distance.keys).subtracting(nodes.keys)
    }

    /// The id of a visible node named by `reference`: its id, else its name or an alias.
    public func resolveNode(_ reference: String, view: GraphView, kinds: Set<String>? = nil) async throws -> GraphNode? {
        var candidates = try await store.nodes(ids: [reference], view: view)
        if candidates.isEmpty {
            let ids = try await store.nodeIDs(named: reference, view: view)
            candidates = try await store.nodes(ids: ids, view: view)
        }
        let visible = candidates.filter { node in view.admits(node) && (view.includeGM || node.visibility == .players) && (kinds?.contains(node.kind) ?? true) }
        return visible.sorted { ($0.campaignID != nil ? 0 : 1, $0.id) < ($1.campaignID != nil ? 0 : 1, $1.id) }.first
    }

    func require(_ reference: String, view: GraphView, kinds: Set<String>? = nil, what: String, pointer: String) async throws -> GraphNode {
        guard let node = try await resolveNode(reference, view: view, kinds: kinds) else {
            throw APIError.notFound("No \(what) with the id, name or alias '\(reference)' is visible here.", code: "graph_node_not_found")
        }
        return node
    }

    /// Answer parts shared by the queries: the neighbourhood's nodes and edges, limited to `keep`.
    func answer(_ neighbourhood: Neighbourhood, keep: Set<String>? = nil, versions: [KnowledgeDomain: String]) -> GraphAnswer {
        var answer = GraphAnswer()
        let kept = keep ?? Set(neighbourhood.distance.keys)
        answer.nodes = neighbourhood.nodes.values.filter { kept.contains($0.id) }.sorted { (neighbourhood.distance[$0.id] ?? 9, $0.id) < (neighbourhood.distance[$1.id] ?? 9, $1.id) }
        answer.unresolved = neighbourhood.unresolved.filter { kept.contains($0) }.sorted()
        answer.edges = neighbourhood.edges.values.filter { kept.contains($0.from) && kept.contains($0.to) }.sorted { $0.id < $1.id }
        answer.versions = versions
        return answer
    }

    static func isOpen(_ node: GraphNode) -> Bool { node.status == nil || node.status == "open" || node.status == "active" }

    static let people: Set<String> = ["npc", "pc", "creature", "party"]

    /// `name [id]`, or the id alone when the node is unresolved.
    static func label(_ id: String, in neighbourhood: Neighbourhood) -> String {
        neighbourhood.nodes[id].map { "\($0.name) [\(id)]" } ?? "[\(id)]"
    }

    static func describe(_ edge: GraphEdge, in neighbourhood: Neighbourhood) -> String {
        var text = "\(label(edge.from, in: neighbourhood)) \(edge.type.replacingOccurrences(of: "_", with: " ")) \(label(edge.to, in: neighbourhood))"
        var details: [String] = []
        if let attitude = edge.attitude { details.append("attitude \(attitude)") }
        if let since = edge.since { details.append("since session \(since)") }
        if let until = edge.until { details.append("until session \(until)") }
        if edge.type == "mentions", edge.weight > 1 { details.append("\(Int(edge.weight)) times") }
        if let note = edge.note, edge.type != "mentions" { details.append(note) }
        if !details.isEmpty { text += " (" + details.joined(separator: "; ") + ")" }
        return text
    }
}
