public import CapabilityKit
import Foundation
import Genlayers

extension GenerationConfiguration {
    /// Reads the generation layer's settings; unset ones keep their defaults.
    public init(reading values: SettingValues) throws(ConfigurationError) {
        self.init()
        if let path = try values.string(.profiles) {
            self.profilesPath = URL(fileURLWithPath: path)
            self.profilesPathGiven = true
        }
        var settings = GenlayersSettings()
        if let text = values.raw(.llmProvider) {
            guard GenerationEngine.providerNames.contains(text) else { throw ConfigurationError(setting: .llmProvider, value: text) }
            settings.provider = text
        }
        if let text = values.raw(.llmBaseURL) {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
                throw ConfigurationError(setting: .llmBaseURL, value: text)
            }
            settings.providerSettings.baseURL = text
        }
        if let key = values.environment[Setting.llmAPIKey.environment], !key.isEmpty {
            settings.providerSettings.apiKey = key
        } else if let key = values.environment["OPENAI_API_KEY"], !key.isEmpty {
            settings.providerSettings.apiKey = key
        }
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
        if let text = values.raw(.llmRetries) {
            guard let retries = Int(text), (0...10).contains(retries) else { throw ConfigurationError(setting: .llmRetries, value: text) }
            settings.transportRetries = retries
        }
        self.engine = settings
        self.requestRate = try values.positiveNumber(.generationRate) ?? self.requestRate
        self.requestBurst = try values.positiveNumber(.generationBurst, minimum: 1) ?? self.requestBurst
        if let text = values.raw(.contextTokens) {
            do {
                self.contextBudgets = try ContextBudgets(parsing: text)
            } catch {
                throw ConfigurationError(setting: .contextTokens, value: text)
            }
        }
    }
}
