public import Observability
public import Persistence
import Logging
public import PartySync
import Genlayers
public import Memory37
public import Gateway
public import MediaBroker

public import Foundation

/// The whole configuration of a running `rpgbot`, resolved once at start-up from flags,
/// then the environment, then defaults (see ``ConfigurationLoader``) and handed to the
/// rest of the code as one typed value.
public struct RPGBotConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var dataDirectory: URL
    /// The capability services to run; a subset of ``CapabilityCatalog/available``.
    public var services: [String]
    public var databaseURL: DatabaseURL
    /// How long an HTTP connection may be idle: before its first request head is complete, or
    /// between requests.
    public var httpIdleTimeout: Duration = .seconds(75)
    /// Open HTTP and WebSocket connections beyond this are answered 503 and closed.
    public var maxConnections = 10_000
    /// How long start-up waits for the database to take connections.
    public var databaseWait: Duration = .seconds(30)
    /// The secret from `RPGBOT_JWT_SECRET`, or nil to use the generated file in the data folder.
    public var jwtSecret: [UInt8]?
    public var maxBodySize: Int
    public var shutdownTimeout: Duration
    public var observability: ObservabilitySettings
    public var partySync: PartySyncSettings
    public var generation: GenerationConfiguration
    public var knowledge: KnowledgeConfiguration
    public var media = MediaSettings()

    /// The defaults, with `dataDirectory` as the base of the default database path.
    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        dataDirectory: URL = URL(fileURLWithPath: "./data"),
        services: [String] = CapabilityCatalog.available,
        databaseURL: DatabaseURL? = nil,
        jwtSecret: [UInt8]? = nil,
        maxBodySize: Int = 1 << 20,
        shutdownTimeout: Duration = .seconds(30),
        observability: ObservabilitySettings = ObservabilitySettings(),
        partySync: PartySyncSettings = PartySyncSettings(),
        generation: GenerationConfiguration = GenerationConfiguration(),
        knowledge: KnowledgeConfiguration = KnowledgeConfiguration()
    ) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory.standardizedFileURL
        self.services = services
        self.databaseURL = databaseURL ?? .sqlite(path: self.dataDirectory.appendingPathComponent("rpgbot.sqlite").path)
        self.jwtSecret = jwtSecret
        self.maxBodySize = maxBodySize
        self.shutdownTimeout = shutdownTimeout
        self.observability = observability
        self.partySync = partySync
        self.generation = generation
        self.knowledge = knowledge
    }
}
