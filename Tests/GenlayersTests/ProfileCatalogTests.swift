import JSONValues
import Foundation
import Genlayers
import ServiceKit
import TestSupport
import Testing

@Suite("Profiles")
struct ProfileCatalogTests {
    static let repositoryProfiles = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("profiles/profiles.yaml")

    @Test("the repository's profiles.yaml loads, strict, with input schemas")
    func repositoryProfilesLoad() throws {
        let catalog = try ProfileCatalog.load(from: Self.repositoryProfiles, knownProviders: GenerationEngine.providerNames)
        #expect(catalog.sorted.map(\.name) == ["combat", "epilogue", "npc", "quest_hook", "scene", "social"])
        for profile in catalog.sorted {
            #expect(profile.strict)
            #expect(profile.inputSchema != nil)
            #expect(!profile.schemaText.contains("$schema"))
        }
    }

    @Test("the domain prompts show the frame's lists once each and the knowledge by section")
    func domainPromptsRender() throws {
        let catalog = try ProfileCatalog.load(from: Self.repositoryProfiles, knownProviders: GenerationEngine.providerNames)
        let knowledge: JSONValue = .object(["sections": .array([
            .object(["heading": .string("Lore"), "items": .array([.object(["id": .string("demo:lore.a#0"), "title": .string("Brindlewick"), "text": .string("A fishing town.")])])]),
        ])])
        let scene = try #require(catalog["scene"]).userPrompt.render([
            "input": .object([
                "location": .string("the Gilded Eel"),
                "party": .array([.object(["name": .string("Ilsa"), "class": .string("cleric")]), .object(["name": .string("Bram")])]),
                "npcs": .array([.object(["id": .string("npc.old-tom"), "name": .string("Old Tom")])]),
            ]),
            "context": knowledge,
        ])
        #expect(scene.components(separatedBy: "Party:").count == 2)
        #expect(scene.contains("Party: Ilsa (cleric); Bram;"))
        #expect(scene.contains("NPCs present: Old Tom [npc.old-tom];"))
        #expect(scene.contains("Lore:\n[demo:lore.a#0] Brindlewick: A fishing town."))
        #expect(scene.components(separatedBy: "never invent an id").count == 2)
        // Nothing in the frame, no knowledge: no empty headings.
        let bare = try #require(catalog["scene"]).userPrompt.render(["input": .object([:]), "context": .object([:])])
        #expect(!bare.contains("Party:") && !bare.contains("knowledge"))
        let combat = try #require(catalog["combat"]).userPrompt.render(["input": .object([
            "combatants": .array([.object(["id": .string("g1"), "name": .string("Goblin"), "side": .string("enemy"), "hp": .number(7), "conditions": .array([.string("prone")])])]),
        ]), "context": .object([:])])
        #expect(combat.contains("- [g1] Goblin (enemy), 7 hp, prone"))
    }

    /// Writes a profiles file with one profile `broken` using `schema`, and loads it.
    func load(schema: String, extra: String = "", system: String = "You write JSON.") throws -> ProfileCatalog {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try schema.write(to: directory.url.appendingPathComponent("out.schema.json"), atomically: true, encoding: .utf8)
        let yaml = """
            profiles:
              broken:
                description: A test profile.
                schema: out.schema.json
                system: "\(system)"
                user: "Go."
            \(extra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            """
        let file = directory.url.appendingPathComponent("profiles.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        return try ProfileCatalog.load(from: file, knownProviders: GenerationEngine.providerNames)
    }

    static let goodSchema = #"{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}"#

    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "(loaded)"
        } catch {
            return "\(error)"
        }
    }

    @Test("a good profile loads with its settings")
    func goodProfile() throws {
        let catalog = try load(schema: Self.goodSchema, extra: "model: gpt-4.1\ntemperature: 0.3\nmax_output_tokens: 300\nmax_retries: 4\nprovider: offline")
        let profile = try #require(catalog["broken"])
        #expect(profile.model == "gpt-4.1")
        #expect(profile.temperature == 0.3)
        #expect(profile.maxOutputTokens == 300)
        #expect(profile.maxRetries == 4)
        #expect(profile.provider == "offline")
    }

    @Test("strict-mode violations name the profile and the place")
    func strictViolations() {
        let notRequired = message { _ = try load(schema: #"{"type":"object","properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a"],"additionalProperties":false}"#) }
        #expect(notRequired.contains("profile 'broken'"))
        #expect(notRequired.contains(#"property "b" must be listed in required"#))
        let open = message { _ = try load(schema: #"{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}"#) }
        #expect(open.contains(#"needs "additionalProperties": false"#))
        let keyword = message { _ = try load(schema: #"{"type":"object","properties":{"a":{"type":"object","properties":{},"required":[],"additionalProperties":false,"minProperties":1}},"required":["a"],"additionalProperties":false}"#) }
        #expect(keyword.contains(#"/properties/a: strict mode does not support "minProperties""#))
        // String lengths are accepted: they are validated, and left out of what strict mode gets.
        #expect(message { _ = try load(schema: #"{"type":"object","properties":{"a":{"type":"string","maxLength":20}},"required":["a"],"additionalProperties":false}"#) } == "(loaded)")
        let root = message { _ = try load(schema: #"{"type":"array","items":{"type":"string"}}"#) }
        #expect(root.contains("at the root"))
        // The same schema is accepted when the profile is not strict.
        #expect(message { _ = try load(schema: #"{"type":"object","properties":{"a":{"type":"string","minLength":2}}}"#, extra: "strict: false") } == "(loaded)")
    }

    @Test("a schema that is not a valid 2020-12 schema stops loading")
    func invalidSchema() {
        let text = message { _ = try load(schema: #"{"type":"objekt","properties":{},"additionalProperties":false}"#) }
        #expect(text.contains("is not a valid JSON Schema 2020-12"))
        #expect(text.contains("/type"))
        #expect(message { _ = try load(schema: #"{"type": "object",,}"#) }.contains("is not valid JSON"))
    }

    @Test("other mistakes: unknown provider, numbers out of range, bad template, bad YAML, missing file")
    func otherMistakes() throws {
        #expect(message { _ = try load(schema: Self.goodSchema, extra: "provider: gpt") }.contains("unknown provider 'gpt'"))
        #expect(message { _ = try load(schema: Self.goodSchema, extra: "temperature: 3") }.contains("temperature must be between 0 and 2"))
        #expect(message { _ = try load(schema: Self.goodSchema, extra: "max_retries: 50") }.contains("max_retries must be 0–10"))
        #expect(message { _ = try load(schema: Self.goodSchema, system: "{{#open}} never closed") }.contains("the system template does not parse"))

        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.url.appendingPathComponent("profiles.yaml")
        try "profiles:\n  x: [unclosed".write(to: file, atomically: true, encoding: .utf8)
        #expect(message { _ = try ProfileCatalog.load(from: file, knownProviders: []) }.contains("is not a valid profiles file"))
        try "profiles:\n  x:\n    description: d\n    schema: nowhere.json\n    system: s\n    user: u\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(message { _ = try ProfileCatalog.load(from: file, knownProviders: []) }.contains("schema nowhere.json cannot be read"))
        try "profiles:\n  x:\n    schema: nowhere.json\n".write(to: file, atomically: true, encoding: .utf8)
        #expect(message { _ = try ProfileCatalog.load(from: file, knownProviders: []) }.contains("missing profiles.x.description"))
    }
}
