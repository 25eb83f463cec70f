public import Foundation
public import Memory37
import ServiceKit
import Tracing

extension GraphService {
    // MARK: - scene_context

    /// Who and what is at or around `location`: present people and things, their factions and
    /// relations (to each other and to the party), open quests that touch them, recent events
    /// there, items, art — ranked by edge weight, recency and distance, hubs damped, at most
    /// `limit` nodes.
    public func sceneContext(location: String, npcs: [String] = [], party: [String] = [], depth: Int = 2, limit: Int = 40, filter: SearchFilter, pins: [KnowledgeDomain: String] = [:]) async throws -> GraphAnswer {
        try await withSpan("graph.scene_context") { _ in
            let (view, versions) = try await self.view(filter, pins: pins)
            let (place, firstEdges) = try await resolveWithFirstHop(location, view: view, what: "node", pointer: "/location", types: nil)
            var seeds = [place.id]
            for npc in npcs { seeds.append(try await require(npc, view: view, what: "NPC", pointer: "/npcs").id) }
            for member in party { seeds.append((try await resolveNode(member, view: view))?.id ?? member) }
            var unique = Set<String>()
            // The second ring is explored from the strongest half-answer's worth of the first,
            // and never into a faction's member list.
            let nb = try await expand(
                seeds.filter { unique.insert($0).inserted }, depth: depth, types: nil, view: view,
                ring: max(16, limit / 2), skippingIncoming: Self.memberships, farBudget: max(limit, 48),
                firstHop: seeds == [place.id] ? firstEdges : nil
            )
            let scores = Self.rank(nb, seeds: Set(seeds))
            let kept = Set(scores.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(max(limit, seeds.count)).map(\.key))
            var answer = answer(nb, keep: kept, versions: versions)
            answer.scores = scores.filter { kept.contains($0.key) }

            let keptNodes = answer.nodes
            let placeEdges: Set<String> = ["located_in", "part_of"]
            // The place, what it lies in (up to three levels), and the places inside it.
            var ancestors = [place.id]
            while ancestors.count < 4, let up = nb.edges.values.first(where: { placeEdges.contains($0.type) && $0.from == ancestors.last! && kept.contains($0.to) && !ancestors.contains($0.to) }) {
                ancestors.append(up.to)
            }
            let inner = Set(nb.edges.values.filter { placeEdges.contains($0.type) && $0.to == place.id && ["location", "lore"].contains(nb.nodes[$0.from]?.kind ?? "") }.map(\.from))
            let places = inner.union([place.id])
            let present = Self.ordered(nb.edges.values.filter { $0.type == "located_in" && places.contains($0.to) && kept.contains($0.from) && !["event", "step", "quest"].contains(nb.nodes[$0.from]?.kind ?? "") }.map(\.from) + npcs.compactMap { id in seeds.first { $0 == id } }, scores)
            let people = Self.ordered(keptNodes.filter { Self.people.contains($0.kind) }.map(\.id), scores)
            let factions = Self.ordered(keptNodes.filter { $0.kind == "faction" }.map(\.id), scores)
            let social = Set(people + factions + party)
            let relations = answer.edges.filter { RelationType.social.contains($0.type) && social.contains($0.from) && social.contains($0.to) }
                .sorted { (abs($0.attitude ?? 0), $0.weight, $1.id) > (abs($1.attitude ?? 0), $1.weight, $0.id) }.map(\.id)
            let quests = Self.ordered(keptNodes.filter { $0.kind == "quest" && Self.isOpen($0) }.map(\.id), scores)
            // Events that happened here first, then the ones around it; newest first in each.
            let here = Set(nb.edges.values.filter { $0.type == "located_in" && places.contains($0.to) }.map(\.from))
            let events = keptNodes.filter { $0.kind == "event" }
                .sorted { (here.contains($0.id) ? 1 : 0, $0.session ?? -1, $0.id) > (here.contains($1.id) ? 1 : 0, $1.session ?? -1, $1.id) }.map(\.id)
            let items = Self.ordered(keptNodes.filter { $0.kind == "item" }.map(\.id), scores)
            let art = Self.ordered(keptNodes.filter { $0.kind == "art" }.map(\.id), scores)
            answer.sections = [
                ("location", ancestors), ("places", inner.sorted()), ("present", present), ("people", people), ("factions", factions),
                ("relations", relations), ("quests", quests), ("events", events), ("items", items), ("art", art),
            ]
            var lines = ["Scene at \(Self.label(place.id, in: nb)): \(place.summary)"]
            if ancestors.count > 1 { lines.append("Lies in: " + ancestors.dropFirst().map { Self.label($0, in: nb) }.joined(separator: " › ")) }
            if !inner.isEmpty { lines.append("Places here: " + inner.sorted().map { Self.label($0, in: nb) }.joined(separator: "; ")) }
            if !present.isEmpty { lines.append("Present: " + present.map { Self.label($0, in: nb) }.joined(separator: "; ")) }
            let others = people.filter { !present.contains($0) }
            if !others.isEmpty { lines.append("People nearby: " + others.prefix(12).map { Self.label($0, in: nb) }.joined(separator: "; ")) }
            if !factions.isEmpty { lines.append("Factions: " + factions.map { Self.label($0, in: nb) }.joined(separator: "; ")) }
            for id in relations.prefix(12) { if let edge = nb.edges[id] { lines.append("- " + Self.describe(edge, in: nb)) } }
            for id in quests.prefix(6) { if let quest = nb.nodes[id] { lines.append("Open quest: \(Self.label(id, in: nb)) (\(quest.status ?? "open"))") } }
            for id in events.prefix(6) { if let event = nb.nodes[id] { lines.append("Event\(event.session.map { " (session \($0))" } ?? ""): \(Self.label(id, in: nb)) — \(event.summary)") } }
            if !items.isEmpty { lines.append("Items: " + items.map { Self.label($0, in: nb) }.joined(separator: "; ")) }
            if !art.isEmpty { lines.append("Art: " + art.map { Self.label($0, in: nb) }.joined(separator: "; ")) }
            answer.text = lines.joined(separator: "\n")
            return answer
        }
    }

    static let memberships: Set<String> = ["member_of", "leads", "serves"]

    /// Scores by the edges that reach a node from nearer ones: type and weight, divided by the
    /// distance and damped by the node's degree (a hub reached by everything says little);
    /// events gain by recency. Seeds rank first.
    static func rank(_ nb: Neighbourhood, seeds: Set<String>) -> [String: Double] {
        let latest = Double(nb.nodes.values.compactMap(\.session).max() ?? 0)
        var incident: [String: [GraphEdge]] = [:]
        for edge in nb.edges.values {
            incident[edge.from, default: []].append(edge)
            incident[edge.to, default: []].append(edge)
        }
        var scores: [String: Double] = [:]
        for (id, distance) in nb.distance {
            if seeds.contains(id) {
                scores[id] = 1_000
                continue
            }
            let edges = incident[id] ?? []
            var base = 0.0
            for edge in edges {
                let other = edge.other(than: id)
                guard let near = nb.distance[other], near < distance else { continue }
                base += RelationType.rankWeight(edge.type) * (1 + log(1 + edge.weight)) * (seeds.contains(other) ? 2 : 1)
            }
            var score = base / Double(max(distance, 1)) / log2(2 + Double(edges.count))
            if let session = nb.nodes[id]?.session, latest > 0 { score += 0.5 * Double(session) / latest }
            scores[id] = score
        }
        return scores
    }

    static func ordered(_ ids: [String], _ scores: [String: Double]) -> [String] {
        var seen = Set<String>()
        return ids.filter { seen.insert($0).inserted }.sorted { (scores[$0] ?? 0, $1) > (scores[$1] ?? 0, $0) }
    }

    // MARK: - npc_social_context

    /// The NPC's relations with attitudes, its factions with their allies and enemies, people
    /// it knows that the party knows, its last interactions with the party (episodes involving
    /// both, newest first), and what it guards, seeks or owns.
    public func npcSocialContext(npc reference: String, party: [String] = [], depth: Int = 2, filter: SearchFilter, pins: [KnowledgeDomain: String] = [:]) async throws -> GraphAnswer {
        try await withSpan("graph.npc_social_context") { _ in
            let (view, versions) = try await self.view(filter, pins: pins)
            let types = RelationType.social.union(RelationType.things).union(["involves", "mentions"])
            let (npc, npcEdges) = try await resolveWithFirstHop(reference, view: view, kinds: Self.people, what: "NPC", pointer: "/npc", types: types)
            // A faction's member list is not the NPC's business: beyond the NPC, incoming
            // memberships are not followed (its factions' allies and enemies are).
            let nb = try await expand([npc.id], depth: depth, types: types, view: view, skippingIncoming: Self.memberships, farBudget: 96, firstHop: npcEdges)
            let incident = nb.edges.values.filter { $0.from == npc.id || $0.to == npc.id }
            let relations = incident.filter { RelationType.social.contains($0.type) && !["member_of", "leads", "serves"].contains($0.type) || (["serves"].contains($0.type) && Self.people.contains(nb.nodes[$0.other(than: npc.id)]?.kind ?? "npc")) }
                .sorted { (abs($0.attitude ?? 0), $1.id) > (abs($1.attitude ?? 0), $0.id) }
            let factionEdges = incident.filter { ["member_of", "leads", "serves"].contains($0.type) && $0.from == npc.id && !Self.people.contains(nb.nodes[$0.to]?.kind ?? "faction") }
            let factions = factionEdges.map(\.to)
            let factionRelations = nb.edges.values.filter { edge in
                ["ally_of", "enemy_of", "rival_of"].contains(edge.type) && (factions.contains(edge.from) || factions.contains(edge.to)) && edge.from != npc.id && edge.to != npc.id
            }.sorted { $0.id < $1.id }
            var partyIDs = party
            if partyIDs.isEmpty { partyIDs = nb.nodes.values.filter { $0.kind == "pc" || $0.kind == "party" }.map(\.id).sorted() }
            let partySet = Set(partyIDs)
            let acquaintances = Set(relations.map { $0.other(than: npc.id) }).filter { person in
                !partySet.contains(person) && nb.edges.values.contains { RelationType.social.contains($0.type) && ($0.from == person || $0.to == person) && partySet.contains($0.other(than: person)) }
            }.sorted()
            let episodeTypes: Set<String> = ["involves", "mentions"]
            let touching = incident.filter { episodeTypes.contains($0.type) && nb.nodes[$0.other(than: npc.id)]?.kind == "event" }.map { $0.other(than: npc.id) }
            var interactions = touching.filter { event in
                partySet.isEmpty || nb.edges.values.contains { episodeTypes.contains($0.type) && $0.from == event && partySet.contains($0.to) }
            }
            if interactions.isEmpty { interactions = touching }
            interactions = Array(Set(interactions)).sorted { (nb.nodes[$0]?.session ?? -1, $0) > (nb.nodes[$1]?.session ?? -1, $1) }
            let holdings = incident.filter { RelationType.things.contains($0.type) && $0.from == npc.id }.sorted { $0.id < $1.id }

            var keep = Set([npc.id] + factions + acquaintances + interactions + partyIDs)
            for edge in relations + factionEdges + factionRelations + holdings { keep.formUnion([edge.from, edge.to]) }
            var answer = answer(nb, keep: keep, versions: versions)
            let keptEdges = Set(relations.map(\.id) + factionEdges.map(\.id) + factionRelations.map(\.id) + holdings.map(\.id))
                .union(nb.edges.values.filter { keep.contains($0.from) && keep.contains($0.to) && ($0.from == npc.id || $0.to == npc.id || episodeTypes.contains($0.type)) }.map(\.id))
            answer.edges = answer.edges.filter { keptEdges.contains($0.id) || (RelationType.social.contains($0.type) && (partySet.contains($0.from) || partySet.contains($0.to))) }
            answer.sections = [
                ("npc", [npc.id]), ("relations", relations.map(\.id)), ("factions", factions), ("faction_relations", factionRelations.map(\.id)),
                ("party", partyIDs), ("shared_acquaintances", acquaintances), ("interactions", interactions), ("holdings", holdings.map(\.id)),
            ]
            var lines = ["\(Self.label(npc.id, in: nb)) (\(npc.kind)): \(npc.summary)"]
            for edge in relations.prefix(16) { lines.append("- " + Self.describe(edge, in: nb)) }
            for edge in factionEdges { lines.append("- " + Self.describe(edge, in: nb)) }
            for edge in factionRelations.prefix(10) { lines.append("  · " + Self.describe(edge, in: nb)) }
            if !acquaintances.isEmpty { lines.append("Knows people the party knows: " + acquaintances.map { Self.label($0, in: nb) }.joined(separator: "; ")) }
            for id in interactions.prefix(5) { if let event = nb.nodes[id] { lines.append("Met\(event.session.map { " in session \($0)" } ?? ""): \(Self.label(id, in: nb)) — \(event.summary)") } }
            for edge in holdings { lines.append("- " + Self.describe(edge, in: nb)) }
            answer.text = lines.joined(separator: "\n")
            return answer
        }
    }

    // MARK: - quest_graph_context

    /// Open quests that `references` touch within two hops: a session's episode reaches the
    /// quest through the place it happened at or the people it involved. Nearest first.
    public func openQuests(near references: [String], filter: SearchFilter, pins: [KnowledgeDomain: String] = [:]) async throws -> [String] {
        let (view, _) = try await self.view(filter, pins: pins)
        var seeds: [String] = []
        for reference in references {
            if let node = try await resolveNode(reference, view: view) { seeds.append(node.id) }
        }
        guard !seeds.isEmpty else { return [] }
        let types = RelationType.place.union(RelationType.quest).union(["located_in", "involves"])
        let nb = try await expand(seeds, depth: 2, types: types, view: view)
        var quests: [(id: String, distance: Int)] = []
        for node in nb.nodes.values {
            let questID = node.kind == "step" ? node.sourceID : node.id
            var quest = nb.nodes[questID]
            if quest == nil, node.kind == "step" { quest = try await resolveNode(questID, view: view, kinds: ["quest"]) }
            guard let quest, quest.kind == "quest", Self.isOpen(quest) else { continue }
            quests.append((questID, nb.distance[node.id] ?? 9))
        }
        var seen = Set<String>()
        return quests.sorted { ($0.distance, $0.id) < ($1.distance, $1.id) }.map(\.id).filter { seen.insert($0).inserted }
    }

    /// The quest's steps as a DAG with their status, which prerequisites are met, the next
    /// available steps, the giver, involved people and places, and blockers (steps whose
    /// prerequisites failed).
    public func questGraphContext(quest reference: String, filter: SearchFilter, pins: [KnowledgeDomain: String] = [:]) async throws -> GraphAnswer {
        try await withSpan("graph.quest_graph_context") { _ in
            let (view, versions) = try await self.view(filter, pins: pins)
            let quest = try await require(reference, view: view, kinds: ["quest"], what: "quest", pointer: "/quest")
            var nb = try await expand([quest.id], depth: 1, types: ["step_of", "gives_quest", "involves", "located_in", "requires"], view: view)
            let steps = nb.edges.values.filter { $0.type == "step_of" && $0.to == quest.id }.map(\.from)
            let involvedByQuest = nb.edges.values.filter { $0.type == "involves" && $0.from == quest.id }.map(\.to)
            // The steps' prerequisites, people and places, and where the involved people are.
            let second = try await expand(steps + involvedByQuest, depth: 1, types: ["requires", "involves", "located_in"], view: view) { edge, node in edge.from == node }
            Self.merge(second, into: &nb)
            let stepSet = Set(steps)
            var requires: [String: [String]] = [:]
            for edge in nb.edges.values where edge.type == "requires" && stepSet.contains(edge.from) { requires[edge.from, default: []].append(edge.to) }
            func status(_ id: String) -> String { nb.nodes[id]?.status ?? "open" }
            let order = Self.topological(steps.sorted(), requires: requires)
            var failedUpstream: [String: Bool] = [:]
            func blocked(_ id: String) -> Bool {
                if let known = failedUpstream[id] { return known }
                failedUpstream[id] = false
                let result = (requires[id] ?? []).contains { status($0) == "failed" || blocked($0) }
                failedUpstream[id] = result
                return result
            }
            let done = order.filter { status($0) == "done" }
            let met = order.filter { (requires[$0] ?? []).allSatisfy { status($0) == "done" } }
            let next = order.filter { ["open", "active"].contains(status($0)) && met.contains($0) && !blocked($0) }
            let blockers = order.filter { status($0) != "done" && blocked($0) }
            let failed = order.filter { status($0) == "failed" }
            let givers = nb.edges.values.filter { $0.type == "gives_quest" && $0.to == quest.id }.map(\.from).sorted()
            let involved = Set(nb.edges.values.filter { $0.type == "involves" && ($0.from == quest.id || stepSet.contains($0.from)) }.map(\.to))
            let places = Set(nb.edges.values.filter { $0.type == "located_in" && ($0.from == quest.id || stepSet.contains($0.from) || involved.contains($0.from)) }.map(\.to))
            var answer = answer(nb, versions: versions)
            answer.sections = [
                ("quest", [quest.id]), ("steps", order), ("done", done), ("failed", failed), ("prerequisites_met", met), ("next_steps", next),
                ("blocked", blockers), ("giver", givers), ("involved", involved.sorted()), ("places", places.sorted()),
            ]
            answer.paths = order.flatMap { step in (requires[step] ?? []).sorted().map { [$0, step] } }
            var lines = ["Quest \(Self.label(quest.id, in: nb)) (\(quest.status ?? "open")): \(quest.summary)"]
            if !givers.isEmpty { lines.append("Given by: " + givers.map { Self.label($0, in: nb) }.joined(separator: "; ")) }
            for step in order {
                var line = "- step \(Self.label(step, in: nb)): \(status(step))"
                if let needs = requires[step], !needs.isEmpty { line += "; requires " + needs.sorted().map { "\($0.split(separator: "/").last.map(String.init) ?? $0) (\(status($0)))" }.joined(separator: ", ") }
                if next.contains(step) { line += " — available now" }
                if blockers.contains(step) { line += " — blocked: a prerequisite failed" }
                lines.append(line)
            }
            if !involved.isEmpty { lines.append("Involves: " + involved.sorted().map { Self.label($0, in: nb) }.joined(separator: "; ")) }
            if !places.isEmpty { lines.append("Places: " + places.sorted().map { Self.label($0, in: nb) }.joined(separator: "; ")) }
            answer.text = lines.joined(separator: "\n")
            return answer
        }
    }

    static func merge(_ other: Neighbourhood, into nb: inout Neighbourhood) {
        nb.nodes.merge(other.nodes) { first, _ in first }
        nb.edges.merge(other.edges) { first, _ in first }
        for (id, distance) in other.distance { nb.distance[id] = min(nb.distance[id] ?? Int.max, distance + 1) }
        nb.unresolved = nb.unresolved.union(other.unresolved).subtracting(nb.nodes.keys)
    }

    /// Steps in an order where every step comes after what it requires (ties by id).
    static func topological(_ steps: [String], requires: [String: [String]]) -> [String] {
        var placed = Set<String>()
        var order: [String] = []
        var remaining = steps
        while !remaining.isEmpty {
            let ready = remaining.filter { (requires[$0] ?? []).allSatisfy { placed.contains($0) || !steps.contains($0) } }
            let batch = ready.isEmpty ? [remaining[0]] : ready
            order += batch
            placed.formUnion(batch)
            remaining.removeAll { placed.contains($0) }
        }
        return order
    }

    // MARK: - causal_chain

    /// Paths along `causes` edges from a node (or the best search hit for a text): back to
    /// its causes, forward to its effects, or both, in session order, each hop with evidence.
    public func causalChain(from reference: String, direction: CausalDirection = .back, maxDepth: Int = 5, filter: SearchFilter, pins: [KnowledgeDomain: String] = [:]) async throws -> GraphAnswer {
        try await withSpan("graph.causal_chain") { _ in
            let (view, versions) = try await self.view(filter, pins: pins)
            var start = try await resolveNode(reference, view: view)
            if start == nil {
                for hit in try await knowledge.search(reference, filter: filter, k: 5) where start == nil {
                    start = try await resolveNode(hit.chunk.sourceID, view: view)
                }
            }
            guard let start else {
                throw APIError.notFound("No node with the id, name or alias '\(reference)' is visible here, and no document matches it.", code: "graph_node_not_found")
            }
            let nb = try await expand([start.id], depth: maxDepth, types: ["causes"], view: view) { edge, node in
                switch direction {
                case .back: edge.to == node
                case .forward: edge.from == node
                case .both: true
                }
            }
            var causes: [String: [GraphEdge]] = [:]  // effect → its cause edges
            var effects: [String: [GraphEdge]] = [:]
            for edge in nb.edges.values {
                causes[edge.to, default: []].append(edge)
                effects[edge.from, default: []].append(edge)
            }
            var paths: [[String]] = []
            func walk(_ path: [String], next: (String) -> [GraphEdge], end: (GraphEdge) -> String) {
                guard paths.count < 50 else { return }
                let steps = (next(path.last!)).map(end).filter { !path.contains($0) }.sorted()
                if steps.isEmpty || path.count > maxDepth {
                    if path.count > 1 { paths.append(path) }
                    return
                }
                for step in steps { walk(path + [step], next: next, end: end) }
            }
            if direction != .forward { walk([start.id], next: { causes[$0] ?? [] }, end: \.from) }
            let backPaths = paths.map { Array($0.reversed()) }
            paths = []
            if direction != .back { walk([start.id], next: { effects[$0] ?? [] }, end: \.to) }
            let allPaths = (backPaths + paths).sorted { lhs, rhs in
                (lhs.compactMap { nb.nodes[$0]?.session }.first ?? 0, lhs.joined()) < (rhs.compactMap { nb.nodes[$0]?.session }.first ?? 0, rhs.joined())
            }
            var answer = answer(nb, versions: versions)
            answer.paths = allPaths
            let before = Set(backPaths.flatMap { $0 }).subtracting([start.id])
            let after = Set(paths.flatMap { $0 }).subtracting([start.id])
            answer.sections = [("start", [start.id]), ("causes", Self.bySession(before, nb)), ("effects", Self.bySession(after, nb))]
            var lines = ["Causal chain \(direction.rawValue) from \(Self.label(start.id, in: nb)):"]
            for path in allPaths.prefix(12) {
                var hops: [String] = []
                for (cause, effect) in zip(path, path.dropFirst()) {
                    let evidence = nb.edges["\(cause) -causes-> \(effect)"].map { " (\($0.snippet))" } ?? ""
                    hops.append("\(Self.sessionLabel(cause, nb))\(Self.label(cause, in: nb)) causes \(Self.sessionLabel(effect, nb))\(Self.label(effect, in: nb))\(evidence)")
                }
                lines.append("- " + hops.joined(separator: "; then "))
            }
            if allPaths.isEmpty { lines.append("- no causes edges lead \(direction == .forward ? "from" : "to") it") }
            answer.text = lines.joined(separator: "\n")
            return answer
        }
    }

    static func bySession(_ ids: Set<String>, _ nb: Neighbourhood) -> [String] {
        ids.sorted { (nb.nodes[$0]?.session ?? 0, $0) < (nb.nodes[$1]?.session ?? 0, $1) }
    }

    static func sessionLabel(_ id: String, _ nb: Neighbourhood) -> String {
        nb.nodes[id]?.session.map { "S\($0) " } ?? ""
    }
}

/// Which way a causal chain is followed.
public enum CausalDirection: String, Sendable, CaseIterable {
    case back, forward, both
}
