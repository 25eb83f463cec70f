public import CapabilityKit
import Foundation

extension MediaSettings {
    /// Reads the media broker's settings (``MediaBrokerCapability/settings``); unset ones keep their defaults.
    public init(reading values: SettingValues) throws(ConfigurationError) {
        self.init()
        speechEngine = try values.choice(.ttsEngine, ["espeak-ng", "openai"]) ?? speechEngine
        imageEngine = try values.choice(.imageEngine, ["placeholder", "openai"]) ?? imageEngine
        openAIBaseURL = try values.httpURL(.mediaBaseURL) ?? openAIBaseURL
        openAIKey = values.apiKey(.mediaAPIKey) ?? openAIKey
        speechModel = values.raw(.ttsModel) ?? speechModel
        imageModel = values.raw(.imageModel) ?? imageModel
        workers = try values.integer(.mediaWorkers, 1...64) ?? workers
        maxQueue = try values.integer(.mediaQueue, 1...100_000) ?? maxQueue
        maxTextLength = try values.integer(.mediaMaxText, 1...100_000) ?? maxTextLength
        retries = try values.integer(.mediaRetries, 0...10) ?? retries
        jobTimeout = try values.duration(.mediaJobTimeout) ?? jobTimeout
        clientTokenLifetime = try values.duration(.mediaTokenLifetime) ?? clientTokenLifetime
    }
}
