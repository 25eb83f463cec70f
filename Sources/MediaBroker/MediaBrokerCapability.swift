public import CapabilityKit
import Foundation
import Observability
public import Persistence

/// The media broker as a capability of the server: its job store on the configured database,
/// artifacts in the data folder, the standard engines, `/v1/media/*`, and its workers.
/// Reports job updates to the ``MediaJobObserver`` published before it, if any; publishes the
/// ``MediaBroker``.
public struct MediaBrokerCapability: Capability {
    public static let name = "media-broker"

    public let settings: MediaSettings

    public init(settings: MediaSettings) {
        self.settings = settings
    }

    public var name: String { Self.name }
    public var migrations: [Migration] { MediaMigrations.all }

    public static let settings: [Setting] = [
        .ttsEngine, .imageEngine, .mediaBaseURL, .mediaAPIKey, .ttsModel, .imageModel, .mediaWorkers, .mediaQueue, .mediaMaxText,
        .mediaRetries, .mediaJobTimeout, .mediaTokenLifetime,
    ]

    public func assemble(in context: CapabilityContext) async throws -> CapabilityParts {
        let logger = context.telemetry.makeLogger("rpgbot.media")
        let store: any MediaJobStore =
            switch context.database.backend {
            case .sqlite(let pool): SQLiteMediaJobStore(pool: pool)
            case .postgres(let client): PostgresMediaJobStore(client: client, logger: logger)
            }
        let engines = MediaBroker.standardEngines(settings)
        let broker = MediaBroker(
            store: store, artifacts: ArtifactStore(folder: context.dataDirectory.appendingPathComponent("artifacts", isDirectory: true)),
            settings: settings, speechEngines: engines.speech, imageEngines: engines.images,
            observer: context.interfaces.get((any MediaJobObserver).self), metrics: context.telemetry.metrics, logger: logger
        )
        context.interfaces.publish(broker)
        let tokens = context.tokens
        return CapabilityParts(routes: { MediaRoutes(broker: broker, tokens: tokens).register(on: $0) }, services: [broker])
    }
}
