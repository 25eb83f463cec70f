import ArgumentParser
import Foundation
import Logging
import Memory37
import Memory37Graph
import RPGBotApp
import ServiceKit

/// `rpgbot bench graph`: generated campaigns of N nodes with about 10 edges each, written into
/// the graph store, then p50/p99 of each of the four queries at depth 2.
struct GraphBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Time the campaign graph: writes, and the four GraphRAG queries on generated campaigns."
    )

    @Option(help: ArgumentHelp("Comma-separated node counts.", valueName: "list"))
    var nodes = "10000,100000"

    @Option(help: ArgumentHelp("Comma-separated stores: sqlite, postgres.", valueName: "list"))
    var stores = "sqlite"

    @Option(help: ArgumentHelp("PostgreSQL for the postgres store; each run uses a fresh database created there.", valueName: "url"))
    var postgresURL: String?

    @Option(help: "Queries timed per query kind, scale and store.")
    var queries = 500

    func run() async throws {
        let scales = nodes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 >= 100 }
        let kinds = stores.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for kind in kinds where !["sqlite", "postgres"].contains(kind) {
            throw StartupError(message: "--stores takes sqlite and postgres, not \(kind)", exitCode: RPGBotCommand.usageExitCode)
        }
        if kinds.contains("postgres"), postgresURL == nil {
            throw StartupError(message: "--stores postgres needs --postgres-url", exitCode: RPGBotCommand.usageExitCode)
        }
        var logger = Logger(label: "rpgbot.bench")
        logger.logLevel = .critical
        print("graph benchmark: \(queries) queries per kind, depth 2, campaign of N nodes with ~10 edges each")
        for kind in kinds {
            for scale in scales {
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpgbot-bench-\(UUID().uuidString)")
                defer { try? FileManager.default.removeItem(at: directory) }
                var configuration = RPGBotConfiguration(dataDirectory: directory)
                if kind == "postgres", let postgresURL {
                    configuration.databaseURL = try await KnowledgeBenchCommand.freshPostgresDatabase(postgresURL, logger: logger)
                }
                let queries = self.queries
                try await KnowledgeToolbox.withGraph(configuration, logger: logger) { _, graph in
                    try await Self.measure(graph, kind: kind, scale: scale, queries: queries)
                }
            }
        }
    }

    static func measure(_ graph: GraphService, kind: String, scale: Int, queries: Int) async throws {
        let campaign = GeneratedCampaign(nodes: scale)
        let started = ContinuousClock.now
        var edges = 0
        for batch in campaign.documents(batch: 1_000) {
            try await graph.store.replace(batch)
            edges += batch.reduce(0) { $0 + $1.edges.count }
        }
        // As the indexer does after any sync of that size.
        try await graph.store.refreshStatistics()
        let seconds = (ContinuousClock.now - started).inSeconds
        print(String(format: "%@, %d nodes, %d edges: written in %.1f s (%.0f nodes/s, %.0f edges/s)", kind, scale, edges, seconds, Double(scale) / seconds, Double(edges) / seconds))
        let filter = SearchFilter(campaignID: GeneratedCampaign.campaign, includeGM: true)
        var random = SystemRandomNumberGenerator()
        let cases: [(String, @Sendable (Int) async throws -> GraphAnswer)] = [
            ("scene_context", { try await graph.sceneContext(location: campaign.location($0), depth: 2, filter: filter) }),
            ("npc_social_context", { try await graph.npcSocialContext(npc: campaign.npc($0), depth: 2, filter: filter) }),
            ("quest_graph_context", { try await graph.questGraphContext(quest: campaign.quest($0), filter: filter) }),
            ("causal_chain", { try await graph.causalChain(from: campaign.event($0), direction: .back, maxDepth: 5, filter: filter) }),
        ]
        for (name, query) in cases {
            var latencies: [Duration] = []
            var returned = 0
            for _ in 0..<10 { _ = try await query(Int.random(in: 0..<1_000_000, using: &random)) }
            for _ in 0..<queries {
                let pick = Int.random(in: 0..<1_000_000, using: &random)
                let start = ContinuousClock.now
                let answer = try await query(pick)
                latencies.append(ContinuousClock.now - start)
                returned += answer.nodes.count
            }
            print(String(format: "  %-20@ p50 %.2f ms, p99 %.2f ms, %.0f nodes per answer", name as NSString, GenerateBenchCommand.milliseconds(GenerateBenchCommand.percentile(latencies, 0.5)), GenerateBenchCommand.milliseconds(GenerateBenchCommand.percentile(latencies, 0.99)), Double(returned) / Double(max(queries, 1))))
        }
    }
}

/// A deterministic campaign: places in a hierarchy, factions, NPCs living in places with
/// memberships and social ties, quests with steps, and events in a causal chain per thread.
struct GeneratedCampaign: Sendable {
    static let campaign = "bench"
    let nodes: Int
    var locations: Int { max(10, nodes / 100) }
    var factions: Int { max(5, nodes / 200) }
    var quests: Int { max(5, nodes / 200) }
    var events: Int { nodes / 10 }
    var npcs: Int { nodes - locations - factions - quests - events }

    func location(_ i: Int) -> String { "loc.\(i % locations)" }
    func faction(_ i: Int) -> String { "fac.\(i % factions)" }
    func quest(_ i: Int) -> String { "quest.\(i % quests)" }
    func event(_ i: Int) -> String { "ev.\(i % events)" }
    func npc(_ i: Int) -> String { "npc.\(i % npcs)" }

    /// The documents in batches, each node its own document.
    func documents(batch size: Int) -> [[GraphDocument]] {
        var generator = SplitMix64(seed: 42)
        var all: [GraphDocument] = []
        let now = Date()
        func document(_ id: String, kind: String, domain: KnowledgeDomain, session: Int? = nil, status: String? = nil, edges: [(String, String, String)]) -> GraphDocument {
            let ref = KnowledgeVersionRef.working(domain, campaignID: Self.campaign)
            let chunk = KnowledgeChunk.id(campaignID: Self.campaign, sourceID: id, ordinal: 0)
            let node = GraphNode(id: id, kind: kind, name: "\(kind) \(id)", domain: domain, session: session, status: status, summary: "The \(kind) \(id).", sourceID: id, chunkID: chunk, campaignID: Self.campaign, version: ref.version, createdAt: now)
            let graphEdges = edges.map { GraphEdge(from: $0.0, to: $0.2, type: $0.1, weight: 1, sourceID: id, chunkIDs: [chunk], snippet: "\($0.0) \($0.1) \($0.2)", campaignID: Self.campaign, version: ref.version, createdAt: now) }
            return GraphDocument(sourceID: id, ref: ref, contentHash: id, nodes: [node], edges: graphEdges, names: [(name: "\(kind) \(id)", id: id, mentionable: true)])
        }
        for i in 0..<locations {
            all.append(document(location(i), kind: "location", domain: .lore, edges: i == 0 ? [] : [(location(i), "part_of", location(Int(generator.next() % UInt64(i))))]))
        }
        for i in 0..<factions {
            all.append(document(faction(i), kind: "faction", domain: .lore, edges: [(faction(i), "located_in", location(Int(generator.next() % UInt64(locations)))), (faction(i), "enemy_of", faction(Int(generator.next() % UInt64(factions))))].filter { $0.0 != $0.2 }))
        }
        let social = ["knows", "ally_of", "enemy_of", "rival_of", "owes", "fears"]
        for i in 0..<npcs {
            var edges = [(npc(i), "located_in", location(Int(generator.next() % UInt64(locations)))), (npc(i), "member_of", faction(Int(generator.next() % UInt64(factions))))]
            for _ in 0..<Int(generator.next() % 16) {
                edges.append((npc(i), social[Int(generator.next() % UInt64(social.count))], npc(Int(generator.next() % UInt64(npcs)))))
            }
            all.append(document(npc(i), kind: "npc", domain: .npc, edges: edges.filter { $0.0 != $0.2 }))
        }
        for i in 0..<quests {
            let id = quest(i)
            var graphDocument = document(id, kind: "quest", domain: .lore, status: "active", edges: [
                (npc(Int(generator.next() % UInt64(npcs))), "gives_quest", id), (id, "involves", npc(Int(generator.next() % UInt64(npcs)))),
                (id, "located_in", location(Int(generator.next() % UInt64(locations)))),
            ])
            for step in 0..<4 {
                let stepID = "\(id)/s\(step)"
                graphDocument.nodes.append(GraphNode(id: stepID, kind: "step", name: "step \(step)", domain: .lore, status: step == 0 ? "done" : "open", summary: "Step \(step).", sourceID: id, chunkID: graphDocument.nodes[0].chunkID, campaignID: Self.campaign, version: graphDocument.ref.version, createdAt: now))
                var stepEdges = [(stepID, "step_of", id), (stepID, "involves", npc(Int(generator.next() % UInt64(npcs))))]
                if step > 0 { stepEdges.append((stepID, "requires", "\(id)/s\(step - 1)")) }
                graphDocument.edges += stepEdges.map { GraphEdge(from: $0.0, to: $0.2, type: $0.1, sourceID: id, chunkIDs: [graphDocument.nodes[0].chunkID], snippet: "", campaignID: Self.campaign, version: graphDocument.ref.version, createdAt: now) }
            }
            all.append(graphDocument)
        }
        for i in 0..<events {
            // Threads of 20 events, each caused by the one before.
            var edges = [(event(i), "located_in", location(Int(generator.next() % UInt64(locations))))]
            for _ in 0..<5 { edges.append((event(i), "involves", npc(Int(generator.next() % UInt64(npcs))))) }
            if i % 20 != 0 { edges.append((event(i - 1), "causes", event(i))) }
            all.append(document(event(i), kind: "event", domain: .episode, session: i % 20 + 1, edges: edges))
        }
        return stride(from: 0, to: all.count, by: size).map { Array(all[$0..<min($0 + size, all.count)]) }
    }
}
