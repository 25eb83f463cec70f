import JSONValues
import Foundation
import Logging
@testable import MediaBroker
import Persistence
import ServiceKit
import Synchronization
import TestSupport

/// The three job stores, each fresh.
enum MediaStoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, sqlite, postgres
    var testDescription: String { rawValue }

    static var available: [MediaStoreKind] {
        PostgresTestServer.isConfigured || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1" ? allCases : [.memory, .sqlite]
    }
}

import Testing

enum MediaFixture {
    static var quiet: Logger {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }

    static func withStore<T: Sendable>(_ kind: MediaStoreKind, _ body: @Sendable (any MediaJobStore) async throws -> T) async throws -> T {
        switch kind {
        case .memory:
            return try await body(InMemoryMediaJobStore())
        case .sqlite, .postgres:
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let url: DatabaseURL = kind == .sqlite ? .sqlite(path: directory.file("m.sqlite").path) : try await PostgresTestServer.makeDatabase(prefix: "media")
            let database = try DatabaseHandle.open(url, logger: quiet)
            return try await withRunningDatabase(database) { database in
                let migrations = MigrationRunner()
                migrations.register(MediaMigrations.all)
                _ = try await migrations.apply(to: database)
                let store: any MediaJobStore =
                    switch database.backend {
                    case .sqlite(let pool): SQLiteMediaJobStore(pool: pool)
                    case .postgres(let client): PostgresMediaJobStore(client: client, logger: quiet)
                    }
                return try await body(store)
            }
        }
    }

    static func job(key: String, kind: MediaKind = .tts, engine: String = "espeak-ng", at seconds: Double = 0) -> MediaJob {
        MediaJob(id: MediaJob.newID(), kind: kind, engine: engine, key: key, parameters: .object(["text": .string(key)]), campaignID: nil, owner: "ada", createdAt: Date(timeIntervalSince1970: 1_700_000_000 + seconds))
    }
}

/// A speech engine that counts its runs and can be held until released, around a real one.
final class ControlledSpeechEngine: SpeechEngine {
    let base: any SpeechEngine
    let runs = Atomic<Int>(0)
    let holding = Atomic<Bool>(false)
    let failures = Atomic<Int>(0)
    var name: String { base.name }

    init(base: any SpeechEngine = EspeakEngine()) {
        self.base = base
    }

    func capabilities() async -> SpeechCapabilities { await base.capabilities() }

    func synthesize(_ request: SpeechRequest) async throws -> MediaOutput {
        runs.wrappingAdd(1, ordering: .relaxed)
        while holding.load(ordering: .relaxed) {
            try await Task.sleep(for: .milliseconds(10))
        }
        if failures.load(ordering: .relaxed) > 0 {
            failures.wrappingSubtract(1, ordering: .relaxed)
            throw MediaEngineError("the engine hiccuped", transient: true)
        }
        return try await base.synthesize(request)
    }
}

import Hummingbird
import HummingbirdTesting
import HTTPTypes
import NIOCore

extension MediaFixture {
    struct Tokens: Sendable {
        let player: String
        let otherCampaign: String
        /// Another player of the player's campaign.
        let secondPlayer: String
        /// The game master of the player's campaign.
        let gm: String
    }

    struct Answer: @unchecked Sendable {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let data: Data
        var body: [String: Any] { (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:] }
        var jobID: String? { body["job_id"] as? String }
        var code: String? { body["code"] as? String }
        var pointers: [String] { (body["errors"] as? [[String: Any]] ?? []).compactMap { $0["pointer"] as? String } }
    }

    /// A broker on a fresh store with its workers running, behind the HTTP routes.
    static func withBroker(
        _ kind: MediaStoreKind = .sqlite, settings: MediaSettings = MediaSettings(), speech: [any SpeechEngine] = [EspeakEngine()],
        images: [any ImageEngine] = [PlaceholderImageEngine()], observer: (any MediaJobObserver)? = nil,
        _ body: @Sendable (any TestClientProtocol, Tokens, MediaBroker) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await withStore(kind) { store in
            let broker = MediaBroker(store: store, artifacts: ArtifactStore(folder: directory.url.appendingPathComponent("artifacts")), settings: settings, speechEngines: speech, imageEngines: images, observer: observer, logger: quiet)
            let authority = await TokenAuthority(secret: Array("a-test-secret-of-at-least-32-bytes!!".utf8))
            let catalog = RouteCatalog()
            let router = Router(context: AppRequestContext.self)
            router.add(middleware: ProblemMiddleware(catalog: catalog, traceID: { nil }))
            MediaRoutes(broker: broker, tokens: authority).register(on: CatalogedRouter(router: router, catalog: catalog))
            let tokens = Tokens(
                player: try await authority.issue(subject: "ada", campaign: "demo", role: .player, ttl: 600),
                otherCampaign: try await authority.issue(subject: "zed", campaign: "other", role: .player, ttl: 600),
                secondPlayer: try await authority.issue(subject: "bea", campaign: "demo", role: .player, ttl: 600),
                gm: try await authority.issue(subject: "gm", campaign: "demo", role: .gm, ttl: 600)
            )
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await broker.run() }
                defer { group.cancelAll() }
                try await Application(router: router).test(.router) { client in
                    try await body(client, tokens, broker)
                }
            }
        }
    }

    static func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, _ token: String, body: String? = nil, headers extra: HTTPFields = [:]) async throws -> Answer {
        var headers: HTTPFields = [.authorization: "Bearer \(token)"]
        if body != nil { headers[.contentType] = "application/json" }
        headers.append(contentsOf: extra)
        return try await client.execute(uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) }) { response in
            Answer(status: response.status, headers: response.headers, data: Data(response.body.readableBytesView))
        }
    }

    static func speech(_ text: String = "The tide is coming in, and the bell rings under the water.", format: String = "wav", extra: String = "") -> String {
        #"{"text": "\#(text)", "voice": "en-us", "language": "en", "format": "\#(format)"\#(extra)}"#
    }
}
