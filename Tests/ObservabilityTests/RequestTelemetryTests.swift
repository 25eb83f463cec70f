import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Observability
import TestSupport
import Testing

@Suite struct RequestTelemetryTests {
    static func app(metrics: MetricsRegistry, captured: CapturedLines) -> some ApplicationProtocol {
        let logger = Logger(label: "access") { _ in
            JSONLogHandler(service: "rpgbot-test", level: .info, metadataProvider: nil, sink: captured.sink)
        }
        let router = Router()
        router.add(middleware: RequestTelemetryMiddleware(logger: logger, metrics: metrics))
        router.get("items/{item_id}") { _, _ in "item" }
        router.post("items") { _, _ -> HTTPResponse.Status in .created }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    @Test func requestsAreCountedByRouteTemplateAndStatus() async throws {
        let metrics = MetricsRegistry()
        let captured = CapturedLines()
        try await Self.app(metrics: metrics, captured: captured).test(.live) { client in
            for id in ["a", "b", "c"] {
                try await client.execute(uri: "/items/\(id)", method: .get) { #expect($0.status == .ok) }
            }
            try await client.execute(uri: "/items", method: .post) { #expect($0.status == .created) }
            try await client.execute(uri: "/missing", method: .get) { #expect($0.status == .notFound) }
        }
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(text.contains(#"http_server_requests_total{method="GET",route="/items/{item_id}",status="200"} 3"#))
        #expect(text.contains(#"http_server_requests_total{method="POST",route="/items",status="201"} 1"#))
        #expect(text.contains(#"http_server_request_duration_seconds_count{method="GET",route="/items/{item_id}",status="200"} 3"#))
        // Raw paths never become labels.
        #expect(!text.contains("/items/a"))
    }

    @Test func oneAccessLinePerRequestWithTheRouteTemplate() async throws {
        let metrics = MetricsRegistry()
        let captured = CapturedLines()
        try await Self.app(metrics: metrics, captured: captured).test(.live) { client in
            try await client.execute(uri: "/items/42", method: .get) { #expect($0.status == .ok) }
        }
        let access = try captured.lines.map { try jsonObject($0) }.filter { $0["msg"] as? String == "request" }
        #expect(access.count == 1)
        let line = try #require(access.first)
        #expect(line["method"] as? String == "GET")
        #expect(line["route"] as? String == "/items/{item_id}")
        #expect(line["status"] as? Int == 200)
        #expect(line["duration_ms"] is Double || line["duration_ms"] is Int)
    }
}
