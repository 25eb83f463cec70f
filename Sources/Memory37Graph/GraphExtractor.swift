import Foundation
import JSONValues
import Memory37

/// Derives what one stored document contributes to the graph — its node, its steps or events,
/// the relations it declares and the names it mentions — from its chunks as the knowledge
/// store holds them. The graph is a function of the documents: it can always be derived again.
struct GraphExtractor: Sendable {
    /// Lifetime of relations declared by NPC documents (the `npc_relation` policy), unless pinned.
    var relationLifetime: Double?

    /// Checks a document before it is stored.
    static func check(_ document: KnowledgeDocument) -> String? {
        do {
            _ = try RelationDeclarations(sourceID: document.sourceID, domain: document.domain, fields: document.metadata)
            return nil
        } catch {
            return "graph: \(error.description)"
        }
    }

    /// - Parameters:
    ///   - chunks: every chunk of one document in one version, in order.
    ///   - mentions: names of the scope's entities, for episode and lore text.
    func derive(_ chunks: [KnowledgeChunk], mentions: MentionMatcher) -> GraphDocument? {
        guard let first = chunks.first else { return nil }
        let declarations: RelationDeclarations
        do {
            declarations = try RelationDeclarations(sourceID: first.sourceID, domain: first.domain, fields: first.metadata)
        } catch {
            // Stored before the graph checked documents: its node stands, without relations.
            declarations = (try? RelationDeclarations(sourceID: first.sourceID, domain: first.domain, fields: [:]))!
        }
        let source = first.sourceID
        func node(id: String, kind: String, name: String, aliases: [String] = [], status: String? = nil, summary: String) -> GraphNode {
            GraphNode(
                id: id, kind: kind, name: name, aliases: aliases, domain: first.domain, visibility: first.visibility,
                session: first.sessionNumber, status: status, summary: Self.summary(summary), sourceID: source, chunkID: first.id,
                campaignID: first.campaignID, version: first.version, createdAt: first.createdAt, expiresAt: first.expiresAt, pinned: first.pinned
            )
        }
        var nodes = [node(id: source, kind: declarations.kind, name: first.title, aliases: first.aliases, status: declarations.status, summary: Self.prose(chunks))]
        let mentionable = first.domain != .srd
        var names: [EntityName] = ([first.title] + first.aliases).map { (name: $0.lowercased(), id: source, mentionable: mentionable) }
        var edges: [GraphEdge] = []
        func edge(from: String, to: String, type: String, chunkIDs: [String], snippet: String, relation: RelationDeclarations.Relation? = nil, weight: Double? = nil) -> GraphEdge {
            let visibility: Visibility = first.visibility == .gm || relation?.visibility == .gm ? .gm : .players
            let pinned = first.pinned || (relation?.pinned ?? false)
            var expiresAt = [first.expiresAt, relation?.expiresAt].compactMap { $0 }.min()
            if !pinned, first.domain == .npc, RelationType.social.contains(type), let relationLifetime {
                expiresAt = [expiresAt, first.createdAt.addingTimeInterval(relationLifetime)].compactMap { $0 }.min()
            }
            return GraphEdge(
                from: from, to: to, type: type, attitude: relation?.attitude, weight: weight ?? relation?.weight ?? 1,
                since: relation?.since, until: relation?.until, note: relation?.note, visibility: visibility, expiresAt: expiresAt,
                pinned: pinned, sourceID: source, chunkIDs: chunkIDs, snippet: snippet, campaignID: first.campaignID,
                version: first.version, createdAt: first.createdAt
            )
        }
        for step in declarations.steps {
            let id = "\(source)/\(step.id)"
            nodes.append(node(id: id, kind: "step", name: step.title, status: step.status, summary: step.title))
            names.append((step.title.lowercased(), id, mentionable))
            edges.append(edge(from: id, to: source, type: "step_of", chunkIDs: [first.id], snippet: "\(step.title) is a step of \(first.title)"))
            for required in step.requires {
                edges.append(edge(from: id, to: "\(source)/\(required)", type: "requires", chunkIDs: [first.id], snippet: "\(step.title) requires \(required)"))
            }
        }
        for event in declarations.events {
            let id = "\(source)/\(event.id)"
            nodes.append(node(id: id, kind: "event", name: Self.summary(event.text, words: 12), summary: event.text))
            edges.append(edge(from: id, to: source, type: "part_of", chunkIDs: [first.id], snippet: event.text))
        }
        for relation in declarations.relations {
            let from = relation.from ?? source
            let to = relation.to ?? source
            let snippet = relation.note ?? "\(from) \(relation.type.replacingOccurrences(of: "_", with: " ")) \(to)"
            edges.append(edge(from: from, to: to, type: relation.type, chunkIDs: [first.id], snippet: snippet, relation: relation))
        }
        if first.domain == .episode || first.domain == .lore {
            edges += mentionEdges(chunks, mentions: mentions, declared: Set(edges.map { $0.from == source ? $0.to : $0.from }), make: edge)
        }
        return GraphDocument(sourceID: source, ref: first.versionRef, contentHash: first.contentHash, nodes: nodes, edges: Self.merged(edges), names: names)
    }

    /// `mentions` edges from the document to every entity its text names (except itself and
    /// what it already relates to), weighted by how often, with the chunks and a sentence.
    private func mentionEdges(_ chunks: [KnowledgeChunk], mentions: MentionMatcher, declared: Set<String>, make: (String, String, String, [String], String, RelationDeclarations.Relation?, Double?) -> GraphEdge) -> [GraphEdge] {
        guard !mentions.isEmpty, let source = chunks.first?.sourceID else { return [] }
        var found: [String: (count: Int, chunks: [String], snippet: String)] = [:]
        for chunk in chunks {
            let words = MentionMatcher.words(of: chunk.text)
            for match in mentions.matches(in: chunk.text) where match.id != source && !match.id.hasPrefix(source + "/") && !declared.contains(match.id) {
                var entry = found[match.id] ?? (0, [], Self.sentence(around: words[match.start], in: chunk.text))
                entry.count += 1
                if entry.chunks.last != chunk.id { entry.chunks.append(chunk.id) }
                found[match.id] = entry
            }
        }
        return found.sorted { $0.key < $1.key }.map { id, entry in
            make(source, id, "mentions", entry.chunks, entry.snippet, nil, Double(min(entry.count, 10)))
        }
    }

    /// Two declarations of one relation (a shorthand and a `relations` entry) are one edge:
    /// the later one's fields win.
    static func merged(_ edges: [GraphEdge]) -> [GraphEdge] {
        var order: [String] = []
        var byID: [String: GraphEdge] = [:]
        for edge in edges {
            if byID[edge.id] == nil { order.append(edge.id) }
            byID[edge.id] = edge
        }
        return order.compactMap { byID[$0] }
    }

    /// The body's first prose, without the `key: value` lines of front-matter facts.
    static func prose(_ chunks: [KnowledgeChunk]) -> String {
        let lines = chunks.first?.text.split(separator: "\n", omittingEmptySubsequences: true) ?? []
        // Fact lines are `key words: value`, lower case before the colon.
        let body = lines.drop { line in
            guard let colon = line.firstIndex(of: ":") else { return false }
            let key = line[..<colon]
            return key.count <= 40 && key.allSatisfy { $0.isLowercase || $0 == " " || $0.isNumber }
        }
        return body.joined(separator: " ")
    }

    static func summary(_ text: String, words count: Int = 40) -> String {
        let words = text.split(whereSeparator: \.isWhitespace)
        return words.prefix(count).joined(separator: " ") + (words.count > count ? " …" : "")
    }

    /// The sentence of `text` that holds `word` (the first such), trimmed to 40 words.
    static func sentence(around word: Substring, in text: String) -> String {
        let sentences = text.split(whereSeparator: { ".!?\n".contains($0) })
        let hit = sentences.first { $0.lowercased().contains(word) } ?? Substring(text)
        return summary(hit.trimmingCharacters(in: .whitespaces), words: 40)
    }
}
