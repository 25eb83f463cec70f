import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Observability
import Persistence
import PostgresNIO
@testable import RPGBotApp
import ServiceKit
import TestSupport
import Testing

/// Builds a server the way `rpgbot serve` does, on an ephemeral port and a temporary folder.
func makeServer(
    _ directory: TemporaryDirectory, metrics: Bool = false, databaseURL: DatabaseURL? = nil,
    configure: (inout RPGBotConfiguration) -> Void = { _ in }
) async throws -> RPGBotServer {
    var configuration = RPGBotConfiguration(port: 0, dataDirectory: directory.url, databaseURL: databaseURL)
    configuration.observability.metricsEnabled = metrics
    configure(&configuration)
    let telemetry = try Observability.bootstrap(service: "rpgbot-test", settings: configuration.observability, installGlobally: false)
    return try await RPGBotServer.prepare(configuration: configuration, telemetry: telemetry)
}

@Suite struct SystemRoutesTests {
    /// The console is a service like the others: served by default, absent when left out.
    @Test func theConsoleIsServedOnlyWithItsService() async throws {
        try await withTemporaryDirectory { directory in
            try await makeServer(directory).makeApplication().test(.live) { client in
                try await client.execute(uri: "/console", method: .get) { response in
                    #expect(response.status == .ok && response.headers[.contentType] == "text/html; charset=utf-8")
                }
            }
            let without = try await makeServer(directory) { $0.services = ["party-sync", "media-broker", "gateway"] }
            try await without.makeApplication().test(.live) { client in
                for path in ["/console", "/console/app.js", "/"] {
                    try await client.execute(uri: path, method: .get) { response in
                        #expect(response.status == .notFound, "\(path)")
                    }
                }
            }
        }
    }

    @Test func healthReadyAndVersionAnswer() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await makeServer(directory)
            try await server.makeApplication().test(.live) { client in
                try await client.execute(uri: "/health", method: .get) { response in
                    #expect(response.status == .ok)
                    let status = try jsonObject(response.body)["status"] as? String
                    #expect(status == "ok")
                }
                try await client.execute(uri: "/ready", method: .get) { response in
                    #expect(response.status == .ok)
                    let body = try jsonObject(response.body)
                    #expect(body["status"] as? String == "ready")
                    #expect(body["database"] as? String == "sqlite")
                }
                try await client.execute(uri: "/version", method: .get) { response in
                    #expect(response.status == .ok)
                    let version = try jsonObject(response.body)["version"] as? String
                    #expect(version == RPGBotVersion.current)
                }
            }
            #expect(FileManager.default.fileExists(atPath: directory.file("rpgbot.sqlite").path))
            #expect(FileManager.default.fileExists(atPath: directory.file(JWTSecret.fileName).path))
        }
    }

    @Test func readyIs503UntilMigrationsAreApplied() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await makeServer(directory)
            // Only the routes, without the start-up step that applies migrations.
            let router = Router(context: AppRequestContext.self)
            router.add(middleware: ProblemMiddleware(catalog: server.routes))
            SystemRoutes(server: server).register(on: CatalogedRouter(router: router, catalog: server.routes))
            try await Application(router: router).test(.router) { client in
                try await client.execute(uri: "/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.headers[.retryAfter] == "1")
                    let code = try jsonObject(response.body)["code"] as? String
                    #expect(code == "not_ready")
                }
                _ = try await server.migrations.apply(to: server.database)
                try await client.execute(uri: "/ready", method: .get) { response in
                    #expect(response.status == .ok)
                }
            }
        }
    }

    @Test(.enabled(if: PostgresTestServer.isConfigured, "needs the test PostgreSQL"))
    func readyIs503WhenTheDatabaseIsGone() async throws {
        try await withTemporaryDirectory { directory in
            let url = try await PostgresTestServer.makeDatabase()
            guard case .postgres(let location) = url else { return }
            let server = try await makeServer(directory, databaseURL: url)
            try await server.makeApplication().test(.live) { client in
                try await client.execute(uri: "/ready", method: .get) { response in
                    #expect(response.status == .ok)
                    let database = try jsonObject(response.body)["database"] as? String
                    #expect(database == "postgres")
                }
                // Drop the database under the running server: its connections are terminated.
                let admin = try DatabaseURL(parsing: PostgresTestServer.adminURL ?? "")
                _ = try await PostgresTestServer.withClient(admin) { client in
                    try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE \(location.database) WITH (FORCE)"), logger: testLogger)
                }
                try await client.execute(uri: "/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    let code = try jsonObject(response.body)["code"] as? String
                    #expect(code == "not_ready")
                }
            }
        }
    }

    @Test func metricsRouteIs404WhenDisabledAndServesWhenEnabled() async throws {
        try await withTemporaryDirectory { directory in
            try await makeServer(directory, metrics: false).makeApplication().test(.live) { client in
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                }
                // Another method on the path is refused as on every path, whether or not metrics run.
                try await client.execute(uri: "/metrics", method: .init("TRACE")!) { response in
                    #expect(response.status == .methodNotAllowed && response.headers[.allow] == "GET")
                }
            }
            try await makeServer(directory, metrics: true).makeApplication().test(.live) { client in
                try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .ok)
                    let text = String(buffer: response.body)
                    #expect(text.contains(#"http_server_requests_total{method="GET",route="/health",status="200"} 1"#))
                }
            }
        }
    }

    @Test func servicesNoneServesOnlyTheSystemRoutes() async throws {
        try await withTemporaryDirectory { directory in
            var configuration = RPGBotConfiguration(port: 0, dataDirectory: directory.url)
            configuration.services = []
            let telemetry = try Observability.bootstrap(service: "rpgbot-test", settings: configuration.observability, installGlobally: false)
            let server = try await RPGBotServer.prepare(configuration: configuration, telemetry: telemetry)
            #expect(server.partySync == nil)
            try await server.makeApplication().test(.live) { client in
                try await client.execute(uri: "/v1/campaigns/demo/events", method: .get) { #expect($0.status == .notFound) }
                try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
            }
            #expect(server.migrations.migrations.isEmpty)
        }
    }

    @Test func responsesCarryTheTraceIDHeaderOnlyWhenTracing() async throws {
        try await withTemporaryDirectory { directory in
            try await makeServer(directory).makeApplication().test(.live) { client in
                try await client.execute(uri: "/health", method: .get) { response in
                    // No tracer is installed in this process, so there is no trace to name.
                    #expect(response.headers[.traceID] == nil)
                }
            }
        }
    }
}

@Suite struct OpenAPIDocumentTests {
    func document() throws -> [String: Any] {
        try jsonObject(try #require(OpenAPIDocument.load(), "openapi.json must be present"))
    }

    @Test func documentIsOpenAPI31() throws {
        let document = try document()
        #expect(document["openapi"] as? String == "3.1.0")
        #expect((document["info"] as? [String: Any])?["version"] as? String == RPGBotVersion.current)
    }

    /// Fails when a route is registered but not described (or described but not served).
    @Test func everyRegisteredRouteIsDescribedAndViceVersa() async throws {
        let paths = try #require(try document()["paths"] as? [String: [String: Any]])
        try await withTemporaryDirectory { directory in
            let server = try await makeServer(directory, metrics: true)
            _ = server.makeApplication()
            let registered = server.routes.routes
            #expect(!registered.isEmpty)
            for route in registered {
                let operations = paths[route.path]
                #expect(operations?[route.method.rawValue.lowercased()] != nil, "\(route) is served but missing from openapi.json")
            }
            let described = Set(paths.flatMap { path, operations in
                operations.keys.filter { ["get", "put", "post", "delete", "patch", "head"].contains($0) }.map { "\($0.uppercased()) \(path)" }
            })
            let served = Set(registered.map(\.description))
            #expect(described.subtracting(served).isEmpty, "described but not served: \(described.subtracting(served))")
        }
    }

    @Test func servedDocumentIsTheRepositoryFile() async throws {
        try await withTemporaryDirectory { directory in
            try await makeServer(directory).makeApplication().test(.live) { client in
                try await client.execute(uri: "/openapi.json", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(Data(response.body.readableBytesView) == OpenAPIDocument.load())
                }
            }
        }
    }

    @Test func allowListsTheMethodsOfTheRouteThatMatchesMostSpecifically() async throws {
        try await withTemporaryDirectory { directory in
            try await makeServer(directory).makeApplication().test(.live) { client in
                // /v1/generation/profiles is GET only, although POST /v1/generation/{profile} exists.
                try await client.execute(uri: "/v1/generation/profiles", method: .options) { response in
                    #expect(response.status == .methodNotAllowed && response.headers[.allow] == "GET")
                }
                try await client.execute(uri: "/v1/generation/scene", method: .get) { response in
                    #expect(response.status == .methodNotAllowed && response.headers[.allow] == "POST")
                }
            }
        }
    }
}
