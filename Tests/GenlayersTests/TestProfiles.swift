import JSONValues
import Foundation
import Genlayers
import Logging
import ServiceKit

/// Profiles and engines for the tests.
enum TestProfiles {
    /// A small strict schema: an NPC's mood and one line.
    static let reactionSchema = #"{"type":"object","properties":{"mood":{"type":"string","enum":["calm","angry"]},"line":{"type":"string"},"volume":{"type":"integer","minimum":1,"maximum":5}},"required":["mood","line","volume"],"additionalProperties":false}"#

    static func reaction(maxRetries: Int = 2, provider: String? = nil) throws -> GenerationProfile {
        GenerationProfile(
            name: "reaction",
            description: "How an NPC reacts.",
            schemaDocument: try JSONValue.parse(reactionSchema),
            schemaText: reactionSchema,
            systemPrompt: try PromptTemplate("You voice NPCs. Answer in JSON."),
            userPrompt: try PromptTemplate("How does {{input.npc}} react to: {{input.event}}?"),
            provider: provider,
            temperature: 0.5,
            maxOutputTokens: 200,
            maxRetries: maxRetries,
            offlineTemplate: .object(["line": .string("{{input.npc}} frowns at {{input.event}}."), "volume": .number(2)])
        )
    }

    static let input: JSONValue = .object(["npc": .string("Maren"), "event": .string("a stranger spills her ale")])

    static func engine(baseURL: String = "http://127.0.0.1:9/v1", provider: String, dialect: ChatDialect = .jsonSchema, maxRetries: Int = 2, transportRetries: Int = 2, profiles: [GenerationProfile]? = nil, grammar: GrammarDialect? = nil, contextTokens: Int? = nil) throws -> GenerationEngine {
        var settings = GenlayersSettings()
        settings.provider = provider
        settings.providerSettings.baseURL = baseURL
        settings.providerSettings.apiKey = "sk-test"
        settings.providerSettings.model = "gpt-4o-mini"
        settings.providerSettings.timeout = .seconds(10)
        settings.providerSettings.chatDialect = dialect
        settings.providerSettings.extraHeaders = [("OpenAI-Organization", "org-test")]
        settings.providerSettings.grammar = grammar
        settings.contextTokens = contextTokens
        settings.transportRetries = transportRetries
        settings.initialBackoff = .milliseconds(10)
        settings.maxBackoff = .seconds(5)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return GenerationEngine(
            catalog: ProfileCatalog(profiles: try profiles ?? [reaction(maxRetries: maxRetries)]),
            providers: GenerationEngine.standardProviders(settings.providerSettings),
            settings: settings,
            logger: logger
        )
    }
}
