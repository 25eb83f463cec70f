import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import RPGBotApp
import ServiceKit
import TestSupport
import Testing

/// Every route of the full server, sent bodies that are wrong in every common way, by callers
/// of every role, on SQLite and on PostgreSQL (stricter about types): each answer is a
/// deliberate one — never a 5xx (the server is healthy, so not even a 503), and an error is
/// always problem+json.
@Suite struct MalformedInputTests {
    static let bodies: [String] = [
        "", "null", "[]", "{}", "0", "\"text\"", "{", "{\"a\":", "[1,2", "{}{}",
        #"{"query": 12, "k": "many", "documents": "none", "text": [], "campaign_id": {}}"#,
        #"{"query": "", "k": -1, "documents": [], "text": "", "campaign_id": "../etc"}"#,
        #"{"query": "x", "k": 1e308, "documents": [null], "text": null, "campaign_id": "demo", "input": 1}"#,
        #"{"campaign_id": "demo", "documents": [{"id": 1}], "prompt": 5, "width": -3, "height": 1e9, "format": "flac"}"#,
        #"{"campaign_id": "demo", "type": "", "payload": "x", "combatants": [{}], "npcs": [1]}"#,
        #"{"\u0000": "\ud800", "campaign_id": "demo\u0000"}"#,
        String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000),
        #"{"query": "bell", "domains": ["npc", 5, "dragons"], "k": 2.5, "from_session": 1e12, "to_session": -1, "limit": 0}"#,
        #"{"campaign_id": "demo", "documents": [{"id": "s", "text": "t", "session": 1e12}, {"id": "e", "text": "t", "expires_at": "yesterday"}]}"#,
        #"{"campaign_id": "demo", "documents": [{"id": "v", "text": "t", "visibility": "everyone", "aliases": "x", "domain": "episode"}]}"#,
        #"{"text": "\#(String(repeating: "long ", count: 20_000))", "voice": "en-us", "format": "wav", "speed": 1e308}"#,
        #"{"type": "x.y", "payload": \#(String(repeating: "{\"a\":", count: 200))1\#(String(repeating: "}", count: 200))}"#,
        #"{"campaign_id": "demo", "session": 1e12, "party": "all", "location": 7, "npcs": [{"id": 5}], "intent": null}"#,
    ]
    static let queries = ["", "?since=abc&limit=1e9", "?since=-1&limit=-5&epoch=%00", "?limit=999999999999999999999"]

    @Test(arguments: [false, true])
    func noRouteAnswers500ToMalformedInput(onPostgres: Bool) async throws {
        if onPostgres, !PostgresTestServer.isConfigured { return }
        try await withTemporaryDirectory { directory in
            let server = try await makeServer(directory, databaseURL: onPostgres ? try await PostgresTestServer.makeDatabase() : nil)
            let application = server.makeApplication()
            let player = try await server.tokens.issue(subject: "ada", campaign: "demo", role: .player, ttl: 600)
            let gm = try await server.tokens.issue(subject: "gm", campaign: "demo", role: .gm, ttl: 600)
            let service = try await server.tokens.issue(subject: "svc", campaign: "*", role: .service, ttl: 600)
            let routes = server.routes.routes.filter { !$0.path.hasPrefix("/ws/") }
            #expect(routes.count > 20)
            try await application.test(.live) { client in
                var answered = 0
                for route in routes {
                    let path = route.path
                        .replacingOccurrences(of: "{campaign_id}", with: "demo")
                        .replacingOccurrences(of: "{profile}", with: "scene")
                        .replacingOccurrences(of: "{job_id}", with: "not-a-job")
                        .replacingOccurrences(of: "{sha256}", with: String(repeating: "ab", count: 32))
                        .replacingOccurrences(of: "{name}", with: "lore_latest")
                        .replacingOccurrences(of: "{version}", with: "lore-working")
                        .replacingOccurrences(of: "{file}", with: "app.js")
                    for token in [player, gm, service] {
                        for (body, query) in route.method == .post || route.method == .put ? Self.bodies.map({ ($0, "") }) : Self.queries.map({ ("", $0) }) {
                            let headers: HTTPFields = [.authorization: "Bearer \(token)", .contentType: "application/json"]
                            try await client.execute(uri: path + query, method: route.method, headers: headers, body: ByteBuffer(string: body)) { response in
                                answered += 1
                                #expect(response.status.code < 500, "\(route.method) \(path)\(query) with \(body.prefix(80)): \(response.status) \(String(buffer: response.body).prefix(300))")
                                if response.status.code >= 400 {
                                    #expect(response.headers[.contentType] == "application/problem+json", "\(route.method) \(path) with \(body.prefix(80))")
                                }
                            }
                        }
                    }
                }
                #expect(answered > 500)
            }
        }
    }
}
