import JSONValues
import Foundation
import Genlayers
import JSONSchema
import Logging
import ServiceKit
import Testing

/// A real model: SmolLM2-135M-Instruct served by llama-cpp-python's OpenAI-compatible server,
/// which the test script builds, starts and names in `RPGBOT_TEST_LLM_URL`.
@Suite("A real local model through openai-chat")
struct LocalModelTests {
    static let baseURL = ProcessInfo.processInfo.environment["RPGBOT_TEST_LLM_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let required = ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"

    @Test(.enabled(if: baseURL != nil || required, "needs RPGBOT_TEST_LLM_URL (scripts/test.sh starts the model server)"))
    func smallProfileGivesValidJSON() async throws {
        let baseURL = try #require(Self.baseURL, "RPGBOT_TEST_LLM_URL is not set")
        var settings = GenlayersSettings()
        settings.provider = OpenAIChatProvider.providerName
        settings.providerSettings.baseURL = baseURL
        settings.providerSettings.model = "SmolLM2-135M-Instruct"
        settings.providerSettings.chatDialect = .jsonObject
        settings.providerSettings.timeout = .seconds(120)
        var logger = Logger(label: "test")
        logger.logLevel = .error
        // Every keyword here is one llama.cpp turns into grammar, so a 135M model can satisfy it;
        // anything it still gets wrong is re-asked.
        let schema = #"{"type":"object","properties":{"mood":{"type":"string","enum":["calm","wary","angry"]},"line":{"type":"string","maxLength":100},"tags":{"type":"array","items":{"type":"string","maxLength":24},"maxItems":3}},"required":["mood","line","tags"],"additionalProperties":false}"#
        let profile = GenerationProfile(
            name: "reaction", description: "How an NPC reacts.",
            schemaDocument: try JSONValue.parse(schema), schemaText: schema,
            systemPrompt: try PromptTemplate("You voice NPCs in a fantasy game. Answer with one JSON object."),
            userPrompt: try PromptTemplate("How does {{input.npc}} react to: {{input.event}}?"),
            temperature: 0.2, maxOutputTokens: 160, maxRetries: 4
        )
        let engine = GenerationEngine(
            catalog: ProfileCatalog(profiles: [profile]),
            providers: GenerationEngine.standardProviders(settings.providerSettings),
            settings: settings,
            logger: logger
        )
        let result = try await engine.generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
        // Valid by construction of the engine; checked again here against the schema itself.
        #expect(engine.catalog["reaction"]!.schema.validate(result.output).isEmpty)
        #expect(result.usage.inputTokens > 0)
        #expect(result.usage.outputTokens > 0)
        #expect(result.provider == "openai-chat")
        print("local model: \(result.attempts.count) attempt(s), \(Int(result.latencyMilliseconds)) ms, output \(result.output.canonicalText)")
    }
}
