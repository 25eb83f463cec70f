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

    public init(database: DatabaseHandle, tokens: TokenAuthority, settings: PartySyncSettings, metrics: MetricsRegistry?, logger: Logger) {
        let store: any EventLog =
            switch database.backend {
            case .sqlite(let pool): SQLiteEventLog(pool: pool)
            case .postgres(let client): PostgresEventLog(client: client, logger: logger)
            }
        self.init(store: store, tokens: tokens, settings: settings, metrics: metrics, logger: logger)
    }

    public init(store: any EventLog, tokens: TokenAuthority, settings: PartySyncSettings, metrics: MetricsRegistry?, logger: Logger) {
        hub = PartySyncHub(store: store, settings: settings, metrics: metrics, logger: logger)
        routes = PartySyncRoutes(hub: hub, tokens: tokens)
    }

    public static var migrations: [Migration] { PartySyncMigrations.all }

    /// Sweeps every fraction of a second (presence, gaps) and trims on the trim interval.
    public func run() async throws {
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
