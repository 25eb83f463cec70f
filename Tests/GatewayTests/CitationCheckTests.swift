import Foundation
import Gateway
import Genlayers
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

    @Test("an invented id is dropped from lore_refs, listed as a repair, and never reaches the client")
    func inventedIDDropped() async throws {
        let provider = ScriptedProviderServer([Wire.chat(content: Self.scene(citing: ["demo:lore.atlantis#0", "demo:lore.brindlewick#0"]))])
        try await provider.run { base in
            try await GatewayFixture.withApp(engine: try GatewayFixture.engine(provider: "openai-chat", baseURL: base), knowledge: try await GatewayFixture.knowledge()) { client, tokens in
                let answer = try await GatewayFixture.post(client, "scene", tokens.player, Self.frame)
                #expect(answer.status == .ok)
                #expect(answer.body["attempts"] as? Int == 1)
                let log = answer.body["attempt_log"] as? [[String: Any]] ?? []
                #expect(log.first?["outcome"] as? String == "repaired")
                #expect((log.first?["errors"] as? [String])?.first?.hasPrefix("/lore_refs/0: 'demo:lore.atlantis#0' is not one of the knowledge items given") == true)
                let repairs = log.first?["repairs"] as? [[String: String]] ?? []
                #expect(repairs == [["pointer": "/lore_refs/0", "kind": "dropped"]])
                #expect(answer.output["lore_refs"] as? [String] == ["demo:lore.brindlewick#0"])
                #expect(answer.items.filter { $0["cited"] as? Bool == true }.compactMap { $0["id"] as? String } == ["demo:lore.brindlewick#0"])
            }
        }
        #expect(provider.requests.count == 1)
        // The model was given the ids it may cite: in the prompt, and as the enum of lore_refs.
        let request = try #require(provider.requests.first)
        #expect(request.text.contains("[demo:lore.brindlewick#0]"))
        let format = request.body["response_format"] as? [String: Any]
        let schema = (format?["json_schema"] as? [String: Any])?["schema"] as? [String: Any]
        let refs = (schema?["properties"] as? [String: Any])?["lore_refs"] as? [String: Any]
        let allowed = (refs?["items"] as? [String: Any])?["enum"] as? [String] ?? []
        #expect(allowed.contains("demo:lore.brindlewick#0") && !allowed.contains("demo:lore.atlantis#0"), "\(refs ?? [:])")
    }

    @Test("a model that only ever invents ids gets none of them to the client")
    func persistentInvention() async throws {
        let provider = ScriptedProviderServer(Array(repeating: Wire.chat(content: Self.scene(citing: ["demo:lore.atlantis#0"])), count: 3))
        try await provider.run { base in
            try await GatewayFixture.withApp(engine: try GatewayFixture.engine(provider: "openai-chat", baseURL: base), knowledge: try await GatewayFixture.knowledge()) { client, tokens in
                let answer = try await GatewayFixture.post(client, "scene", tokens.player, Self.frame)
                #expect(answer.status == .ok && answer.output["lore_refs"] as? [String] == [])
                #expect(!answer.items.contains { $0["cited"] as? Bool == true })
            }
        }
    }

    @Test("a fault the engine cannot repair is fed back to the model, which then answers")
    func retriedUntilValid() async throws {
        let wrongMood = Self.scene(citing: ["demo:lore.brindlewick#0"]).replacingOccurrences(of: #""mood":"calm""#, with: #""mood":"furious""#)
        let provider = ScriptedProviderServer([Wire.chat(content: wrongMood), Wire.chat(content: Self.scene(citing: ["demo:lore.brindlewick#0"]))])
        try await provider.run { base in
            try await GatewayFixture.withApp(engine: try GatewayFixture.engine(provider: "openai-chat", baseURL: base), knowledge: try await GatewayFixture.knowledge()) { client, tokens in
                let answer = try await GatewayFixture.post(client, "scene", tokens.player, Self.frame)
                #expect(answer.status == .ok && answer.body["attempts"] as? Int == 2)
            }
        }
        let retry = try #require(provider.requests.last?.text)
        #expect(retry.contains("furious") && retry.contains("/mood"))
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

@Suite("Prompts within the model's context")
struct ContextFittingTests {
    @Test("a known context window shrinks every knowledge section in proportion; without one, or with room to spare, the budgets stand")
    func knowledgeShrinksFirst() async throws {
        let knowledge = try await GatewayFixture.knowledge()
        func budgets(_ contextTokens: Int?) throws -> ContextBudgets? {
            let engine = try GatewayFixture.engine { $0.contextTokens = contextTokens }
            return GroundedGenerator(engine: engine, knowledge: knowledge, events: nil, logger: GatewayFixture.quiet).knowledgeBudgets(for: .scene)
        }
        #expect(try budgets(nil) == .standard)
        #expect(try budgets(200_000) == .standard)
        let small = try #require(try budgets(4096))
        let total = ContextSection.allCases.reduce(0) { $0 + small[$1] }
        #expect(total < 2800 && total > 800, "\(small)")
        // In proportion: lore keeps its share of the standard 2,800.
        #expect(abs(Double(small[.lore]) / Double(total) - 700.0 / 2800.0) < 0.01)
        // A window the answer alone fills leaves no knowledge at all.
        let none = try #require(try budgets(1024))
        #expect(ContextSection.allCases.allSatisfy { none[$0] == 0 })
    }
}
