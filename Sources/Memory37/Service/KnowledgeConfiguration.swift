public import Foundation

/// The knowledge layer's configuration.
public struct KnowledgeConfiguration: Sendable {
    public enum EmbedderKind: String, Sendable { case hashing, openai }

    public var enabled = true
    public var contentDirectory: URL? = URL(fileURLWithPath: "content/demo")
    /// Whether the folder was given: a given folder must exist, the default may be absent.
    public var contentDirectoryGiven = false
    /// nil: global.
    public var contentCampaign: String? = "demo"
    public var embedder = EmbedderKind.hashing
    public var openAI = OpenAIEmbedder.Settings()
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

    /// The configured embedder.
    public func makeEmbedder() -> any Embedder {
        switch embedder {
        case .hashing: HashingEmbedder(dimensions: openAI.dimensions)
        case .openai: OpenAIEmbedder(settings: openAI)
        }
    }
}
