public import CapabilityKit
import Observability
public import Persistence

/// Party Sync as a capability of the server: its event log on the configured database, the
/// campaign WebSocket and REST routes, and its housekeeping loop. Publishes its
/// ``PartySyncService`` (and so the hub) for the capabilities after it.
public struct PartySyncCapability: Capability {
    public let settings: PartySyncSettings

    public init(settings: PartySyncSettings) {
        self.settings = settings
    }

    public var name: String { PartySyncService.name }
    public var migrations: [Migration] { PartySyncMigrations.all }

    public static let settings: [Setting] = [
        .wsMaxFrame, .wsHelloTimeout, .wsPingInterval, .wsPongTimeout, .wsCloseTimeout, .wsQueueBytes, .wsRate, .wsBurst,
        .replayLimit, .idempotencyWindow, .presenceGrace, .restPublishRate, .restPublishBurst, .retentionEvents, .retentionAge, .clusterPollInterval, .clusterHeartbeatTimeout,
    ]

    public func assemble(in context: CapabilityContext) async throws -> CapabilityParts {
        let service = PartySyncService(
            database: context.database, tokens: context.tokens, settings: settings,
            metrics: context.telemetry.metrics, logger: context.telemetry.makeLogger("rpgbot.party-sync")
        )
        context.interfaces.publish(service)
        return CapabilityParts(
            routes: { service.routes.registerHTTP(on: $0) },
            webSocketRoutes: { service.routes.registerWebSocket(on: $0) },
            services: [service],
            beforeServing: [{ service.cluster?.storeMigrated() }]
        )
    }
}
