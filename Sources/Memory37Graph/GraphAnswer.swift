import Foundation
public import JSONValues
public import Memory37

/// What a graph query returns: the subgraph (nodes and edges), paths where the query has them,
/// named sections of node or edge ids, the evidence behind every edge, the versions read, and
/// a compact text rendering for prompts. Ids are stable, so outputs can cite them.
public struct GraphAnswer: Sendable {
    public var nodes: [GraphNode] = []
    /// Ids that edges point to but no visible document defines yet.
    public var unresolved: [String] = []
    public var edges: [GraphEdge] = []
    /// Node id lists, each a path along the query's edges.
    public var paths: [[String]]?
    /// Groups of ids by what they are to the query (`present`, `factions`, `next_steps`…).
    public var sections: [(name: String, ids: [String])] = []
    /// Node scores, where the query ranks.
    public var scores: [String: Double] = [:]
    public var versions: [KnowledgeDomain: String] = [:]
    public var text = ""

    public init() {}

    /// One piece of evidence per chunk behind the edges: the chunk, its document, the line.
    public var evidence: [(chunkID: String, sourceID: String, snippet: String)] {
        var seen = Set<String>()
        var evidence: [(chunkID: String, sourceID: String, snippet: String)] = []
        for edge in edges {
            for chunk in edge.chunkIDs where seen.insert(chunk + "\u{1F}" + edge.snippet).inserted {
                evidence.append((chunk, edge.sourceID, edge.snippet))
            }
        }
        return evidence
    }

    public func node(_ id: String) -> GraphNode? { nodes.first { $0.id == id } }

    public func section(_ name: String) -> [String] { sections.first { $0.name == name }?.ids ?? [] }

    public var json: JSONValue {
        func optional<T>(_ value: T?, _ encode: (T) -> JSONValue) -> JSONValue { value.map(encode) ?? .null }
        let nodes: [JSONValue] = self.nodes.map { node in
            var fields: [String: JSONValue] = [
                "id": .string(node.id), "kind": .string(node.kind), "name": .string(node.name), "domain": .string(node.domain.rawValue),
                "summary": .string(node.summary), "source_id": .string(node.sourceID), "chunk_id": .string(node.chunkID),
                "campaign_id": optional(node.campaignID) { .string($0) }, "version": .string(node.version),
                "visibility": .string(node.visibility.rawValue),
            ]
            if !node.aliases.isEmpty { fields["aliases"] = .array(node.aliases.map { .string($0) }) }
            if let session = node.session { fields["session"] = .number(Double(session)) }
            if let status = node.status { fields["status"] = .string(status) }
            if let score = scores[node.id] { fields["score"] = .number((score * 1000).rounded() / 1000) }
            return .object(fields)
        } + unresolved.map { .object(["id": .string($0), "unresolved": .bool(true)]) }
        let edges: [JSONValue] = self.edges.map { edge in
            var fields: [String: JSONValue] = [
                "id": .string(edge.id), "from": .string(edge.from), "to": .string(edge.to), "type": .string(edge.type),
                "weight": .number(edge.weight), "source_id": .string(edge.sourceID), "chunk_ids": .array(edge.chunkIDs.map { .string($0) }),
                "visibility": .string(edge.visibility.rawValue), "version": .string(edge.version),
            ]
            if let attitude = edge.attitude { fields["attitude"] = .number(Double(attitude)) }
            if let since = edge.since { fields["since"] = .number(Double(since)) }
            if let until = edge.until { fields["until"] = .number(Double(until)) }
            if let note = edge.note { fields["note"] = .string(note) }
            if let expiresAt = edge.expiresAt { fields["expires_at"] = .string(expiresAt.formatted(.iso8601)) }
            return .object(fields)
        }
        var members: [String: JSONValue] = [
            "nodes": .array(nodes), "edges": .array(edges),
            "sections": .object(Dictionary(sections.map { ($0.name, JSONValue.array($0.ids.map { .string($0) })) }, uniquingKeysWith: { first, _ in first })),
            "evidence": .array(evidence.map { .object(["chunk_id": .string($0.chunkID), "source_id": .string($0.sourceID), "snippet": .string($0.snippet)]) }),
            "versions": .object(Dictionary(versions.map { ($0.key.rawValue, JSONValue.string($0.value)) }, uniquingKeysWith: { first, _ in first })),
            "text": .string(text),
        ]
        if let paths { members["paths"] = .array(paths.map { .array($0.map { .string($0) }) }) }
        return .object(members)
    }
}
