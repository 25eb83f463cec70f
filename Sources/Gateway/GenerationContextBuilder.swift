public import JSONValues
import Foundation
public import Memory37
public import Memory37Graph
import ServiceKit

/// One piece of knowledge placed in a prompt.
public struct KnowledgeItem: Sendable, Equatable {
    /// The chunk id: what the output cites in `lore_refs`.
    public let id: String
    public let domain: KnowledgeDomain
    public let title: String
    public let sourceID: String
    public let score: Double
    public let section: ContextSection
    /// The text as placed in the prompt (cut when the section's budget ran out).
    public let text: String
    /// A graph fact: the chunks it was read from.
    public var evidence: [String] = []
}

/// The knowledge context of one request: the items, in prompt order, and the value the
/// profile's templates see as `context`.
public struct GroundingContext: Sendable {
    public var items: [KnowledgeItem]
    /// Estimated prompt tokens the items take.
    public var tokens: Int

    public static let empty = GroundingContext(items: [], tokens: 0)

    public var ids: Set<String> { Set(items.map(\.id)) }

    /// `sections: [{name, heading, items: [{id, domain, title, text, lead}]}]` for the prompt,
    /// each section's items also under its name (`lore`, `npcs`…), and `knowledge`: every item
    /// in order (the offline templates cite from it). `lead` is the text's first sentence.
    public var json: JSONValue {
        func encode(_ item: KnowledgeItem) -> JSONValue {
            .object([
                "id": .string(item.id), "domain": .string(item.domain.rawValue), "title": .string(item.title),
                "text": .string(item.text), "lead": .string(Self.lead(item.text)),
            ])
        }
        var members: [String: JSONValue] = ["knowledge": .array(items.map(encode))]
        var sections: [JSONValue] = []
        for section in ContextSection.allCases {
            let encoded = items.filter { $0.section == section }.map(encode)
            members[section.rawValue] = .array(encoded)
            guard !encoded.isEmpty else { continue }
            sections.append(.object(["name": .string(section.rawValue), "heading": .string(section.heading), "items": .array(encoded)]))
        }
        members["sections"] = .array(sections)
        return .object(members)
    }

    /// The first sentence of a text, without the `key: value` lines of front-matter facts.
    static func lead(_ text: String) -> String {
        let prose = text.split(separator: "\n").first { line in
            let words = line.split(separator: " ")
            return words.count > 4 && !(words.first?.hasSuffix(":") ?? false)
        } ?? Substring(text)
        // Markdown list markers and emphasis read badly inside a sentence.
        var plain = prose.replacingOccurrences(of: "**", with: "").replacingOccurrences(of: "__", with: "")
        while let first = plain.first, "-*#> ".contains(first) { plain.removeFirst() }
        let sentence = plain.split(separator: ". ", maxSplits: 1).first.map(String.init) ?? plain
        let trimmed = sentence.count > 200 ? String(sentence.prefix(199)) + "…" : sentence
        return trimmed.hasSuffix(".") || trimmed.hasSuffix("…") ? trimmed : trimmed + "."
    }
}

/// Turns a request frame into knowledge queries (lore about the place and the players'
/// intent, rules for what is in play, the NPCs' profiles, earlier episodes), runs them through
/// ``KnowledgeService`` with the caller's visibility, and packs the results into the prompt
/// within each section's token budget, most relevant first, each chunk once.
public struct GenerationContextBuilder: Sendable {
    let knowledge: KnowledgeService
    let graph: GraphService?
    let budgets: ContextBudgets
    /// Smaller budgets for the endpoints whose prompts would not fit the model's context.
    var fitted: [DomainEndpoint: ContextBudgets] = [:]

    public init(knowledge: KnowledgeService, graph: GraphService? = nil, budgets: ContextBudgets = .standard) {
        self.knowledge = knowledge
        self.graph = graph
        self.budgets = budgets
    }

    /// The knowledge budgets of one endpoint.
    public func budgets(for endpoint: DomainEndpoint) -> ContextBudgets {
        fitted[endpoint] ?? budgets
    }

    /// Queries shorter than this many characters are not run: they would match noise.
    static let minimumQuery = 3
    /// Words of frame text a query keeps.
    static let queryWords = 48

    /// What to look up for one request.
    struct Plan: Equatable {
        var npcs: [String] = []
        var lore = ""
        var rules = ""
        /// Exact rule names: conditions in play, monsters by name.
        var ruleNames: [String] = []
        var episodes = ""
        var session: Int?
    }

    static func plan(_ endpoint: DomainEndpoint, frame: [String: JSONValue]) -> Plan {
        let frame = FrameReader(frame)
        let npcNames = frame.objects("npcs").compactMap { $0["name"]?.stringValue }
        var plan = Plan()
        plan.npcs = frame.objects("npcs").compactMap { $0["id"]?.stringValue ?? $0["name"]?.stringValue }
        // Every endpoint looks lore up by the place and what the players are doing (`intent`
        // wherever the frame has one), rules by what they attempt, and episodes by the place,
        // the people and what happened recently; each adds its own fields (docs/generate.md).
        let intent = frame.text("intent")
        let location = frame.text("location")
        let recent = frame.texts("recent_events")
        switch endpoint {
        case .scene:
            plan.lore = query([location, intent] + npcNames)
            plan.rules = query([intent])
            plan.episodes = query([location, intent] + npcNames + recent)
        case .combat:
            let combatants = frame.objects("combatants")
            plan.npcs = combatants.compactMap { $0["npc_id"]?.stringValue }
            plan.ruleNames = Array(Set(combatants.flatMap { ($0["conditions"]?.arrayValue ?? []).compactMap(\.stringValue) })).sorted()
                + combatants.filter { $0["side"]?.stringValue == "enemy" && $0["npc_id"] == nil }.compactMap { $0["name"]?.stringValue }
            plan.lore = query([location, intent])
            plan.rules = query([intent])
            plan.episodes = query([location, intent] + recent)
        case .social:
            plan.lore = query([frame.text("goal"), frame.text("approach"), intent, location] + npcNames)
            plan.rules = query([frame.text("approach"), intent])
            plan.episodes = query(npcNames + [frame.text("goal"), intent] + recent)
        case .epilogue:
            plan.lore = query(frame.texts("key_events") + [location])
            plan.episodes = query(frame.texts("key_events"))
            plan.session = frame.integer("session")
        }
        return plan
    }

    static func query(_ parts: [String?]) -> String {
        let words = parts.compactMap { $0 }.joined(separator: " ").split(whereSeparator: \.isWhitespace).prefix(queryWords)
        let text = words.joined(separator: " ")
        return text.count >= minimumQuery ? text : ""
    }

    /// - Parameter profiles: NPC profiles the caller already looked up, by the frame's reference.
    public func build(_ endpoint: DomainEndpoint, frame: [String: JSONValue], filter: SearchFilter, profiles: [String: NPCProfile] = [:]) async throws -> GroundingContext {
        let plan = Self.plan(endpoint, frame: frame)
        let budgets = budgets(for: endpoint)
        async let npcs = budgets[.npcs] > 0 ? npcCandidates(plan.npcs, filter: filter, known: profiles) : []
        async let lore = budgets[.lore] > 0 && !plan.lore.isEmpty ? knowledge.loreSearch(plan.lore, filter: filter, k: 8).map(Candidate.init) : []
        async let rules = budgets[.rules] > 0 ? ruleCandidates(plan, filter: filter) : []
        async let episodes = budgets[.episodes] > 0 ? episodeCandidates(plan, filter: filter) : []
        async let facts = budgets[.graph] > 0 ? graphCandidates(endpoint, frame: frame, plan: plan, filter: filter) : []
        let candidates: [ContextSection: [Candidate]] = [
            .npcs: try await npcs, .graph: try await facts, .lore: try await lore, .rules: try await rules, .episodes: try await episodes,
        ]
        return Self.pack(candidates, budgets: budgets)
    }

    /// A chunk that may go into the prompt.
    struct Candidate {
        var id: String
        var domain: KnowledgeDomain
        var title: String
        var sourceID: String
        var score: Double
        var text: String
        var evidence: [String] = []

        init(id: String, domain: KnowledgeDomain, title: String, sourceID: String, score: Double, text: String, evidence: [String]) {
            self.id = id
            self.domain = domain
            self.title = title
            self.sourceID = sourceID
            self.score = score
            self.text = text
            self.evidence = evidence
        }

        init(_ hit: SearchHit) {
            self.init(hit.chunk, score: hit.score)
        }

        init(_ chunk: KnowledgeChunk, score: Double) {
            id = chunk.id
            domain = chunk.domain
            title = ([chunk.title] + chunk.headingPath).joined(separator: " › ")
            sourceID = chunk.sourceID
            self.score = score
            text = chunk.text
        }
    }

    func npcCandidates(_ references: [String], filter: SearchFilter, known: [String: NPCProfile]) async throws -> [Candidate] {
        var candidates: [Candidate] = []
        for reference in references {
            let found = if let profile = known[reference] { profile } else { try await knowledge.npcProfile(reference, filter: filter) }
            guard let profile = found else { continue }
            let chunks = try await knowledge.chunks(ids: profile.chunkIDs)
            // The first chunk carries the front-matter fields (role, faction…) as text.
            candidates += chunks.map { Candidate($0, score: 1) }
        }
        return candidates
    }

    func ruleCandidates(_ plan: Plan, filter: SearchFilter) async throws -> [Candidate] {
        var candidates: [Candidate] = []
        for name in plan.ruleNames {
            candidates += try await knowledge.rulesLookup(name, filter: filter, k: 1).filter(\.aliasHit).map(Candidate.init)
        }
        if !plan.rules.isEmpty {
            candidates += try await knowledge.rulesLookup(plan.rules, filter: filter, k: 3).map(Candidate.init)
        }
        return candidates
    }

    func episodeCandidates(_ plan: Plan, filter: SearchFilter) async throws -> [Candidate] {
        var candidates: [Candidate] = []
        if let session = plan.session, filter.campaignID != nil {
            candidates += try await knowledge.sessionFetch(filter: filter, fromSession: session, toSession: session, limit: 10).map { Candidate($0, score: 1) }
        }
        if !plan.episodes.isEmpty {
            var episodes = filter
            episodes.domains = [.episode]
            candidates += try await knowledge.search(plan.episodes, filter: episodes, k: 4).map(Candidate.init)
        }
        return candidates
    }

    /// Fewer tokens than this left in a section: a cut chunk would say too little to be worth it.
    static let smallestCut = 40

    static func pack(_ candidates: [ContextSection: [Candidate]], budgets: ContextBudgets) -> GroundingContext {
        var seen = Set<String>()
        var items: [KnowledgeItem] = []
        var total = 0
        for section in ContextSection.allCases {
            var left = budgets[section]
            for candidate in candidates[section] ?? [] where seen.insert(candidate.id).inserted {
                let overhead = ContextBudgets.estimate(Substring(candidate.id + " " + candidate.title))
                let cost = overhead + ContextBudgets.estimate(Substring(candidate.text))
                var text = candidate.text
                if cost > left {
                    guard left - overhead >= smallestCut else { break }
                    let words = text.split(whereSeparator: \.isWhitespace).prefix((left - overhead) * 3 / 4)
                    text = words.joined(separator: " ") + " …"
                }
                let used = min(cost, left)
                left -= used
                total += used
                items.append(KnowledgeItem(id: candidate.id, domain: candidate.domain, title: candidate.title, sourceID: candidate.sourceID, score: candidate.score, section: section, text: text, evidence: candidate.evidence))
            }
        }
        return GroundingContext(items: items, tokens: total)
    }
}

/// Typed reads of a frame's JSON members.
struct FrameReader {
    let members: [String: JSONValue]

    init(_ members: [String: JSONValue]) {
        self.members = members
    }

    func text(_ name: String) -> String? {
        members[name]?.stringValue
    }

    func texts(_ name: String) -> [String] {
        (members[name]?.arrayValue ?? []).compactMap(\.stringValue)
    }

    func objects(_ name: String) -> [[String: JSONValue]] {
        (members[name]?.arrayValue ?? []).compactMap(\.objectValue)
    }

    func integer(_ name: String) -> Int? {
        members[name]?.intValue
    }
}
