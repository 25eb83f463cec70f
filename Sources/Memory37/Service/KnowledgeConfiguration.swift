public import Foundation

/// The knowledge layer's configuration.
public struct KnowledgeConfiguration: Sendable {
    public enum EmbedderKind: String, Sendable {
        /// all-MiniLM-L6-v2 when its files are installed, otherwise `hashing`.
        case auto
        case hashing, openai, minilm
    }

    public var enabled = true
    public var contentDirectory: URL? = URL(fileURLWithPath: "content/demo")
    /// Whether the folder was given: a given folder must exist, the default may be absent.
    public var contentDirectoryGiven = false
    /// nil: global.
    public var contentCampaign: String? = "demo"
    public var embedder = EmbedderKind.auto
    public var openAI = OpenAIEmbedder.Settings()
    /// Where the `minilm` embedder's files are.
    public var modelDirectory = URL(fileURLWithPath: MiniLMEmbedder.defaultDirectory)
    public var chunker = Chunker()
    /// PostgreSQL: answer reads from each node's in-process copy instead of the database.
    public var inProcessSearch = true
    /// Time a read may wait for the configured store before the fallback answers.
    public var storeTimeout: Duration = .seconds(3)
    public var limits = KnowledgeLimits()
    /// Default lifetimes by domain, in seconds.
    public var lifetimes: [KnowledgeDomain: Double] = [:]
    /// The `npc_relation` policy: seconds the relations NPC documents declare live in the graph
    /// (nil: as long as their document).
    public var relationLifetime: Double?
    public var cleanupInterval: Duration = .seconds(3_600)
    public var retiredGrace: Duration = .seconds(7 * 86_400)

    public init() {}

    /// Replaces the embedder's own fusion weight (benchmarks only; no setting reads it).
    public var fusionWeight: Double?

    /// The configured embedder.
    public func makeEmbedder() -> any Embedder {
        resolveEmbedder().embedder
    }

    /// The configured embedder, and a sentence for the operator when it is not the one asked
    /// for (or could be better): the sentence model missing or unreadable falls back to
    /// `hashing`, so search still runs, on words and spelling.
    public func resolveEmbedder() -> ResolvedEmbedder {
        let resolved = resolveConfiguredEmbedder()
        guard let fusionWeight else { return resolved }
        return ResolvedEmbedder(embedder: ReweightedEmbedder(base: resolved.embedder, fusionWeight: fusionWeight), notice: resolved.notice, isWarning: resolved.isWarning)
    }

    private func resolveConfiguredEmbedder() -> ResolvedEmbedder {
        let hashing = HashingEmbedder(dimensions: openAI.dimensions)
        switch embedder {
        case .hashing: return ResolvedEmbedder(embedder: hashing, notice: nil)
        case .openai: return ResolvedEmbedder(embedder: OpenAIEmbedder(settings: openAI), notice: nil)
        case .auto, .minilm:
            let isDefault = modelDirectory.standardizedFileURL == URL(fileURLWithPath: MiniLMEmbedder.defaultDirectory).standardizedFileURL
            let install = "install it with `rpgbot model install\(isDefault ? "" : " --dir \(modelDirectory.path)")`"
            guard MiniLMEmbedder.isInstalled(at: modelDirectory) else {
                let notice = embedder == .minilm
                    ? "RPGBOT_EMBEDDER=minilm, but \(modelDirectory.path) holds no model: searching by words and spelling (hashing) until you \(install)"
                    : "no sentence model in \(modelDirectory.path): search matches words and spelling, not meaning; \(install)"
                return ResolvedEmbedder(embedder: hashing, notice: notice, isWarning: embedder == .minilm)
            }
            do {
                return ResolvedEmbedder(embedder: try MiniLMEmbedder(directory: modelDirectory), notice: nil)
            } catch {
                return ResolvedEmbedder(
                    embedder: hashing, notice: "cannot load the sentence model in \(modelDirectory.path) (\(error)): searching by words and spelling (hashing); \(install) again", isWarning: true)
            }
        }
    }
}

/// The embedder the configuration resolved to, and what the operator should know about it.
public struct ResolvedEmbedder: Sendable {
    public let embedder: any Embedder
    /// Said once at start-up when set.
    public let notice: String?
    /// The configuration asked for something it did not get.
    public let isWarning: Bool

    init(embedder: any Embedder, notice: String?, isWarning: Bool = false) {
        self.embedder = embedder
        self.notice = notice
        self.isWarning = isWarning
    }
}
