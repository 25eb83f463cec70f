import Foundation

/// The bookkeeping of one breadth-first walk: every reached node gets a small integer once,
/// so that distances, the frontier and hub damping work on arrays instead of hashing node ids
/// again for every edge; edges are kept once per id, a campaign's own one over a global one.
struct GraphTraversal {
    private var index: [String: Int] = [:]
    private(set) var ids: [String] = []
    private(set) var distance: [Int] = []
    private var edgeSlot: [String: Int] = [:]
    private var edges: [GraphEdge] = []
    /// Per kept edge: its ends' numbers and how strongly it pulls the farther end in.
    private var links: [(from: Int, to: Int, strength: Double)] = []

    init(seeds: [String], capacity: Int = 512) {
        index.reserveCapacity(capacity)
        edgeSlot.reserveCapacity(capacity)
        for seed in seeds { _ = intern(seed, distance: 0) }
    }

    var count: Int { ids.count }

    func number(of id: String) -> Int? { index[id] }

    /// The node's number, and whether it is new (then it is at `distance`).
    mutating func intern(_ id: String, distance hop: Int) -> (number: Int, isNew: Bool) {
        if let number = index[id] { return (number, false) }
        let number = ids.count
        index[id] = number
        ids.append(id)
        distance.append(hop)
        return (number, true)
    }

    /// Keeps `edge` found at `hop`; returns the ends it reached first.
    mutating func add(_ edge: GraphEdge, hop: Int) -> [Int] {
        let id = edge.id
        if let slot = edgeSlot[id] {
            if edge.campaignID != nil { edges[slot] = edge }
            return []
        }
        let from = intern(edge.from, distance: hop)
        let to = intern(edge.to, distance: hop)
        edgeSlot[id] = edges.count
        edges.append(edge)
        links.append((from.number, to.number, RelationType.rankWeight(edge.type) * (1 + log(1 + edge.weight))))
        return [from, to].filter(\.isNew).map(\.number)
    }

    /// The `limit` of `candidates` most strongly reached from nearer nodes (by edge type and
    /// weight); ties go to the smaller id.
    func strongest(_ candidates: [Int], limit: Int) -> [Int] {
        guard candidates.count > limit else { return candidates }
        var strength = [Double](repeating: 0, count: ids.count)
        for link in links {
            let (from, to) = (distance[link.from], distance[link.to])
            if from < to { strength[link.to] += link.strength } else if to < from { strength[link.from] += link.strength }
        }
        let ranked = candidates.sorted { (strength[$0], ids[$1]) > (strength[$1], ids[$0]) }
        return Array(ranked.prefix(limit))
    }

    /// Keeps at most `budget` of the nodes two or more hops away, the strongest.
    mutating func limitFar(to budget: Int) {
        let far = distance.indices.filter { distance[$0] >= 2 }
        guard far.count > budget else { return }
        var alive = [Bool](repeating: true, count: ids.count)
        for number in far { alive[number] = false }
        for number in strongest(far, limit: budget) { alive[number] = true }
        var keptEdges: [GraphEdge] = []
        var keptLinks: [(from: Int, to: Int, strength: Double)] = []
        for (slot, link) in links.enumerated() where alive[link.from] && alive[link.to] {
            keptEdges.append(edges[slot])
            keptLinks.append(link)
        }
        edges = keptEdges
        links = keptLinks
        for number in distance.indices where !alive[number] { distance[number] = -1 }
    }

    /// The walk as the queries read it.
    func neighbourhood() -> GraphService.Neighbourhood {
        var result = GraphService.Neighbourhood()
        result.distance.reserveCapacity(ids.count)
        for (number, id) in ids.enumerated() where distance[number] >= 0 { result.distance[id] = distance[number] }
        result.edges.reserveCapacity(edges.count)
        for edge in edges { result.edges[edge.id] = edge }
        return result
    }
}
