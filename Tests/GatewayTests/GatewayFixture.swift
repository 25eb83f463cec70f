import JSONValues
import Foundation
import Gateway
import Genlayers
import Hummingbird
import HummingbirdTesting
import HTTPTypes
import Logging
import Memory37
import Memory37Graph
import Persistence
import NIOCore
import ServiceKit
import Synchronization
import TestSupport

/// A gateway over the repository's profiles and the demo content, in process.
enum GatewayFixture {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let profiles = repository.appendingPathComponent("profiles/profiles.yaml")
    static let demo = repository.appendingPathComponent("content/demo")

    static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    static func engine(provider: String = "offline", baseURL: String = "http://127.0.0.1:9/v1", maxRetries: Int? = nil, configure: (inout GenlayersSettings) -> Void = { _ in }) throws -> GenerationEngine {
        var settings = GenlayersSettings()
        settings.provider = provider
        settings.providerSettings.baseURL = baseURL
        settings.providerSettings.apiKey = "sk-test"
        settings.providerSettings.model = "gpt-4o-mini"
        settings.providerSettings.timeout = .seconds(10)
        settings.transportRetries = 0
        configure(&settings)
        let catalog = try ProfileCatalog.load(from: profiles, knownProviders: GenerationEngine.providerNames)
        return GenerationEngine(catalog: catalog, providers: GenerationEngine.standardProviders(settings.providerSettings), settings: settings, logger: quiet)
    }

    static func knowledge(embedder: any Embedder = HashingEmbedder(), store: (any KnowledgeStore)? = nil) async throws -> KnowledgeService {
        let service = KnowledgeService(store: store ?? InMemoryKnowledgeStore(dimensions: embedder.dimensions), embedder: embedder, logger: quiet)
        _ = try await service.ingest(DocumentLoader(defaultDomain: .lore, defaultCampaign: "demo").load(demo).documents)
        return service
    }

    /// The demo content in SQLite with its campaign graph, as `rpgbot serve` keeps them.
    static func withGraph(_ body: @Sendable (KnowledgeService, GraphService) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try DatabaseHandle.open(.sqlite(path: directory.file("g.sqlite").path), logger: quiet)
        try await withRunningDatabase(database) { database in
            let migrations = MigrationRunner()
            migrations.register(KnowledgeMigrations.all + GraphMigrations.all)
            _ = try await migrations.apply(to: database)
            guard case .sqlite(let pool) = database.backend else { return }
            let embedder = HashingEmbedder()
            let knowledge = KnowledgeService(store: SQLiteKnowledgeStore(pool: pool, dimensions: embedder.dimensions), embedder: embedder, logger: quiet)
            await knowledge.prepare()
            let graph = GatewayCapability.makeGraphService(knowledge: knowledge, database: database, relationLifetime: nil, logger: quiet)
            _ = try await knowledge.ingest(DocumentLoader(defaultDomain: .lore, defaultCampaign: "demo").load(demo).documents)
            try await body(knowledge, graph)
        }
    }

    struct Tokens: Sendable {
        let player: String
        let gm: String
        let otherCampaign: String
        /// Role service, every campaign.
        let service: String
    }

    static func withApp(engine: GenerationEngine, knowledge: KnowledgeService?, graph: GraphService? = nil, events: (any CampaignEventPublisher)? = nil, _ body: @Sendable (any TestClientProtocol, Tokens) async throws -> Void) async throws {
        let tokens = await TokenAuthority(secret: Array("a-test-secret-of-at-least-32-bytes!!".utf8))
        let catalog = RouteCatalog()
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ProblemMiddleware(catalog: catalog, traceID: { nil }))
        let generator = GroundedGenerator(engine: engine, knowledge: knowledge, graph: graph, events: events, logger: quiet)
        GroundedGenerationRoutes(generator: generator, tokens: tokens, rate: 1_000, burst: 1_000).register(on: CatalogedRouter(router: router, catalog: catalog))
        let issued = Tokens(
            player: try await tokens.issue(subject: "ada", campaign: "demo", role: .player, ttl: 600),
            gm: try await tokens.issue(subject: "gm", campaign: "demo", role: .gm, ttl: 600),
            otherCampaign: try await tokens.issue(subject: "zed", campaign: "other", role: .gm, ttl: 600),
            service: try await tokens.issue(subject: "svc", campaign: "*", role: .service, ttl: 600)
        )
        try await Application(router: router).test(.router) { client in
            try await body(client, issued)
        }
    }

    struct Answer: @unchecked Sendable {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let body: [String: Any]

        var items: [[String: Any]] { body["knowledge_items"] as? [[String: Any]] ?? [] }
        var output: [String: Any] { body["output"] as? [String: Any] ?? [:] }
        var code: String? { body["code"] as? String }
        var pointers: [String] { (body["errors"] as? [[String: Any]] ?? []).compactMap { $0["pointer"] as? String } }
    }

    static func post(_ client: any TestClientProtocol, _ endpoint: String, _ token: String, _ body: String, key: String? = nil) async throws -> Answer {
        var headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
        if let key { headers[.idempotencyKey] = key }
        return try await client.execute(uri: "/v1/generate/\(endpoint)", method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            Answer(status: response.status, headers: response.headers, body: (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:])
        }
    }
}

/// Records what would be broadcast.
final class RecordingPublisher: CampaignEventPublisher {
    struct Event: Sendable {
        let campaignID: String
        let type: String
        let actor: String
        let key: String?
        let fingerprint: String?
        let payload: JSONValue
    }

    let events = Mutex<[Event]>([])

    func publish(campaignID: String, type: String, actor: String, role: Role, idempotencyKey: String?, requestFingerprint: String?, payload: JSONValue) async throws -> Int64 {
        events.withLock { events in
            events.append(Event(campaignID: campaignID, type: type, actor: actor, key: idempotencyKey, fingerprint: requestFingerprint, payload: payload))
            return Int64(events.count)
        }
    }

    func isIdempotencyKeyReused(campaignID: String, actor: String, idempotencyKey: String, requestFingerprint: String) async throws -> Bool {
        events.withLock { events in
            events.contains { $0.campaignID == campaignID && $0.actor == actor && $0.key == idempotencyKey && $0.fingerprint != requestFingerprint }
        }
    }
}

/// The hashing embedder until `failing` is set: then every call fails, as a model server that went away.
final class SwitchableEmbedder: Embedder {
    let base = HashingEmbedder()
    let failing = Atomic<Bool>(false)
    var model: String { base.model }
    var dimensions: Int { base.dimensions }

    struct Down: Error {}

    func embed(_ texts: [String]) async throws -> [[Float]] {
        if failing.load(ordering: .relaxed) { throw Down() }
        return try await base.embed(texts)
    }
}
