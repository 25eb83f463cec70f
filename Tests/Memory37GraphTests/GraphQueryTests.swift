import Foundation
import JSONValues
import Memory37
import Memory37Graph
import Testing

@Suite("Campaign graph queries")
struct GraphQueryTests {
    @Test("scene_context: who and what is at the keep, their factions, relations, the open quest and events, newest first", arguments: GraphStoreKind.available)
    func sceneContext(kind: GraphStoreKind) async throws {
        try await GraphFixture.withGraph(kind) { knowledge, graph in
            let report = try await knowledge.ingest(try GraphFixture.documents())
            #expect(report.failed.isEmpty)
            let answer = try await graph.sceneContext(location: "loc.harbor-keep", filter: GraphFixture.gm())
            #expect(Set(answer.section("present")) == ["npc.aldra", "npc.corvin", "item.ledger"])
            #expect(answer.section("location") == ["loc.harbor-keep", "loc.greyport"])
            #expect(Set(answer.section("factions")) == ["fac.guard", "fac.thieves"])
            #expect(answer.section("relations").contains("npc.aldra -enemy_of-> npc.corvin"))
            #expect(answer.section("relations").contains("fac.guard -enemy_of-> fac.thieves"))
            #expect(answer.section("quests") == ["quest.ledger"])
            #expect(answer.section("events") == ["ep.s2", "ep.s1", "ep.s3"])
            #expect(answer.section("items") == ["item.ledger"])
            #expect(answer.text.contains("Captain Aldra [npc.aldra]"))
            // Every edge carries its evidence.
            #expect(answer.evidence.contains { $0.sourceID == "npc.aldra" && $0.chunkID.hasPrefix("keep:npc.aldra#0") })
            // By name as well as by id; the limit holds.
            let byName = try await graph.sceneContext(location: "the keep", limit: 3, filter: GraphFixture.gm())
            #expect(byName.nodes.count + byName.unresolved.count <= 3)
            #expect(byName.nodes.first?.id == "loc.harbor-keep")
        }
    }

    @Test("npc_social_context: enemies with attitudes both ways, factions and their enemies, shared acquaintances, interactions with the party", arguments: GraphStoreKind.available)
    func npcSocialContext(kind: GraphStoreKind) async throws {
        try await GraphFixture.withGraph(kind) { knowledge, graph in
            _ = try await knowledge.ingest(try GraphFixture.documents())
            let answer = try await graph.npcSocialContext(npc: "npc.corvin", party: ["pc.rook"], filter: GraphFixture.gm())
            #expect(answer.section("relations").contains("npc.aldra -enemy_of-> npc.corvin"))
            #expect(answer.edges.first { $0.id == "npc.aldra -enemy_of-> npc.corvin" }?.attitude == -70)
            #expect(answer.section("factions") == ["fac.thieves"])
            #expect(answer.section("faction_relations") == ["fac.guard -enemy_of-> fac.thieves"])
            #expect(answer.section("shared_acquaintances") == ["npc.aldra"])
            #expect(answer.section("interactions") == ["ep.s2"])
            #expect(answer.section("holdings") == ["npc.corvin -seeks-> item.ledger"])
            #expect(answer.unresolved.contains("pc.rook"))
            // Without a party, every episode that involves or mentions the NPC, newest first.
            let alone = try await graph.npcSocialContext(npc: "Corvin the Fence", filter: GraphFixture.gm())
            #expect(alone.section("interactions") == ["ep.s3", "ep.s2"])
        }
    }

    @Test("quest_graph_context: the step DAG, the next step, the blocked one, the giver", arguments: GraphStoreKind.available)
    func questGraphContext(kind: GraphStoreKind) async throws {
        try await GraphFixture.withGraph(kind) { knowledge, graph in
            _ = try await knowledge.ingest(try GraphFixture.documents())
            let answer = try await graph.questGraphContext(quest: "quest.ledger", filter: GraphFixture.player())
            let steps = ["ask", "bribe", "follow", "vault"].map { "quest.ledger/\($0)" }
            #expect(answer.section("steps") == steps)
            #expect(answer.section("done") == ["quest.ledger/ask"])
            #expect(answer.section("next_steps") == ["quest.ledger/follow"])
            #expect(answer.section("blocked") == ["quest.ledger/vault"])
            #expect(answer.section("giver") == ["npc.aldra"])
            #expect(answer.section("involved") == ["npc.corvin"])
            #expect(answer.paths?.contains(["quest.ledger/bribe", "quest.ledger/vault"]) == true)
            await #expect(throws: (any Error).self) { try await graph.questGraphContext(quest: "npc.aldra", filter: GraphFixture.gm()) }
        }
    }

    @Test("causal_chain: from session 3 back to session 1, forward from session 1, and from text", arguments: GraphStoreKind.available)
    func causalChain(kind: GraphStoreKind) async throws {
        try await GraphFixture.withGraph(kind) { knowledge, graph in
            _ = try await knowledge.ingest(try GraphFixture.documents())
            let back = try await graph.causalChain(from: "ep.s3", direction: .back, filter: GraphFixture.gm())
            #expect(back.paths == [["ep.s1", "ep.s2", "ep.s3"]])
            #expect(back.section("causes") == ["ep.s1", "ep.s2"])
            let forward = try await graph.causalChain(from: "ep.s1", direction: .forward, maxDepth: 1, filter: GraphFixture.gm())
            #expect(forward.paths == [["ep.s1", "ep.s2"]])
            let fromText = try await graph.causalChain(from: "forged pass found, the party fled", direction: .back, filter: GraphFixture.gm())
            #expect(fromText.section("start") == ["ep.s3"])
        }
    }

    @Test("mentions: names in plain episode text become weighted edges with their chunk", arguments: GraphStoreKind.available)
    func mentions(kind: GraphStoreKind) async throws {
        try await GraphFixture.withGraph(kind) { knowledge, graph in
            _ = try await knowledge.ingest(try GraphFixture.documents())
            let answer = try await graph.npcSocialContext(npc: "npc.aldra", depth: 1, filter: GraphFixture.gm())
            let mention = try #require(answer.edges.first { $0.id == "ep.s3 -mentions-> npc.aldra" })
            #expect(mention.chunkIDs == ["keep:ep.s3#0"])
            #expect(mention.snippet.contains("Captain Aldra swore revenge"))
            // Declared relations are not repeated as mentions.
            #expect(!answer.edges.contains { $0.id == "ep.s1 -mentions-> npc.aldra" })
        }
    }

    @Test("players never see gm nodes or edges; a campaign never sees another's graph", arguments: GraphStoreKind.available)
    func visibilityAndIsolation(kind: GraphStoreKind) async throws {
        try await GraphFixture.withGraph(kind) { knowledge, graph in
            _ = try await knowledge.ingest(try GraphFixture.documents())
            let gm = try await graph.npcSocialContext(npc: "npc.aldra", filter: GraphFixture.gm())
            #expect(gm.edges.contains { $0.id == "npc.aldra -knows-> npc.mirelle" })
            let player = try await graph.npcSocialContext(npc: "npc.aldra", filter: GraphFixture.player())
            #expect(!player.edges.contains { $0.from == "npc.mirelle" || $0.to == "npc.mirelle" })
            #expect(player.node("npc.mirelle") == nil && !player.unresolved.contains("npc.mirelle"))
            let scene = try await graph.sceneContext(location: "loc.greyport", filter: GraphFixture.player())
            #expect(!scene.json.canonicalText.contains("mirelle"))
            await #expect(throws: (any Error).self) { try await graph.npcSocialContext(npc: "npc.mirelle", filter: GraphFixture.player()) }
            await #expect(throws: (any Error).self) { try await graph.sceneContext(location: "loc.harbor-keep", filter: GraphFixture.gm("other")) }
        }
    }

    @Test("an alias switch to a lore version where an alliance broke changes npc_social_context", arguments: GraphStoreKind.available)
    func aliasSwitch(kind: GraphStoreKind) async throws {
        try await GraphFixture.withGraph(kind) { knowledge, graph in
            var documents = try GraphFixture.documents()
            let index = try #require(documents.firstIndex { $0.sourceID == "fac.guard" })
            documents[index].metadata["relations"] = .array([.object(["type": .string("ally_of"), "target": .string("fac.thieves")])])
            _ = try await knowledge.ingest(documents)
            #expect(try await graph.npcSocialContext(npc: "npc.corvin", filter: GraphFixture.gm()).section("faction_relations") == ["fac.guard -ally_of-> fac.thieves"])
            // The alliance breaks in a new lore version; reads follow lore_latest once it is switched.
            var broken = documents[index]
            broken.metadata["relations"] = .array([.object(["type": .string("enemy_of"), "target": .string("fac.thieves"), "attitude": .number(-90)])])
            _ = try await knowledge.ingest([broken], options: IngestOptions(version: "lore-2", from: "lore_latest", publish: true))
            #expect(try await graph.npcSocialContext(npc: "npc.corvin", filter: GraphFixture.gm()).section("faction_relations") == ["fac.guard -ally_of-> fac.thieves"])
            _ = try await knowledge.setAlias("lore_latest", campaignID: "keep", to: "lore-2", by: "test")
            let after = try await graph.npcSocialContext(npc: "npc.corvin", filter: GraphFixture.gm())
            #expect(after.section("faction_relations") == ["fac.guard -enemy_of-> fac.thieves"])
            #expect(after.versions[.lore] == "lore-2")
            // Pinning the old version reads the alliance again.
            let pinned = try await graph.npcSocialContext(npc: "npc.corvin", filter: GraphFixture.gm(), pins: [.lore: "lore-working"])
            #expect(pinned.section("faction_relations") == ["fac.guard -ally_of-> fac.thieves"])
        }
    }

    @Test("an expired relation is invisible at once and removed by cleanup; the npc_relation policy expires NPC relations", arguments: GraphStoreKind.available)
    func expiry(kind: GraphStoreKind) async throws {
        try await GraphFixture.withGraph(kind, relationLifetime: 1) { knowledge, graph in
            var documents = try GraphFixture.documents()
            documents.append(KnowledgeDocument(
                sourceID: "npc.bram", campaignID: "keep", domain: .npc, title: "Bram",
                metadata: ["relations": .array([
                    .object(["type": .string("knows"), "target": .string("npc.aldra"), "expires": .string("2020-01-01")]),
                    .object(["type": .string("ally_of"), "target": .string("npc.aldra"), "pinned": .bool(true)]),
                ])],
                body: "An old soldier."
            ))
            _ = try await knowledge.ingest(documents)
            let now = try await graph.npcSocialContext(npc: "npc.aldra", depth: 1, filter: GraphFixture.gm())
            #expect(!now.edges.contains { $0.id == "npc.bram -knows-> npc.aldra" })
            #expect(now.edges.contains { $0.id == "npc.bram -ally_of-> npc.aldra" })
            // One second later the policy has expired Aldra's own unpinned relations.
            try await Task.sleep(for: .milliseconds(1_100))
            let later = try await graph.npcSocialContext(npc: "npc.aldra", depth: 1, filter: GraphFixture.gm())
            #expect(!later.edges.contains { $0.id == "npc.aldra -enemy_of-> npc.corvin" })
            #expect(later.edges.contains { $0.id == "npc.bram -ally_of-> npc.aldra" })
            let before = try await graph.store.counts().edges
            let report = try await knowledge.cleanup()
            #expect(report.followerExpired >= 2)
            #expect(try await graph.store.counts().edges == before - report.followerExpired)
        }
    }

    @Test("bad relations fail their document alone: no target, a self-loop, a step cycle, a step requiring itself", arguments: GraphStoreKind.available)
    func badInput(kind: GraphStoreKind) async throws {
        try await GraphFixture.withGraph(kind) { knowledge, graph in
            func document(_ id: String, _ metadata: [String: JSONValue]) -> KnowledgeDocument {
                KnowledgeDocument(sourceID: id, campaignID: "keep", domain: .lore, title: id, metadata: metadata, body: "Text of \(id).")
            }
            let step: (String, [String]) -> JSONValue = { id, requires in .object(["id": .string(id), "requires": .array(requires.map { .string($0) })]) }
            let report = try await knowledge.ingest([
                document("bad.no-target", ["relations": .array([.object(["type": .string("knows")])])]),
                document("bad.self", ["relations": .array([.object(["type": .string("knows"), "target": .string("bad.self")])])]),
                document("bad.cycle", ["kind": .string("quest"), "steps": .array([step("a", ["c"]), step("b", ["a"]), step("c", ["b"])])]),
                document("bad.itself", ["kind": .string("quest"), "steps": .array([step("a", ["a"])])]),
                document("good", ["relations": .array([.object(["type": .string("knows"), "target": .string("npc.later")])])]),
            ])
            #expect(Set(report.failed.map(\.path)) == ["bad.no-target", "bad.self", "bad.cycle", "bad.itself"])
            #expect(report.failed.first { $0.path == "bad.cycle" }?.reason.contains("a → c → b → a") == true)
            #expect(report.failed.first { $0.path == "bad.no-target" }?.reason.contains("has no target") == true)
            #expect(report.added == ["good"])
            #expect(report.warnings.contains { $0.contains("npc.later") })
            #expect(try await knowledge.primary.documents(campaignID: "keep").map(\.sourceID) == ["good"])
            // The missing target arrives later and resolves.
            _ = try await knowledge.ingest([KnowledgeDocument(sourceID: "npc.later", campaignID: "keep", domain: .npc, title: "Later", body: "Arrives late.")])
            let answer = try await graph.npcSocialContext(npc: "npc.later", filter: GraphFixture.gm())
            #expect(answer.node("good") != nil && answer.unresolved.isEmpty)
        }
    }

    @Test("names and evidence with quotes, backslashes and accents read back as written", arguments: GraphStoreKind.available)
    func textRoundTrip(kind: GraphStoreKind) async throws {
        try await GraphFixture.withGraph(kind) { knowledge, graph in
            let aliases = [#"the "Old" Anchor"#, #"back\slash"#, "Ærøskøbing", "plain"]
            _ = try await knowledge.ingest([
                KnowledgeDocument(sourceID: "loc.anchor", campaignID: "keep", domain: .lore, title: "Anchor", aliases: aliases, metadata: ["kind": .string("location")], body: "A tavern."),
                KnowledgeDocument(sourceID: "npc.tom", campaignID: "keep", domain: .npc, title: "Tom", metadata: ["location": .string("loc.anchor")], body: "Keeps the bar."),
            ])
            let answer = try await graph.sceneContext(location: #"the "Old" Anchor"#, filter: GraphFixture.gm())
            #expect(answer.node("loc.anchor")?.aliases == aliases)
            #expect(answer.edges.first { $0.id == "npc.tom -located_in-> loc.anchor" }?.chunkIDs == ["keep:npc.tom#0"])
        }
    }
}
