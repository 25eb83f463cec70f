public import CapabilityKit
import Foundation
import Genlayers
public import Logging
import Observability
import ServiceKit
public import Memory37
public import Memory37Graph
public import Persistence

/// The knowledge and generation API as a capability of the server: Memory37 (its store on the
/// configured database, `/v1/knowledge/*`, the start-up content and the upkeep task) unless it
/// is switched off, the generation engine with its profiles (`/v1/generation/*`), and the
/// knowledge-grounded `/v1/generate/*`, which broadcast through the ``CampaignEventPublisher``
/// published before it, if any. Publishes the ``GenerationEngine`` and the ``KnowledgeService``.
public struct GatewayCapability: Capability {
    public static let name = "gateway"

    public let generation: GenerationConfiguration
    public let knowledge: KnowledgeConfiguration

    public init(generation: GenerationConfiguration, knowledge: KnowledgeConfiguration) {
        self.generation = generation
        self.knowledge = knowledge
    }

    public var name: String { Self.name }
    public var migrations: [Migration] { knowledge.enabled ? KnowledgeMigrations.all + GraphMigrations.all : [] }

    /// Generation's settings, then the knowledge layer's.
    public static let settings: [Setting] = [
        .profiles, .llmProvider, .llmBaseURL, .llmAPIKey, .llmModel, .llmTimeout, .llmHeaders, .llmChatDialect, .llmGrammar, .llmContextTokens, .llmRetries,
        .generationRate, .generationBurst, .contextTokens,
        .memory37Enabled, .contentDirectory, .contentCampaign, .embedder, .modelDirectory, .embeddingBaseURL, .embeddingAPIKey, .embeddingModel,
        .embeddingDimensions, .chunkTokens, .chunkOverlap, .knowledgeSearch, .knowledgeStoreTimeout,
        .knowledgeTTL, .knowledgeCleanupInterval, .knowledgeRetiredGrace,
    ]

    public func assemble(in context: CapabilityContext) async throws -> CapabilityParts {
        let telemetry = context.telemetry
        let engine = GenerationEngine(
            catalog: try Self.loadProfiles(generation, logger: telemetry.makeLogger("rpgbot.genlayers")),
            providers: GenerationEngine.standardProviders(generation.engine.providerSettings),
            settings: generation.engine, metrics: telemetry.metrics, logger: telemetry.makeLogger("rpgbot.genlayers")
        )
        context.interfaces.publish(engine)
        var parts = CapabilityParts()
        var knowledgeService: KnowledgeService?
        var graphService: GraphService?
        if knowledge.enabled {
            let service = makeKnowledgeService(database: context.database, telemetry: telemetry)
            context.interfaces.publish(service)
            knowledgeService = service
            let graph = Self.makeGraphService(knowledge: service, database: context.database, relationLifetime: knowledge.relationLifetime, logger: telemetry.makeLogger("rpgbot.memory37.graph"))
            context.interfaces.publish(graph)
            graphService = graph
            let content = knowledge
            let logger = telemetry.logger
            parts.services.append(KnowledgeUpkeepService(knowledge: service) {
                await Self.ingestContent(content, into: service, logger: logger)
            })
            parts.services.append(KnowledgeCleanupService(knowledge: service, interval: knowledge.cleanupInterval, logger: telemetry.makeLogger("rpgbot.memory37")))
            parts.beforeServing.append {
                await service.prepare()
                // The graph follows every ingestion; a full pass first catches up on anything
                // written while it was not running.
                if !service.isDegraded { await service.notifyFollowers(nil) }
                await Self.ingestContent(content, into: service, logger: logger)
            }
        }
        let grounded = GroundedGenerator(
            engine: engine, knowledge: knowledgeService, graph: graphService, budgets: generation.contextBudgets,
            events: context.interfaces.get((any CampaignEventPublisher).self), metrics: telemetry.metrics, logger: telemetry.makeLogger("rpgbot.gateway")
        )
        let (tokens, generation, limits, knowledgeRoutes, graphRoutes) = (context.tokens, generation, knowledge.limits, knowledgeService, graphService)
        parts.routes = { router in
            if let knowledgeService = knowledgeRoutes {
                KnowledgeRoutes(service: knowledgeService, tokens: tokens, limits: limits).register(on: router)
            }
            if let graphService = graphRoutes {
                GraphRoutes(service: graphService, tokens: tokens, limits: limits).register(on: router)
            }
            GenerationRoutes(engine: engine, tokens: tokens, rate: generation.requestRate, burst: generation.requestBurst).register(on: router)
            GroundedGenerationRoutes(generator: grounded, tokens: tokens, rate: generation.requestRate, burst: generation.requestBurst).register(on: router)
        }
        return parts
    }

    /// The campaign graph over the knowledge service's database, following its every write.
    public static func makeGraphService(knowledge: KnowledgeService, database: DatabaseHandle, relationLifetime: Double?, logger: Logger) -> GraphService {
        let store: any GraphStore =
            switch database.backend {
            case .sqlite(let pool): SQLiteGraphStore(pool: pool)
            case .postgres(let client): PostgresGraphStore(client: client, logger: logger)
            }
        let indexer = GraphIndexer(store: store, knowledge: knowledge.primary, relationLifetime: relationLifetime, logger: logger)
        knowledge.follow(with: indexer)
        return GraphService(store: store, knowledge: knowledge, indexer: indexer)
    }

    /// The knowledge service over the store for the database's backend.
    func makeKnowledgeService(database: DatabaseHandle, telemetry: Telemetry) -> KnowledgeService {
        let logger = telemetry.makeLogger("rpgbot.memory37")
        let resolved = knowledge.resolveEmbedder()
        let embedder = resolved.embedder
        if let notice = resolved.notice {
            if resolved.isWarning { logger.warning("\(notice)") } else { logger.notice("\(notice)") }
        }
        let store: any KnowledgeStore =
            switch database.backend {
            case .sqlite(let pool): SQLiteKnowledgeStore(pool: pool, dimensions: embedder.dimensions)
            case .postgres(let client): PostgresKnowledgeStore(client: client, dimensions: embedder.dimensions, logger: logger, inProcessSearch: knowledge.inProcessSearch)
            }
        return KnowledgeService(
            store: store, embedder: embedder, chunker: knowledge.chunker, storeTimeout: knowledge.storeTimeout,
            lifetimes: knowledge.lifetimes, retiredGrace: knowledge.retiredGrace.inSeconds, metrics: telemetry.metrics, logger: logger
        )
    }
}
