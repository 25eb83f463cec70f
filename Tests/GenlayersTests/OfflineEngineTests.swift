import JSONValues
import Foundation
import Genlayers
import JSONSchema
import ServiceKit
import Testing

@Suite("Engine with the offline provider")
struct OfflineEngineTests {
    func engine() throws -> GenerationEngine {
        let catalog = try ProfileCatalog.load(from: ProfileCatalogTests.repositoryProfiles, knownProviders: GenerationEngine.providerNames)
        return GenerationEngine(catalog: catalog, providers: [OfflineProvider()], settings: GenlayersSettings())
    }

    @Test("every repository profile yields valid output, with the input's names in it")
    func everyProfile() async throws {
        let engine = try engine()
        let inputs: [String: JSONValue] = [
            "npc": .object(["name": .string("Maren"), "location": .string("the Drowned Chapel")]),
            "quest_hook": .object(["location": .string("Saltmarsh"), "party_level": .number(3)]),
            "scene": .object([
                "location": .string("The Rusty Anchor"), "intent": .string("look for the smuggler"),
                "npcs": .array([.object(["id": .string("npc.maren"), "name": .string("Maren")]), .object(["name": .string("Old Tom")])]),
            ]),
        ]
        for (profile, input) in inputs {
            let result = try await engine.generate(GenerationRequest(profile: profile, input: input))
            #expect(engine.catalog[profile]!.schema.validate(result.output).isEmpty)
            #expect(result.attempts.count == 1)
            #expect(result.provider == "offline")
            #expect(result.model == OfflineProvider.modelName)
        }
        let scene = try await engine.generate(GenerationRequest(profile: "scene", input: inputs["scene"]!)).output
        #expect(scene.objectValue?["title"] == .string("The Rusty Anchor"))
        let npcs = scene.objectValue?["npcs"]
        #expect(npcs == .array([
            .object(["npc_id": .string("npc.maren"), "name": .string("Maren"), "disposition": .string("neutral"), "line": .string("Maren looks up as you enter.")]),
            .object(["npc_id": .null, "name": .string("Old Tom"), "disposition": .string("neutral"), "line": .string("Old Tom looks up as you enter.")]),
        ]))
        let npc = try await engine.generate(GenerationRequest(profile: "npc", input: inputs["npc"]!)).output
        #expect(npc.objectValue?["name"] == .string("Maren"))
        #expect(npc.objectValue?["secret"] == .null)
    }

    @Test("the same request gives the same output; an empty input still gives valid output")
    func deterministic() async throws {
        let engine = try engine()
        let input: JSONValue = .object(["name": .string("Wren")])
        let first = try await engine.generate(GenerationRequest(profile: "npc", input: input)).output
        let second = try await engine.generate(GenerationRequest(profile: "npc", input: input)).output
        #expect(first == second)
        let empty = try await engine.generate(GenerationRequest(profile: "scene")).output
        #expect(engine.catalog["scene"]!.schema.validate(empty).isEmpty)
    }

    @Test("input that breaks the input schema is refused before any call")
    func invalidInput() async throws {
        let engine = try engine()
        await #expect {
            try await engine.generate(GenerationRequest(profile: "quest_hook", input: .object(["party_level": .number(40), "weather": .string("rain")])))
        } throws: { error in
            guard case .invalidInput(let errors) = error as? GenerationFailure else { return false }
            return Set(errors.map(\.instanceLocation)) == ["/party_level", "/weather"]
        }
        await #expect {
            try await engine.generate(GenerationRequest(profile: "nope"))
        } throws: { error in
            if case .unknownProfile("nope") = error as? GenerationFailure { return true }
            return false
        }
    }

    @Test("an additional check that keeps failing is re-asked, then ends as invalid output")
    func additionalCheck() async throws {
        let engine = try engine()
        await #expect {
            try await engine.generate(GenerationRequest(profile: "npc", input: .object(["name": .string("Maren")]), additionalCheck: { output in
                [ValidationError(instanceLocation: "/name", schemaLocation: "#/check", message: "must not be Maren")]
            }))
        } throws: { error in
            guard case .invalidOutput(let attempts, _, _) = error as? GenerationFailure else { return false }
            return attempts.count == 3 && attempts.allSatisfy { $0.errors == ["/name: must not be Maren"] }
        }
    }
}
