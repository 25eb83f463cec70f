public import CapabilityKit
import Foundation
import ServiceKit

extension KnowledgeConfiguration {
    /// Reads the knowledge layer's settings; unset ones keep their defaults.
    public init(reading values: SettingValues) throws(ConfigurationError) {
        self.init()
        enabled = try values.boolean(.memory37Enabled) ?? true
        if let path = try values.string(.contentDirectory) {
            contentDirectory = URL(fileURLWithPath: path)
            contentDirectoryGiven = true
        }
        if let campaign = try values.string(.contentCampaign) {
            if campaign == "global" {
                contentCampaign = nil
            } else {
                guard PathIdentifier.isValid(campaign) else { throw ConfigurationError(setting: .contentCampaign, value: campaign) }
                contentCampaign = campaign
            }
        }
        if let text = values.raw(.embedder) {
            guard let kind = KnowledgeConfiguration.EmbedderKind(rawValue: text.lowercased()) else { throw ConfigurationError(setting: .embedder, value: text) }
            embedder = kind
        }
        if let path = try values.string(.modelDirectory) { modelDirectory = URL(fileURLWithPath: path) }
        openAI.baseURL = try values.httpURL(.embeddingBaseURL) ?? openAI.baseURL
        openAI.apiKey = values.apiKey(.embeddingAPIKey) ?? openAI.apiKey
        openAI.model = try values.string(.embeddingModel) ?? openAI.model
        openAI.dimensions = try values.integer(.embeddingDimensions, 16...4096) ?? openAI.dimensions
        let tokens = try values.integer(.chunkTokens, 32...4000) ?? 300
        let overlap = try values.integer(.chunkOverlap, 0...1000) ?? 40
        chunker = Chunker(maxTokens: tokens, overlapTokens: overlap)
        if let search = try values.choice(.knowledgeSearch, ["database", "in-process"]) {
            inProcessSearch = search == "in-process"
        }
        storeTimeout = try values.duration(.knowledgeStoreTimeout) ?? storeTimeout
        if let text = values.raw(.knowledgeTTL), text.lowercased() != "none" {
            // `npc_relation=90d` is the lifetime of the relations NPC documents declare in the graph.
            var pairs = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if let index = pairs.firstIndex(where: { $0.lowercased().hasPrefix("npc_relation=") }) {
                let duration = String(pairs.remove(at: index).dropFirst("npc_relation=".count))
                guard let seconds = KnowledgeLifetimes.parse(duration) else {
                    throw ConfigurationError(setting: .knowledgeTTL, value: text, reason: "npc_relation=\(duration): the duration must look like 90s, 45m, 12h, 180d or 2w")
                }
                relationLifetime = seconds
            }
            do {
                lifetimes = try KnowledgeLifetimes.parseList(pairs.joined(separator: ","))
            } catch {
                throw ConfigurationError(setting: .knowledgeTTL, value: text, reason: error.description)
            }
        }
        cleanupInterval = try values.duration(.knowledgeCleanupInterval) ?? cleanupInterval
        retiredGrace = try values.duration(.knowledgeRetiredGrace) ?? retiredGrace
    }
}
