import Hummingbird
import Logging
import HTTPTypes
import NIOCore
import Observability
import Persistence
import ServiceKit
import Memory37
import PartySync

import Foundation

/// `/health`, `/ready`, `/version`, `/openapi.json` and `/metrics` (404 unless enabled).
struct SystemRoutes {
    let server: RPGBotServer

    struct Health: ResponseEncodable {
        let status: String
    }

    struct Readiness: ResponseEncodable {
        let status: String
        let database: String
        let migrations: Int
        /// `ok`, or `degraded` while knowledge reads are served by the in-memory fallback.
        let knowledge: String?
        /// On PostgreSQL: `listening` while other nodes' events arrive as they are committed,
        /// `polling` while they arrive within the poll interval (degraded).
        let partySync: String?

        enum CodingKeys: String, CodingKey {
            case status, database, migrations, knowledge
            case partySync = "party_sync"
        }
    }

    struct Version: ResponseEncodable {
        let name: String
        let version: String
        let api: String
        let services: [String]
    }

    func register(on router: CatalogedRouter<AppRequestContext>) {
        router.get("health") { _, _ in
            Health(status: "ok")
        }

        let database = server.database
        let migrations = server.migrations
        let knowledge = server.knowledge
        let cluster = server.partySync?.cluster
        router.get("ready") { _, context -> Readiness in
            guard migrations.isComplete else {
                throw APIError(.serviceUnavailable, code: "not_ready", detail: "Database migrations have not been applied yet.", headers: [.retryAfter: "1"])
            }
            do {
                try await database.ping()
            } catch {
                context.logger.warning("readiness check failed", metadata: ["error": "\(error)"])
                throw APIError(.serviceUnavailable, code: "not_ready", detail: "The database (\(database.url.kind)) is not reachable.", headers: [.retryAfter: "1"])
            }
            let polling = cluster?.delivery == .polling
            let degraded = (knowledge?.isDegraded ?? false) || polling
            return Readiness(
                status: degraded ? "degraded" : "ready", database: database.url.kind, migrations: migrations.migrations.count,
                knowledge: knowledge.map { $0.isDegraded ? "degraded" : "ok" }, partySync: cluster?.delivery.rawValue
            )
        }

        let services = server.configuration.services
        router.get("version") { _, _ in
            Version(name: "rpgbot", version: RPGBotVersion.current, api: RPGBotVersion.apiVersion, services: services)
        }

        let document = OpenAPIDocument.load()
        router.get("openapi.json") { _, _ -> Response in
            guard let document else {
                throw APIError(.serviceUnavailable, code: "openapi_missing", detail: "The OpenAPI document is not installed next to the executable.")
            }
            return Response(
                status: .ok,
                headers: [.contentType: "application/json", .contentLength: String(document.count), .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(bytes: document))
            )
        }

        // Registered either way, so another method on /metrics is a 405 like on every path.
        let metrics = server.telemetry.metrics
        router.get("metrics") { _, _ -> Response in
            guard let metrics else {
                throw APIError.notFound("Metrics are switched off; start the server with ENABLE_METRICS=true.", code: "metrics_disabled")
            }
            let body = metrics.exposition()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .contentLength: String(body.count), .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }
    }
}
