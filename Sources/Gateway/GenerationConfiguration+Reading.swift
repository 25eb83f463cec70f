public import CapabilityKit
import Foundation
import Genlayers

extension GenerationConfiguration {
    /// Reads the generation layer's settings; unset ones keep their defaults.
    public init(reading values: SettingValues) throws(ConfigurationError) {
        self.init()
        if let path = try values.string(.profiles) {
            profilesPath = URL(fileURLWithPath: path)
            profilesPathGiven = true
        }
        var settings = GenlayersSettings()
        settings.provider = try values.choice(.llmProvider, GenerationEngine.providerNames) ?? settings.provider
        settings.providerSettings.baseURL = try values.httpURL(.llmBaseURL) ?? settings.providerSettings.baseURL
        settings.providerSettings.apiKey = values.apiKey(.llmAPIKey) ?? settings.providerSettings.apiKey
        settings.providerSettings.model = try values.string(.llmModel) ?? settings.providerSettings.model
        settings.providerSettings.timeout = try values.duration(.llmTimeout) ?? settings.providerSettings.timeout
        if let text = values.raw(.llmHeaders) {
            var headers: [(name: String, value: String)] = []
            for pair in text.split(separator: ";") where !pair.trimmingCharacters(in: .whitespaces).isEmpty {
                let parts = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                    throw ConfigurationError(setting: .llmHeaders, value: text, reason: "'\(pair)' is not Name: value")
                }
                headers.append((parts[0], parts[1]))
            }
            settings.providerSettings.extraHeaders = headers
        }
        if let text = values.raw(.llmChatDialect) {
            guard let dialect = ChatDialect(rawValue: text.lowercased()) else { throw ConfigurationError(setting: .llmChatDialect, value: text) }
            settings.providerSettings.chatDialect = dialect
        }
        if let text = values.raw(.llmGrammar) {
            guard let grammar = GrammarDialect(rawValue: text.lowercased()) else { throw ConfigurationError(setting: .llmGrammar, value: text) }
            settings.providerSettings.grammar = grammar
        }
        settings.contextTokens = try values.integer(.llmContextTokens, 512...2_000_000)
        settings.transportRetries = try values.integer(.llmRetries, 0...10) ?? settings.transportRetries
        engine = settings
        requestRate = try values.positiveNumber(.generationRate) ?? requestRate
        requestBurst = try values.positiveNumber(.generationBurst, minimum: 1) ?? requestBurst
        if let text = values.raw(.contextTokens) {
            do {
                contextBudgets = try ContextBudgets(parsing: text)
            } catch {
                throw ConfigurationError(setting: .contextTokens, value: text)
            }
        }
    }
}
