import Foundation
import Gateway
import HTTPTypes
import ServiceKit
import TestSupport
import Testing

@Suite("Citations: an output may only cite the knowledge it was given")
struct CitationCheckTests {
    static func scene(citing refs: [String]) -> String {
        let list = refs.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"title":"The Rusty Anchor","narration":"Smoke and fish stew.","mood":"calm","location":{"name":"The Rusty Anchor","description":"A tavern.","exits":["the quay"]},"npcs":[],"checks":[],"choices":[{"id":"a","label":"Sit down","approach":"social","check":null},{"id":"b","label":"Leave","approach":"explore","check":null}],"gm_notes":null,"lore_refs":[\#(list)]}"#
    }

    static let frame = #"{"campaign_id": "demo", "location": "Brindlewick", "intent": "we enter the tavern"}"#

    @Test("an invented id is fed back to the model, which then cites a real one")
    func retriedUntilValid() async throws {
        let provider = ScriptedProviderServer([
            Wire.chat(content: Self.scene(citing: ["demo:lore.atlantis#0"])),
            Wire.chat(content: Self.scene(citing: ["demo:lore.brindlewick#0"])),
        ])
        try await provider.run { base in
            try await GatewayFixture.withApp(engine: try GatewayFixture.engine(provider: "openai-chat", baseURL: base), knowledge: try await GatewayFixture.knowledge()) { client, tokens in
                let answer = try await GatewayFixture.post(client, "scene", tokens.player, Self.frame)
                #expect(answer.status == .ok)
                #expect(answer.body["attempts"] as? Int == 2)
                let log = answer.body["attempt_log"] as? [[String: Any]] ?? []
                #expect((log.first?["errors"] as? [String])?.first?.hasPrefix("/lore_refs/0: 'demo:lore.atlantis#0' is not one of the knowledge items given") == true)
                #expect(answer.items.filter { $0["cited"] as? Bool == true }.compactMap { $0["id"] as? String } == ["demo:lore.brindlewick#0"])
            }
        }
        // The second request carried the first answer and the error back to the model.
        let retry = try #require(provider.requests.last?.text)
        #expect(retry.contains("demo:lore.atlantis#0") && retry.contains("is not one of the knowledge items given"))
        // The knowledge the model may cite was in the prompt, by id.
        #expect(try #require(provider.requests.first?.text).contains("[demo:lore.brindlewick#0]"))
    }

    @Test("a model that keeps inventing ids: 502 with the attempts, never the output")
    func persistentInvention() async throws {
        let provider = ScriptedProviderServer(Array(repeating: Wire.chat(content: Self.scene(citing: ["demo:lore.atlantis#0"])), count: 3))
        try await provider.run { base in
            try await GatewayFixture.withApp(engine: try GatewayFixture.engine(provider: "openai-chat", baseURL: base), knowledge: try await GatewayFixture.knowledge()) { client, tokens in
                let answer = try await GatewayFixture.post(client, "scene", tokens.player, Self.frame)
                #expect(answer.status == .badGateway && answer.code == "generation_failed")
                #expect(answer.body["output"] == nil && answer.body["attempts"] as? Int == 3)
                #expect((answer.body["last_errors"] as? [String])?.contains { $0.hasPrefix("/lore_refs/0:") } == true)
            }
        }
    }

    @Test("combat actions may only name the combatants given")
    func combatantsChecked() async throws {
        let round = #"{"round":1,"narration":"Steel rings.","actions":[{"actor_id":"dragon","kind":"attack","target_ids":["g1"],"description":"A dragon appears.","roll":null,"intent":null}],"proposed_effects":[],"tactical_note":null,"end_state":"continue","lore_refs":[]}"#
        let provider = ScriptedProviderServer(Array(repeating: Wire.chat(content: round), count: 3))
        try await provider.run { base in
            try await GatewayFixture.withApp(engine: try GatewayFixture.engine(provider: "openai-chat", baseURL: base), knowledge: nil) { client, tokens in
                let answer = try await GatewayFixture.post(client, "combat", tokens.gm, #"{"campaign_id": "demo", "combatants": [{"id": "g1", "name": "Goblin", "side": "enemy"}, {"id": "pc1", "name": "Ilsa", "side": "party"}]}"#)
                #expect(answer.status == .badGateway)
                #expect((answer.body["last_errors"] as? [String])?.first?.hasPrefix("/actions/0/actor_id: 'dragon' is not a combatant") == true)
            }
        }
    }

    @Test("a refusal is a 422 with the refusal text, not retried")
    func refusal() async throws {
        let provider = ScriptedProviderServer([Wire.chat(content: nil, refusal: "I can't describe that scene.")])
        try await provider.run { base in
            try await GatewayFixture.withApp(engine: try GatewayFixture.engine(provider: "openai-chat", baseURL: base), knowledge: try await GatewayFixture.knowledge()) { client, tokens in
                let answer = try await GatewayFixture.post(client, "scene", tokens.player, Self.frame)
                #expect(answer.status == .unprocessableContent && answer.code == "model_refused")
                #expect(answer.body["refusal"] as? String == "I can't describe that scene." && answer.body["output"] == nil)
            }
        }
        #expect(provider.requests.count == 1)
    }
}
