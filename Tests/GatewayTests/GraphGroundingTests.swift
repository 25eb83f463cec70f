import Foundation
import Gateway
import HTTPTypes
import Memory37
import Memory37Graph
import Testing

@Suite("/v1/generate/* grounded on the campaign graph")
struct GraphGroundingTests {
    @Test("social: the NPC's relations are knowledge items with their evidence chunks, and citable")
    func socialShowsGraphItems() async throws {
        try await GatewayFixture.withGraph { knowledge, graph in
            try await GatewayFixture.withApp(engine: try GatewayFixture.engine(), knowledge: knowledge, graph: graph) { client, tokens in
                let body = #"{"campaign_id": "demo", "npcs": [{"id": "npc.maren", "name": "Sister Maren"}], "goal": "where the drowned bell is", "approach": "polite questions"}"#
                let answer = try await GatewayFixture.post(client, "social", tokens.player, body)
                #expect(answer.status == .ok)
                let graphItems = answer.items.filter { $0["section"] as? String == "graph" }
                let ids = Set(graphItems.compactMap { $0["id"] as? String })
                #expect(ids.contains("npc.maren -rival_of-> npc.ilse-varrow"), "\(ids)")
                #expect(ids.contains("npc.maren -knows-> npc.old-tom"), "\(ids)")
                let rival = try #require(graphItems.first { $0["id"] as? String == "npc.maren -rival_of-> npc.ilse-varrow" })
                #expect(rival["evidence"] as? [String] == ["demo:npc.maren#0"], "\(rival)")
                #expect(rival["title"] as? String == "graph: rival_of" && rival["domain"] as? String == "npc", "\(rival)")
                // Graph items are checked like the rest: cited ones are among the items.
                let refs = Set(answer.output["lore_refs"] as? [String] ?? [])
                #expect(refs.isSubset(of: Set(answer.items.compactMap { $0["id"] as? String })))
            }
            // Without the graph the same request has no graph section.
            try await GatewayFixture.withApp(engine: try GatewayFixture.engine(), knowledge: knowledge) { client, tokens in
                let body = #"{"campaign_id": "demo", "npcs": [{"id": "npc.maren", "name": "Sister Maren"}], "goal": "where the drowned bell is"}"#
                let answer = try await GatewayFixture.post(client, "social", tokens.player, body)
                #expect(answer.status == .ok && !answer.items.contains { $0["section"] as? String == "graph" })
            }
        }
    }

    @Test("scene and epilogue: the place's context and the session's chain of causes")
    func sceneAndEpilogue() async throws {
        try await GatewayFixture.withGraph { knowledge, graph in
            try await GatewayFixture.withApp(engine: try GatewayFixture.engine(), knowledge: knowledge, graph: graph) { client, tokens in
                let scene = try await GatewayFixture.post(client, "scene", tokens.player, #"{"campaign_id": "demo", "location": "The Rusty Anchor", "intent": "we look for Vessa"}"#)
                let sceneIDs = Set(scene.items.filter { $0["section"] as? String == "graph" }.compactMap { $0["id"] as? String })
                #expect(sceneIDs.contains("npc.vessa-crane -leads-> faction.gullcoin-syndicate"), "\(sceneIDs)")
                let epilogue = try await GatewayFixture.post(client, "epilogue", tokens.player, #"{"campaign_id": "demo", "session": 3, "key_events": ["The party dove to the ruin"]}"#)
                let epilogueIDs = Set(epilogue.items.filter { $0["section"] as? String == "graph" }.compactMap { $0["id"] as? String })
                #expect(epilogueIDs.contains("episode.session-02 -causes-> episode.session-03"), "\(epilogueIDs)")
                #expect(epilogueIDs.contains { $0.hasPrefix("quest.the-drowned-bell/") }, "\(epilogueIDs)")
            }
        }
    }
}
