import AsyncAlgorithms
public import Logging
public import Observability
public import Persistence
public import ServiceKit
public import ServiceLifecycle

/// Party Sync as a capability of the server: its store on the configured database, its
/// routes, its migrations, and its housekeeping loop (presence grace, delivery gaps,
/// retention) as a lifecycle service.
public struct PartySyncService: Service {
    public static let name = "party-sync"

    public let hub: PartySyncHub
    public let routes: PartySyncRoutes
    /// On a store several nodes share: what delivers the other nodes' events here.
    public let cluster: ClusterFollower?

    public init(database: DatabaseHandle, tokens: TokenAuthority, settings: PartySyncSettings, metrics: MetricsRegistry?, logger: Logger) {
        switch database.backend {
        case .sqlite(let pool):
            self.init(store: SQLiteEventLog(pool: pool), tokens: tokens, settings: settings, metrics: metrics, logger: logger)
        case .postgres(let client):
            self.init(
                store: PostgresEventLog(client: client, logger: logger), announcements: PostgresCommitAnnouncements(client: client, logger: logger),
                sharedPresence: PostgresSharedPresence(client: client, logger: logger), tokens: tokens, settings: settings, metrics: metrics, logger: logger
            )
        }
    }

    /// - Parameters:
    ///   - announcements: how this node hears of other nodes' commits to `store`; nil for a
    ///     store only this process uses.
    ///   - sharedPresence: the presence table the nodes share, with `announcements`.
    public init(
        store: any EventLog, announcements: (any CommitAnnouncements)? = nil, sharedPresence: (any SharedPresence)? = nil,
        tokens: TokenAuthority, settings: PartySyncSettings, metrics: MetricsRegistry?, logger: Logger
    ) {
        let hub = PartySyncHub(store: store, settings: settings, metrics: metrics, logger: logger)
        self.hub = hub
        routes = PartySyncRoutes(hub: hub, tokens: tokens)
        cluster = announcements.map {
            ClusterFollower(
                hub: hub, announcements: $0, presence: sharedPresence, pollInterval: settings.clusterPollInterval,
                heartbeatTimeout: settings.clusterHeartbeatTimeout, logger: logger
            )
        }
    }

    public static var migrations: [Migration] { PartySyncMigrations.all }

    /// Follows the other nodes' commits (on PostgreSQL) and keeps house until shutdown.
    public func run() async throws {
        guard let cluster else { return try await keepHouse() }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await cancelWhenGracefulShutdown { await cluster.run() } }
            group.addTask { try await keepHouse() }
        }
    }

    /// Sweeps every fraction of a second (presence, gaps) and trims on the trim interval.
    func keepHouse() async throws {
        let settings = hub.settings
        let tick = min(Duration.milliseconds(250), settings.presenceGrace / 4)
        var nextTrim = ContinuousClock.now + settings.trimInterval
        for await _ in AsyncTimerSequence(interval: tick, clock: .continuous).cancelOnGracefulShutdown() {
            await hub.sweep()
            if ContinuousClock.now >= nextTrim {
                nextTrim = ContinuousClock.now + settings.trimInterval
                do {
                    let removed = try await hub.store.trim(
                        keepEvents: settings.retentionEvents, maxAge: settings.retentionAge, idempotencyWindow: settings.idempotencyWindow
                    )
                    if removed > 0 {
                        hub.logger.info("trimmed event history", metadata: ["removed": .stringConvertible(removed)])
                    }
                } catch {
                    hub.logger.warning("trimming event history failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
