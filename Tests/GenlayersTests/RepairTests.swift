import Foundation
import Genlayers
import JSONSchema
import JSONValues
import TestSupport
import Testing

/// Per-request schema narrowing and mechanical repairs, against a local server speaking the
/// exact OpenAI wire format.
@Suite("Narrowing and repairs")
struct RepairTests {
    static let sceneLike = ##"{"type":"object","properties":{"npcs":{"type":"array","items":{"type":"object","properties":{"npc_id":{"type":["string","null"]},"line":{"type":"string","maxLength":40}},"required":["npc_id","line"],"additionalProperties":false}},"dc":{"type":"integer","minimum":5,"maximum":30},"lore_refs":{"$ref":"#/$defs/lore_refs"},"other_refs":{"$ref":"#/$defs/lore_refs"}},"required":["npcs","dc","lore_refs","other_refs"],"additionalProperties":false,"$defs":{"lore_refs":{"type":"array","items":{"type":"string"},"maxItems":12}}}"##

    static func profile(repair: Bool) throws -> GenerationProfile {
        GenerationProfile(
            name: "scene", description: "", schemaDocument: try JSONValue.parse(sceneLike), schemaText: sceneLike,
            systemPrompt: try PromptTemplate("Answer in JSON."), userPrompt: try PromptTemplate("Schema: {{schema_json}}"),
            maxOutputTokens: 300, maxRetries: 2, strict: false, repair: repair
        )
    }

    static let allowed = ["/lore_refs/*": ["k1", "k2", "k3"], "/npcs/*/npc_id": ["npc.maren"]]

    static let citingRequest = GenerationRequest(profile: "scene", additionalCheck: citationsGiven, allowedValues: allowed)

    /// `request` against a server that gives these answers in turn.
    static func generate(answering answers: [String], repair: Bool, request: GenerationRequest) async throws -> (GenerationResult, ScriptedProviderServer) {
        let server = ScriptedProviderServer(answers.map { Wire.chat(content: $0) })
        let result = try await server.run { base in
            try await TestProfiles.engine(baseURL: base, provider: "openai-chat", profiles: [try profile(repair: repair)]).generate(request)
        }
        return (result, server)
    }

    /// The caller's own check, as the gateway's: every citation must be one given.
    @Sendable static func citationsGiven(_ output: JSONValue) -> [ValidationError] {
        (output.objectValue?["lore_refs"]?.arrayValue ?? []).enumerated().compactMap { index, value in
            allowed["/lore_refs/*", default: []].contains(value.stringValue ?? "") ? nil : ValidationError(instanceLocation: "/lore_refs/\(index)", schemaLocation: "#/knowledge", message: "not given")
        }
    }

    @Test("the narrowed schema lists exactly the given ids, leaves shared definitions alone, and allows no items when there are none")
    func narrowing() throws {
        let schema = try JSONValue.parse(Self.sceneLike)
        let narrowed = SchemaNarrowing.narrowed(schema, allowed: Self.allowed)
        let refs = try #require(narrowed.objectValue?["properties"]?.objectValue?["lore_refs"]?.objectValue)
        #expect(refs["items"]?.objectValue?["enum"] == .array([.string("k1"), .string("k2"), .string("k3")]))
        // Each id cited once at most: no more items than ids.
        #expect(refs["$ref"] == nil && refs["maxItems"] == .number(3))
        // The other use of the same definition, and the definition itself, are unchanged.
        #expect(narrowed.objectValue?["properties"]?.objectValue?["other_refs"] == .object(["$ref": .string("#/$defs/lore_refs")]))
        #expect(narrowed.objectValue?["$defs"] == schema.objectValue?["$defs"])
        // A nullable id keeps null.
        let npcID = narrowed.objectValue?["properties"]?.objectValue?["npcs"]?.objectValue?["items"]?.objectValue?["properties"]?.objectValue?["npc_id"]?.objectValue
        #expect(npcID?["enum"] == .array([.string("npc.maren"), .null]))
        let none = SchemaNarrowing.narrowed(schema, allowed: ["/lore_refs/*": []])
        #expect(none.objectValue?["properties"]?.objectValue?["lore_refs"]?.objectValue?["maxItems"] == .number(0))
        // A path the schema does not have changes nothing.
        #expect(SchemaNarrowing.narrowed(schema, allowed: ["/nowhere/*": ["x"]]) == schema)
    }

    @Test("a number out of range, a string too long and an id not given are repaired, listed, and the answer is not re-asked")
    func mechanicalRepairs() async throws {
        let answer = #"{"npcs":[{"npc_id":"npc.maren","line":"Get out of my chapel before the tide turns, dry-foot, or else"}],"dc":45,"lore_refs":["k9","k2","k7"],"other_refs":[]}"#
        let (result, server) = try await Self.generate(answering: [answer], repair: true, request: Self.citingRequest)
        #expect(result.attempts.map(\.outcome) == [.repaired])
        // The schema's faults first; the citations are checked (and dropped) once it is satisfied.
        #expect(result.attempts.first?.repairs.map(\.description) == ["/dc: clamped", "/npcs/0/line: shortened", "/lore_refs/0: dropped", "/lore_refs/2: dropped"])
        #expect(result.output.objectValue?["lore_refs"] == .array([.string("k2")]))
        #expect(server.requests.count == 1)
        #expect(result.output.objectValue?["dc"] == .number(30))
        let line = try #require(result.output.objectValue?["npcs"]?.arrayValue?.first?.objectValue?["line"]?.stringValue)
        #expect(line == "Get out of my chapel before the tide")
        let json = result.attempts.first?.json.objectValue?["repairs"]?.arrayValue ?? []
        #expect(json.first == .object(["pointer": .string("/dc"), "kind": .string("clamped")]))
        // The model saw the narrowed schema: the ids it may cite, as an enum.
        #expect(try #require(server.requests.first?.text).contains(#"\"enum\":[\"k1\",\"k2\",\"k3\"]"#))
    }

    @Test("invented citations are dropped from the list; the rest of the answer stands")
    func citationsDropped() async throws {
        let answer = #"{"npcs":[],"dc":12,"lore_refs":["k9","k2","k7"],"other_refs":[]}"#
        let (result, _) = try await Self.generate(answering: [answer], repair: true, request: Self.citingRequest)
        #expect(result.output.objectValue?["lore_refs"] == .array([.string("k2")]))
        #expect(result.attempts.first?.repairs.map(\.description) == ["/lore_refs/0: dropped", "/lore_refs/2: dropped"])
    }

    @Test("a fault that is not mechanical is re-asked with every error; without repair nothing is repaired")
    func notMechanical() async throws {
        let wrong = #"{"npcs":[],"dc":45,"lore_refs":[],"other_refs":[],"extra":1}"#
        let fixed = #"{"npcs":[],"dc":12,"lore_refs":[],"other_refs":[]}"#
        let (result, _) = try await Self.generate(answering: [wrong, fixed], repair: true, request: GenerationRequest(profile: "scene", allowedValues: Self.allowed))
        #expect(result.attempts.map(\.outcome) == [.schemaViolation, .valid])
        #expect(result.attempts.first?.errors.contains { $0.hasPrefix("/dc:") } == true)

        let (plain, _) = try await Self.generate(answering: [#"{"npcs":[],"dc":45,"lore_refs":[],"other_refs":[]}"#, fixed], repair: false, request: GenerationRequest(profile: "scene"))
        #expect(plain.attempts.map(\.outcome) == [.schemaViolation, .valid])
    }

    @Test("an escape that names no character is replaced and logged as a repair; without repair it is invalid JSON")
    func badEscapes() async throws {
        // A lone high surrogate, as SmolLM2 writes one.
        let answer = #"{"npcs":[{"npc_id":null,"line":"Hm \ud83d."}],"dc":12,"lore_refs":[],"other_refs":[]}"#
        let (result, _) = try await Self.generate(answering: [answer], repair: true, request: GenerationRequest(profile: "scene"))
        #expect(result.attempts.map(\.outcome) == [.repaired])
        #expect(result.attempts.first?.repairs.map(\.description) == [": escape_replaced"])
        #expect(result.output.objectValue?["npcs"]?.arrayValue?.first?.objectValue?["line"] == .string("Hm \u{FFFD}."))

        let (plain, _) = try await Self.generate(answering: [answer, #"{"npcs":[],"dc":12,"lore_refs":[],"other_refs":[]}"#], repair: false, request: GenerationRequest(profile: "scene"))
        #expect(plain.attempts.map(\.outcome) == [.invalidJSON, .valid])
    }
}
