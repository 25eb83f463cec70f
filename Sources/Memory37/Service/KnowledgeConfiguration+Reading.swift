public import CapabilityKit
import Foundation
import ServiceKit

extension KnowledgeConfiguration {
    /// Reads the knowledge layer's settings; unset ones keep their defaults.
    public init(reading values: SettingValues) throws(ConfigurationError) {
        self.init()
        self.enabled = try values.boolean(.memory37Enabled) ?? true
        if let path = try values.string(.contentDirectory) {
            self.contentDirectory = URL(fileURLWithPath: path)
            self.contentDirectoryGiven = true
        }
        if let campaign = try values.string(.contentCampaign) {
            if campaign == "global" {
                self.contentCampaign = nil
            } else {
                guard PathIdentifier.isValid(campaign) else { throw ConfigurationError(setting: .contentCampaign, value: campaign) }
                self.contentCampaign = campaign
            }
        }
        if let text = values.raw(.embedder) {
            guard let kind = KnowledgeConfiguration.EmbedderKind(rawValue: text.lowercased()) else { throw ConfigurationError(setting: .embedder, value: text) }
            self.embedder = kind
        }
        if let text = values.raw(.embeddingBaseURL) {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
                throw ConfigurationError(setting: .embeddingBaseURL, value: text)
            }
            self.openAI.baseURL = text
        }
        if let key = values.environment[Setting.embeddingAPIKey.environment], !key.isEmpty {
            self.openAI.apiKey = key
        } else if let key = values.environment["OPENAI_API_KEY"], !key.isEmpty {
            self.openAI.apiKey = key
        }
        self.openAI.model = try values.string(.embeddingModel) ?? self.openAI.model
        self.openAI.dimensions = try values.integer(.embeddingDimensions, 16...4096) ?? self.openAI.dimensions
        let tokens = try values.integer(.chunkTokens, 32...4000) ?? 300
        let overlap = try values.integer(.chunkOverlap, 0...1000) ?? 40
        self.chunker = Chunker(maxTokens: tokens, overlapTokens: overlap)
        if let search = values.raw(.knowledgeSearch) {
            guard ["database", "in-process"].contains(search) else { throw ConfigurationError(setting: .knowledgeSearch, value: search) }
            self.inProcessSearch = search == "in-process"
        }
        self.storeTimeout = try values.duration(.knowledgeStoreTimeout) ?? self.storeTimeout
    }
}
