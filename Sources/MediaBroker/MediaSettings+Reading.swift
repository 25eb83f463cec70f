public import CapabilityKit
import Foundation

extension MediaSettings {
    /// Reads the media broker's settings (``MediaBrokerCapability/settings``); unset ones keep their defaults.
    public init(reading values: SettingValues) throws(ConfigurationError) {
        self.init()
        if let engine = values.raw(.ttsEngine) {
            guard ["espeak-ng", "openai"].contains(engine) else { throw ConfigurationError(setting: .ttsEngine, value: engine) }
            self.speechEngine = engine
        }
        if let engine = values.raw(.imageEngine) {
            guard ["placeholder", "openai"].contains(engine) else { throw ConfigurationError(setting: .imageEngine, value: engine) }
            self.imageEngine = engine
        }
        if let url = values.raw(.mediaBaseURL) {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else { throw ConfigurationError(setting: .mediaBaseURL, value: url) }
            self.openAIBaseURL = url
        }
        if let key = values.environment[Setting.mediaAPIKey.environment], !key.isEmpty {
            self.openAIKey = key
        } else if let key = values.environment["OPENAI_API_KEY"], !key.isEmpty {
            self.openAIKey = key
        }
        self.speechModel = values.raw(.ttsModel) ?? self.speechModel
        self.imageModel = values.raw(.imageModel) ?? self.imageModel
        self.workers = try values.integer(.mediaWorkers, 1...64) ?? self.workers
        self.maxQueue = try values.integer(.mediaQueue, 1...100_000) ?? self.maxQueue
        self.maxTextLength = try values.integer(.mediaMaxText, 1...100_000) ?? self.maxTextLength
        self.retries = try values.integer(.mediaRetries, 0...10) ?? self.retries
        self.jobTimeout = try values.duration(.mediaJobTimeout) ?? self.jobTimeout
        self.clientTokenLifetime = try values.duration(.mediaTokenLifetime) ?? self.clientTokenLifetime
    }
}
