import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// `rpgbot serve` as a process: start-up, JSON logs, metrics, traces, shutdown.
@Suite struct ServeTests {
    static func get(_ url: String, headers: [(String, String)] = []) async throws -> (status: Int, headers: HTTPHeaders, body: String) {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 4 << 20)
        return (Int(response.status.code), response.headers, String(buffer: body))
    }

    @Test func servesHealthAndReadyAndWritesJSONLogsCarryingTheTraceID() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path])
            let port = try await server.waitUntilListening()
            let health = try await Self.get("http://127.0.0.1:\(port)/health")
            #expect(health.status == 200)
            let ready = try await Self.get("http://127.0.0.1:\(port)/ready")
            #expect(ready.status == 200)

            // Continue the caller's trace.
            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
            let traced = try await Self.get("http://127.0.0.1:\(port)/version", headers: [("traceparent", "00-\(traceID)-00f067aa0ba902b7-01")])
            #expect(traced.status == 200)
            #expect(traced.headers.first(name: "X-Trace-Id") == traceID)

            let accessLine = try await server.waitForLine { $0.contains(traceID) && $0.contains("\"msg\":\"request\"") }
            let access = try jsonObject(accessLine)
            #expect(access["trace_id"] as? String == traceID)
            #expect((access["span_id"] as? String)?.count == 16)
            #expect(access["route"] as? String == "/version")
            #expect(access["method"] as? String == "GET")
            #expect(access["status"] as? Int == 200)
            #expect(access["service"] as? String == "rpgbot")
            #expect(access["duration_ms"] != nil)
            // Every stdout line is a JSON object.
            for line in server.lines where !line.isEmpty {
                #expect((try? jsonObject(line)) != nil, "not JSON: \(line)")
            }
            #expect(try await server.stop() == 0)
        }
    }

    @Test func sigtermShutsDownCleanlyAndClosesTheDatabase() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path])
            _ = try await server.waitUntilListening()
            #expect(try await server.stop(signal: SIGTERM) == 0)
            #expect(server.lines.contains { $0.contains("database closed") })
            // The WAL was folded back: the main file is complete on its own.
            let wal = directory.file("rpgbot.sqlite-wal").path
            let walSize = (try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0
            #expect(walSize == 0)
        }
    }

    @Test func sigintAlsoShutsDownCleanly() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path])
            _ = try await server.waitUntilListening()
            #expect(try await server.stop(signal: SIGINT) == 0)
        }
    }

    @Test func textLogFormatIsForPeople() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path, "--log-format", "text"])
            let line = try await server.waitForLine { $0.contains("listening on") }
            #expect(!line.hasPrefix("{"))
            #expect(try await server.stop() == 0)
        }
    }

    @Test(.enabled(if: toolExists("promtool") || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"))
    func metricsPassPromtoolAndCountRequests() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path], environment: ["ENABLE_METRICS": "true"])
            let port = try await server.waitUntilListening()
            for _ in 0..<5 {
                _ = try await Self.get("http://127.0.0.1:\(port)/health")
            }
            _ = try await Self.get("http://127.0.0.1:\(port)/no/such/route")
            let metrics = try await Self.get("http://127.0.0.1:\(port)/metrics")
            #expect(metrics.status == 200)
            #expect(metrics.headers.first(name: "content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
            #expect(metrics.body.contains(#"http_server_requests_total{method="GET",route="/health",status="200"} 5"#))
            #expect(metrics.body.contains(#"http_server_requests_total{method="GET",route="unmatched",status="404"} 1"#))
            #expect(metrics.body.contains("process_resident_memory_bytes"))

            let file = directory.file("metrics.txt")
            try metrics.body.write(to: file, atomically: true, encoding: .utf8)
            let check = try await runTool("sh", ["-c", "promtool check metrics < '\(file.path)'"])
            #expect(check.status == 0, "promtool: \(check.stdout) \(check.stderr)")
            #expect(check.stdout.isEmpty && check.stderr.isEmpty, "promtool complained: \(check.stdout) \(check.stderr)")
            #expect(try await server.stop() == 0)
        }
    }

    @Test func metricsAre404WhenDisabled() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path])
            let port = try await server.waitUntilListening()
            let metrics = try await Self.get("http://127.0.0.1:\(port)/metrics")
            #expect(metrics.status == 404)
            #expect(metrics.headers.first(name: "content-type") == "application/problem+json")
            #expect(try await server.stop() == 0)
        }
    }

    @Test(.enabled(if: toolExists("oteltap") || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"))
    func requestSpanReachesAnOTLPReceiverWithTheCallersTraceID() async throws {
        try await withTemporaryDirectory { directory in
            let traceID = "0af7651916cd43dd8448eb211c80319c"
            let (receiver, collectorPort) = try await OTelTap.start(awaitSpan: #"^GET /version$"#)
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path], environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(collectorPort)",
                "OTEL_SERVICE_NAME": "rpgbot-e2e",
                "OTEL_BSP_SCHEDULE_DELAY": "200",
            ])
            let port = try await server.waitUntilListening()
            let response = try await Self.get("http://127.0.0.1:\(port)/version", headers: [("traceparent", "00-\(traceID)-b7ad6b7169203331-01")])
            #expect(response.status == 200)
            #expect(try await receiver.waitForExit(timeout: .seconds(30)) == 0, "oteltap never saw the span; stderr: \(receiver.standardError)")
            let received = receiver.lines.joined(separator: "\n")
            #expect(received.contains("\"traceId\":\"\(traceID)\""), "trace id missing from: \(received.prefix(2000))")
            #expect(received.contains("\"parentSpanId\":\"b7ad6b7169203331\""))
            #expect(received.contains("\"key\":\"http.route\",\"value\":{\"stringValue\":\"/version\"}"))
            #expect(try await server.stop() == 0)
        }
    }

    /// oteltap prints spans without their resource, so the service name is checked on the
    /// raw OTLP/HTTP request: protobuf carries strings and ids as plain bytes.
    @Test func exportedSpansCarryTheConfiguredServiceName() async throws {
        try await withTemporaryDirectory { directory in
            let capture = OTLPCapture()
            try await capture.run { collectorPort in
                let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path], environment: [
                    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(collectorPort)",
                    "OTEL_SERVICE_NAME": "rpgbot-e2e",
                    "OTEL_BSP_SCHEDULE_DELAY": "100",
                ])
                let port = try await server.waitUntilListening()
                let traceID = "5bf92f3577b34da6a3ce929d0e0e4737"
                _ = try await Self.get("http://127.0.0.1:\(port)/health", headers: [("traceparent", "00-\(traceID)-00f067aa0ba902b7-01")])
                let body = try await capture.waitForRequest { $0.range(of: Data(hex: traceID)) != nil }
                #expect(body.range(of: Data("service.name".utf8)) != nil)
                #expect(body.range(of: Data("rpgbot-e2e".utf8)) != nil)
                #expect(body.range(of: Data("GET /health".utf8)) != nil)
                #expect(capture.paths.allSatisfy { $0 == "/v1/traces" })
                #expect(try await server.stop() == 0)
            }
        }
    }

    @Test func aDeadCollectorCostsOnlyAWarning() async throws {
        try await withTemporaryDirectory { directory in
            let deadPort = try freeLoopbackPort()
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path], environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(deadPort)", "OTEL_BSP_SCHEDULE_DELAY": "100",
            ])
            let port = try await server.waitUntilListening()
            for _ in 0..<3 {
                let health = try await Self.get("http://127.0.0.1:\(port)/health")
                #expect(health.status == 200)
            }
            try await Task.sleep(for: .seconds(1))
            let health = try await Self.get("http://127.0.0.1:\(port)/health")
            #expect(health.status == 200)
            #expect(try await server.stop() == 0)
        }
    }
}

extension Data {
    init(hex: String) {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        self.init(bytes)
    }
}

/// A content designer ingests while the game runs: `rpgbot ingest` is another process on the
/// server's SQLite file, and the running server answers from what it wrote without a restart.
@Suite struct LiveIngestTests {
    @Test func aRunningServerOnSQLiteSeesWhatTheIngestCommandWrites() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory.url.appendingPathComponent("data")
            let content = directory.url.appendingPathComponent("content")
            try FileManager.default.createDirectory(at: content, withIntermediateDirectories: true)
            try """
                ---
                id: lore.night-ferry
                title: The night ferry
                ---
                A lantern ferry crosses the quagmire at midnight; the ferryman asks for a copper coin.
                """.write(to: content.appendingPathComponent("ferry.md"), atomically: true, encoding: .utf8)
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", data.path])
            let port = try await server.waitUntilListening()
            let token = try await ChildProcess.runRPGBot(["token", "--sub", "gm", "--campaign", "demo", "--role", "gm", "--data-dir", data.path])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            func ferryFound() async throws -> Bool {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/knowledge/search")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: #"{"query": "lantern ferry quagmire midnight", "campaign_id": "demo"}"#))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                return String(buffer: try await response.body.collect(upTo: 1 << 20)).contains("lore.night-ferry")
            }
            #expect(try await ferryFound() == false)
            let ingest = try await ChildProcess.runRPGBot(["ingest", content.path, "--campaign", "demo", "--data-dir", data.path])
            #expect(ingest.status == 0, "\(ingest.stdout) \(ingest.stderr)")
            // The server's upkeep applies other processes' writes every second.
            var found = false
            for _ in 0..<100 where !found {
                found = try await ferryFound()
                if !found { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(found)
            #expect(try await server.stop() == 0)
        }
    }
}
