import ArgumentParser
import Foundation
import JSONValues
import Memory37
import Memory37Graph
import RPGBotApp
import ServiceKit

/// `rpgbot graph …`: the four campaign graph queries from the command line, answering with
/// the same JSON as `POST /v1/knowledge/graph/*`.
struct GraphCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Ask the campaign graph: scene, npc, quest or chain (the answers of /v1/knowledge/graph/*).",
        subcommands: [GraphSceneCommand.self, GraphNPCCommand.self, GraphQuestCommand.self, GraphChainCommand.self]
    )
}

/// What every graph question shares: who asks, which versions, how the answer is printed.
struct GraphReader: ParsableArguments {
    @Option(help: ArgumentHelp("The campaign asking (its graph plus the global one).", valueName: "id"))
    var campaign: String?

    @Flag(help: "Include gm-only nodes and edges.")
    var gm = false

    @Option(name: .customLong("pin"), help: ArgumentHelp("Read a domain from this version or alias instead of <domain>_latest (repeatable).", valueName: "domain=version"))
    var pins: [String] = []

    @Flag(help: "Print only the compact text rendering used in prompts.")
    var text = false

    @OptionGroup var location: KnowledgeLocation

    func ask(_ question: @escaping @Sendable (GraphService, SearchFilter, [KnowledgeDomain: String]) async throws -> GraphAnswer) async throws {
        if let campaign, !PathIdentifier.isValid(campaign) {
            throw StartupError(message: "--campaign must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", exitCode: RPGBotCommand.usageExitCode)
        }
        var pinned: [KnowledgeDomain: String] = [:]
        for pin in pins {
            let parts = pin.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let domain = KnowledgeDomain(rawValue: parts[0]), KnowledgeVersion.isValidName(parts[1]) else {
                throw StartupError(message: "--pin must be domain=version (domains: \(KnowledgeDomain.acceptedList))", exitCode: RPGBotCommand.usageExitCode)
            }
            pinned[domain] = parts[1]
        }
        let filter = SearchFilter(campaignID: campaign, includeGM: gm)
        let pins = pinned
        let answer = try await KnowledgeToolbox.withGraph(try location.configuration(), logger: KnowledgeLocation.quietLogger) { _, graph in
            try await question(graph, filter, pins)
        }
        print(text ? answer.text : GenerateCommand.pretty(answer.json))
    }
}

/// Checks a numeric flag against the range the HTTP API accepts.
func checked(_ value: Int, _ flag: String, in range: ClosedRange<Int>) throws -> Int {
    guard range.contains(value) else {
        throw StartupError(message: "\(flag) must be \(range.lowerBound)–\(range.upperBound)", exitCode: RPGBotCommand.usageExitCode)
    }
    return value
}

/// `rpgbot graph scene`: who and what is at or around a place.
struct GraphSceneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scene", abstract: "scene_context: people, factions, quests, events, items and art at or around a place.")

    @Argument(help: "The place: a node id or a name.")
    var place: String

    @Option(help: ArgumentHelp("Comma-separated NPCs present.", valueName: "ids"))
    var npcs: String?

    @Option(help: ArgumentHelp("Comma-separated party members.", valueName: "ids"))
    var party: String?

    @Option(help: "Hops from the place (1–3).")
    var depth = 2

    @Option(help: "At most this many nodes (1–200).")
    var limit = 40

    @OptionGroup var reader: GraphReader

    func run() async throws {
        let (place, npcs, party) = (self.place, list(self.npcs), list(self.party))
        let depth = try checked(depth, "--depth", in: GraphService.depths), limit = try checked(limit, "--limit", in: GraphService.limits)
        try await reader.ask { graph, filter, pins in
            try await graph.sceneContext(location: place, npcs: npcs, party: party, depth: depth, limit: limit, filter: filter, pins: pins)
        }
    }
}

/// `rpgbot graph npc`: an NPC's relations, factions and history with the party.
struct GraphNPCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "npc", abstract: "npc_social_context: relations with attitudes, factions, shared acquaintances, last interactions with the party.")

    @Argument(help: "The NPC: a node id or a name.")
    var npc: String

    @Option(help: ArgumentHelp("Comma-separated party members.", valueName: "ids"))
    var party: String?

    @Option(help: "Hops from the NPC (1–3).")
    var depth = 2

    @OptionGroup var reader: GraphReader

    func run() async throws {
        let (npc, party) = (self.npc, list(self.party))
        let depth = try checked(depth, "--depth", in: GraphService.depths)
        try await reader.ask { graph, filter, pins in
            try await graph.npcSocialContext(npc: npc, party: party, depth: depth, filter: filter, pins: pins)
        }
    }
}

/// `rpgbot graph quest`: a quest's steps as a DAG and what can be done next.
struct GraphQuestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "quest", abstract: "quest_graph_context: steps with status, met prerequisites, next steps, blockers, giver and people involved.")

    @Argument(help: "The quest: a node id or a name.")
    var quest: String

    @OptionGroup var reader: GraphReader

    func run() async throws {
        let quest = self.quest
        try await reader.ask { graph, filter, pins in
            try await graph.questGraphContext(quest: quest, filter: filter, pins: pins)
        }
    }
}

/// `rpgbot graph chain`: the chains of causes behind or ahead of an event.
struct GraphChainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chain", abstract: "causal_chain: paths along causes edges in session order, each hop with its evidence.")

    @Argument(help: "Where to start: a node id, or text resolved by search.")
    var from: String

    @Option(help: "back, forward or both.")
    var direction = "back"

    @Option(name: .customLong("max-depth"), help: "Hops along causes edges (1–10).")
    var maxDepth = 5

    @OptionGroup var reader: GraphReader

    func run() async throws {
        guard let direction = CausalDirection(rawValue: direction) else {
            throw StartupError(message: "--direction must be back, forward or both", exitCode: RPGBotCommand.usageExitCode)
        }
        let from = self.from
        let maxDepth = try checked(maxDepth, "--max-depth", in: GraphService.causalDepths)
        try await reader.ask { graph, filter, pins in
            try await graph.causalChain(from: from, direction: direction, maxDepth: maxDepth, filter: filter, pins: pins)
        }
    }
}

private func list(_ value: String?) -> [String] {
    (value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}
