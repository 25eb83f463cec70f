import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Observability
import PartySync
import Persistence
import RPGBotApp
import ServiceKit
import ServiceLifecycle
import Synchronization
import TestSupport

/// A real `rpgbot` server with Party Sync, in process, on an ephemeral port.
struct LiveServer: Sendable {
    let port: Int
    let server: RPGBotServer
    /// Starts the server's graceful shutdown (as SIGTERM would).
    let shutdown: @Sendable () async -> Void

    var tokens: TokenAuthority { server.tokens }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }
    func webSocket(_ campaign: String = "demo") -> WebSocketTestClient {
        WebSocketTestClient(url: "ws://127.0.0.1:\(port)/ws/campaign/\(campaign)")
    }

    func token(_ user: String, campaign: String = "demo", role: Role = .player, ttl: TimeInterval = 3600) async throws -> String {
        try await tokens.issue(subject: user, campaign: campaign, role: role, ttl: ttl)
    }

    /// Connects and joins: returns the client and its welcome frame.
    func join(_ user: String, campaign: String = "demo", role: Role = .player, since: (epoch: String, offset: Int64)? = nil) async throws -> (WebSocketTestClient, [String: Any]) {
        let client = webSocket(campaign)
        var hello: [String: Any] = ["t": "hello", "v": 1, "token": try await token(user, campaign: campaign, role: role)]
        if let since { hello["since"] = ["epoch": since.epoch, "offset": since.offset] }
        client.send(json: hello)
        let welcome = try await client.next("welcome")
        return (client, welcome)
    }

    /// Publishes over REST as a GM.
    func restPublish(type: String, payload: [String: Any], key: String? = nil, campaign: String = "demo", token: String) async throws -> (status: Int, headers: HTTPHeaders, body: String) {
        var request = HTTPClientRequest(url: url("/v1/campaigns/\(campaign)/events"))
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        if let key { request.headers.add(name: "Idempotency-Key", value: key) }
        let body = try JSONSerialization.data(withJSONObject: ["type": type, "payload": payload])
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return (Int(response.status.code), response.headers, String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    static func settings(_ configure: (inout PartySyncSettings) -> Void = { _ in }) -> PartySyncSettings {
        var settings = PartySyncSettings()
        configure(&settings)
        return settings
    }

    /// Runs `body` against a fresh server on the given backend.
    static func run<T: Sendable>(
        _ backend: StoreKind = .sqlite,
        settings: PartySyncSettings = PartySyncSettings(),
        configure: (inout RPGBotConfiguration) -> Void = { _ in },
        _ body: @Sendable (LiveServer) async throws -> T
    ) async throws -> T {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let databaseURL: DatabaseURL? = backend == .postgres ? try await PostgresTestServer.makeDatabase(prefix: "live") : nil
        var configuration = RPGBotConfiguration(port: 0, dataDirectory: directory.url, databaseURL: databaseURL)
        configuration.partySync = settings
        configuration.services = ["party-sync"]
        configuration.observability.logLevel = .warning
        configure(&configuration)
        let telemetry = try Observability.bootstrap(service: "rpgbot-test", settings: configuration.observability, installGlobally: false)
        let server = try await RPGBotServer.prepare(configuration: configuration, telemetry: telemetry)
        return try await withRunningServer(logger: testLogger, { onServerRunning in
            server.makeApplication(onServerRunning: onServerRunning)
        }) { port, shutdown in
            try await body(LiveServer(port: port, server: server, shutdown: shutdown))
        }
    }
}

/// Reads event frames until `count` have arrived, failing on anything out of order.
func collectEvents(_ client: WebSocketTestClient, count: Int, timeout: Duration = .seconds(30)) async throws -> [[String: Any]] {
    var events: [[String: Any]] = []
    let deadline = ContinuousClock.now + timeout
    while events.count < count {
        let remaining = deadline - ContinuousClock.now
        guard remaining > .zero else { throw TestSetupError("got \(events.count) of \(count) events") }
        guard let frame = try await client.next(timeout: remaining) else { throw TestSetupError("closed after \(events.count) of \(count) events: \(String(describing: client.closed))") }
        if frame["t"] as? String == "event" { events.append(frame) }
    }
    return events
}

func offsets(_ events: [[String: Any]]) -> [Int64] {
    events.map { ($0["offset"] as? NSNumber)?.int64Value ?? -1 }
}

extension Dictionary where Key == String, Value == Any {
    func int64(_ key: String) -> Int64? { (self[key] as? NSNumber)?.int64Value }
}
