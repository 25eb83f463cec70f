import Foundation
import Genlayers
import JSONValues
import TestSupport
import Testing

/// Schemas rewritten into what each model server's grammar enforces, and answer budgets sized
/// from the schema sent.
@Suite("Grammar dialects and answer budgets")
struct GrammarDialectTests {
    static let sceneSchemaURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../profiles/schemas/scene.schema.json").standardizedFileURL

    static func sceneProfile(maxOutputTokens: Int? = nil) throws -> GenerationProfile {
        let text = try String(contentsOf: sceneSchemaURL, encoding: .utf8)
        return GenerationProfile(
            name: "scene", description: "", schemaDocument: try JSONValue.parse(text), schemaText: text,
            systemPrompt: try PromptTemplate("Answer in JSON."), userPrompt: try PromptTemplate("Describe {{input.location}}."),
            maxOutputTokens: maxOutputTokens, maxRetries: 0, repair: true
        )
    }

    static func member(_ value: JSONValue?, _ pointer: String) -> JSONValue? {
        value?.value(at: pointer)
    }

    @Test("llama-cpp-python: a small integer range becomes an enum, an enum beside a type list loses the list, other keywords beside one become anyOf")
    func llamaCppPython() throws {
        let schema = try JSONValue.parse(#"{"type":"object","properties":{"dc":{"type":"integer","minimum":5,"maximum":30},"wide":{"type":"integer","minimum":0,"maximum":1000},"mood":{"type":["string","null"],"enum":["calm",null]},"line":{"type":["string","null"],"maxLength":40,"description":"said aloud"},"bonus":{"type":["integer","null"],"minimum":-2,"exclusiveMaximum":3}}}"#)
        let rewritten = GrammarDialect.llamaCppPython.enforceable(schema)
        #expect(Self.member(rewritten, "/properties/dc") == .object(["type": .string("integer"), "enum": .array((5...30).map { .number(Double($0)) })]))
        // Too wide to enumerate: left for validation and repair.
        #expect(Self.member(rewritten, "/properties/wide") == Self.member(schema, "/properties/wide"))
        #expect(Self.member(rewritten, "/properties/mood") == .object(["enum": .array([.string("calm"), .null])]))
        #expect(Self.member(rewritten, "/properties/line") == .object([
            "description": .string("said aloud"),
            "anyOf": .array([.object(["type": .string("string"), "maxLength": .number(40)]), .object(["type": .string("null")])]),
        ]))
        // A nullable range: enumerated with null, then the list is dropped.
        #expect(Self.member(rewritten, "/properties/bonus") == .object(["enum": .array([-2, -1, 0, 1, 2].map { .number(Double($0)) } + [.null])]))
    }

    @Test("llama-cpp-python: string bounds beyond what its grammar parser takes are scaled down together; enum strings do not count")
    func stringLengthBudget() throws {
        let schema = try JSONValue.parse(#"{"type":"object","properties":{"a":{"type":"string","maxLength":1200},"b":{"type":["string","null"],"maxLength":1200},"c":{"type":"string","maxLength":20},"d":{"type":"string","maxLength":900,"enum":["x"]}}}"#)
        let rewritten = GrammarDialect.llamaCppPython.enforceable(schema)
        let a = try #require(rewritten.value(at: "/properties/a/maxLength")?.intValue)
        let b = try #require(rewritten.value(at: "/properties/b/anyOf/0/maxLength")?.intValue)
        let c = try #require(rewritten.value(at: "/properties/c/maxLength")?.intValue)
        // Under the 2,000 the parser refuses, with the budget's margin (a floor may add a little).
        #expect(a + b + c < 1600 && a > 700 && a == b)
        #expect(c == 16)
        #expect(rewritten.value(at: "/properties/d") == schema.value(at: "/properties/d"))
        // Within the budget nothing is scaled; other dialects have no budget.
        let small = try JSONValue.parse(#"{"type":"object","properties":{"a":{"type":"string","maxLength":1400}}}"#)
        #expect(GrammarDialect.llamaCppPython.enforceable(small) == small)
        #expect(GrammarDialect.llamaCpp.enforceable(schema).value(at: "/properties/a/maxLength") == .number(1200))
    }

    @Test("openai leaves string lengths out and keeps bounds; llama-cpp keeps both; as-is changes nothing")
    func otherDialects() throws {
        let schema = try JSONValue.parse(#"{"type":"object","properties":{"dc":{"type":"integer","minimum":5,"maximum":30},"line":{"type":"string","maxLength":40},"note":{"type":["string","null"],"maxLength":10}}}"#)
        let openAI = GrammarDialect.openAI.enforceable(schema)
        #expect(Self.member(openAI, "/properties/line") == .object(["type": .string("string")]))
        #expect(Self.member(openAI, "/properties/note") == .object(["type": .array([.string("string"), .string("null")])]))
        #expect(Self.member(openAI, "/properties/dc") == Self.member(schema, "/properties/dc"))
        let llamaCpp = GrammarDialect.llamaCpp.enforceable(schema)
        #expect(Self.member(llamaCpp, "/properties/dc") == Self.member(schema, "/properties/dc"))
        #expect(Self.member(llamaCpp, "/properties/line") == Self.member(schema, "/properties/line"))
        #expect(Self.member(llamaCpp, "/properties/note/anyOf/0") == .object(["type": .string("string"), "maxLength": .number(10)]))
        #expect(GrammarDialect.asIs.enforceable(schema) == schema)
        #expect(GrammarDialect.vllm.enforceable(schema).value(at: "/properties/dc/enum")?.arrayValue?.count == 26)
    }

    @Test("the dialect is inferred from the server and the chat form")
    func inference() {
        #expect(GrammarDialect.inferred(baseURL: "https://api.openai.com/v1", chatDialect: .jsonSchema) == .openAI)
        #expect(GrammarDialect.inferred(baseURL: "http://127.0.0.1:8000/v1", chatDialect: nil) == .openAI)
        #expect(GrammarDialect.inferred(baseURL: "http://127.0.0.1:8000/v1", chatDialect: .jsonObject) == .llamaCppPython)
        #expect(GrammarDialect.inferred(baseURL: "http://127.0.0.1:11434/v1", chatDialect: .jsonSchema) == .asIs)
    }

    @Test("a scene request to llama-cpp-python sends the three given ids, the DC as an enum, in the author's member order")
    func sceneOnTheWire() async throws {
        let profile = try Self.sceneProfile()
        let answer = try JSONValue.parse(#"{"title":"The Rusty Anchor","narration":"Smoke and salt.","mood":"tense","location":{"name":"The Rusty Anchor","description":"A low tavern.","exits":[]},"npcs":[],"checks":[{"ability":"WIS","skill":"perception","dc":12,"reason":"spot the smuggler"}],"choices":[{"id":"c1","label":"Ask around","approach":"social","check":null},{"id":"c2","label":"Wait","approach":"other","check":null}],"gm_notes":null,"lore_refs":["k2"]}"#)
        let server = ScriptedProviderServer([Wire.chat(content: answer.canonicalText)])
        let request = GenerationRequest(profile: "scene", input: .object(["location": .string("The Rusty Anchor")]), allowedValues: ["/lore_refs/*": ["k1", "k2", "k3"]])
        let result = try await server.run { base in
            try await TestProfiles.engine(baseURL: base, provider: "openai-chat", dialect: .jsonObject, profiles: [profile]).generate(request)
        }
        #expect(result.attempts.map(\.outcome) == [.valid])
        let body = try #require(server.requests.first?.body)
        let format = try #require(body["response_format"] as? [String: Any])
        #expect(format["type"] as? String == "json_object")
        let sent = try JSONValue.parse(String(decoding: try JSONSerialization.data(withJSONObject: try #require(format["schema"])), as: UTF8.self))
        #expect(sent.value(at: "/properties/lore_refs/items/enum") == .array([.string("k1"), .string("k2"), .string("k3")]))
        #expect(sent.value(at: "/$defs/check/properties/dc/enum")?.arrayValue?.count == 26)
        #expect(sent.value(at: "/$defs/check/properties/dc/maximum") == nil)
        // Properties in the order the profile's author wrote them: the model writes the title
        // and narration first, its citations last.
        let text = try #require(server.requests.first?.text)
        let order = ["title", "narration", "mood", "location", "npcs", "checks", "choices", "gm_notes", "lore_refs"]
            .map { text.range(of: "\"\($0)\":{")?.lowerBound }
        #expect(order.allSatisfy { $0 != nil })
        #expect(order.compactMap { $0 } == order.compactMap { $0 }.sorted())
        // The budget was sized from the schema sent (narrowed, rewritten).
        let expected = OutputBudget.tokens(for: GrammarDialect.llamaCppPython.enforceable(SchemaNarrowing.narrowed(profile.schemaDocument, allowed: request.allowedValues)))
        #expect(body["max_tokens"] as? Int == expected)
    }

    @Test("answer budgets: bounded strings and lists size the budget; no citations to make is a smaller one; a known context window caps it")
    func budgets() async throws {
        let profile = try Self.sceneProfile()
        let full = OutputBudget.tokens(for: profile.schemaDocument)
        #expect(profile.maxOutputTokens == full && profile.sizesOutputFromSchema)
        let noCitations = OutputBudget.tokens(for: SchemaNarrowing.narrowed(profile.schemaDocument, allowed: ["/lore_refs/*": []]))
        #expect(noCitations < full)
        // Every string bounded: the longest valid answer is counted, not a guess per string.
        let small = try JSONValue.parse(#"{"type":"object","properties":{"line":{"type":"string","maxLength":300},"tags":{"type":"array","items":{"type":"string","maxLength":30},"maxItems":3}}}"#)
        let characters = 2 + (4 + 4 + 302) + (4 + 4 + 2 + 3 * 33)
        #expect(OutputBudget.tokens(for: small) == Int((Double(characters) / 3 * 1.25).rounded(.up)))
        #expect(try Self.sceneProfile(maxOutputTokens: 900).maxOutputTokens == 900)

        // Within a 1,024-token context, the budget is what the prompt leaves.
        let answer = #"{"title":"T","narration":"N","mood":"calm","location":{"name":"L","description":"D","exits":[]},"npcs":[],"checks":[],"choices":[{"id":"c1","label":"a","approach":"other","check":null},{"id":"c2","label":"b","approach":"other","check":null}],"gm_notes":null,"lore_refs":[]}"#
        let server = ScriptedProviderServer([Wire.chat(content: answer)])
        _ = try await server.run { base in
            try await TestProfiles.engine(baseURL: base, provider: "openai-chat", profiles: [profile], contextTokens: 1024)
                .generate(GenerationRequest(profile: "scene", input: .object(["location": .string("The Rusty Anchor")])))
        }
        let sent = try #require(server.requests.first?.body["max_tokens"] as? Int)
        #expect(sent < full && sent > 900 && sent <= 1024)
    }
}
