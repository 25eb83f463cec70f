import Foundation
import Logging
import Observability
import Synchronization
import HummingbirdTesting
@testable import RPGBotApp
import ServiceKit
import TestSupport
import Testing

/// Requests NIO cannot parse are answered and the connection closed, before and after the
/// server has decided whether to upgrade it to a WebSocket; so is a first head that never
/// completes.
@Suite struct RequestHeadErrorTests {
    static func request(headers: String) -> [UInt8] {
        Array("GET /health HTTP/1.1\r\nHost: localhost\r\n\(headers)\r\n".utf8)
    }

    @Test func oversizedOrMalformedFirstHeadsAreAnsweredAndClosed() async throws {
        try await withTemporaryDirectory { directory in
            try await makeServer(directory).makeApplication().test(.live) { client in
                let port = try #require(client.port)
                let big = "X-Big: " + String(repeating: "A", count: 100_000) + "\r\n"
                let cases: [([UInt8], String)] = [
                    (Self.request(headers: big), "HTTP/1.1 431 Request Header Fields Too Large"),
                    (Self.request(headers: big + "Upgrade: websocket\r\nConnection: Upgrade\r\n"), "HTTP/1.1 431 Request Header Fields Too Large"),
                    (Array("GARBAGE LINE\r\n\r\n".utf8), "HTTP/1.1 400 Bad Request"),
                    // Upgrade requests the WebSocket upgrader refuses: no key, an unknown version.
                    (Array("GET /ws/campaign/demo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n".utf8), "HTTP/1.1 400 Bad Request"),
                    (Array("GET /ws/campaign/demo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 99\r\n\r\n".utf8), "HTTP/1.1 400 Bad Request"),
                ]
                for (request, statusLine) in cases {
                    let answer = try await rawHTTPExchange(port: port, request: request)
                    #expect(answer?.hasPrefix(statusLine) == true, "got \(String(describing: answer?.prefix(200))) (nil: no answer and still open)")
                }
                // A head within the limits is served as before.
                let fine = try await rawHTTPExchange(port: port, request: Self.request(headers: "X-Small: 1\r\nConnection: close\r\n"))
                #expect(fine?.hasPrefix("HTTP/1.1 200 OK") == true)
            }
        }
    }

    @Test func aFirstHeadThatNeverCompletesIsAnswered408AndClosed() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await makeServer(directory) { $0.httpIdleTimeout = .milliseconds(500) }
            try await server.makeApplication().test(.live) { client in
                let port = try #require(client.port)
                // Half a head, then silence: the answer comes when the timeout runs out.
                let partial = try await rawHTTPExchange(port: port, request: Array("GET /health HTTP/1.1\r\nHost: local".utf8), timeout: .seconds(20))
                #expect(partial?.hasPrefix("HTTP/1.1 408 Request Timeout") == true, "got \(String(describing: partial?.prefix(200)))")
                let silent = try await rawHTTPExchange(port: port, request: [], timeout: .seconds(20))
                #expect(silent?.hasPrefix("HTTP/1.1 408 Request Timeout") == true, "got \(String(describing: silent?.prefix(200)))")
                // A keep-alive connection idle after its request is closed without an answer.
                let idle = try await rawHTTPExchange(port: port, request: Self.request(headers: ""), timeout: .seconds(20))
                #expect(idle?.hasPrefix("HTTP/1.1 200 OK") == true)
                #expect(idle?.contains("408") == false)
            }
        }
    }

    /// The first head's deadline ends with the upgrade: a WebSocket that is quiet for longer
    /// than the HTTP idle limit is Party Sync's business (its hello timeout), not HTTP's.
    @Test func anUpgradedConnectionIsNotTimedOutAsHTTP() async throws {
        try await withTemporaryDirectory { directory in
            // The limit leaves the upgrade request time to arrive on a loaded machine (at 300 ms
            // it once did not); the quiet period is well beyond it.
            let server = try await makeServer(directory) { $0.httpIdleTimeout = .seconds(1) }
            let token = try await server.tokens.issue(subject: "ada", campaign: "demo", role: .player, ttl: 600)
            try await server.makeApplication().test(.live) { client in
                let port = try #require(client.port)
                let socket = WebSocketTestClient(url: "ws://127.0.0.1:\(port)/ws/campaign/demo")
                try await Task.sleep(for: .milliseconds(2500))
                socket.send(json: ["t": "hello", "v": 1, "token": token])
                let welcome = try await socket.next(timeout: .seconds(10))
                #expect(welcome?["t"] as? String == "welcome", "got \(String(describing: welcome)), closed: \(String(describing: socket.closed))")
                socket.close()
            }
        }
    }

    /// Beyond the limit of open connections a new one is answered 503 at once; a closed one
    /// frees its place.
    @Test func connectionsBeyondTheLimitAreAnswered503() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await makeServer(directory) { $0.maxConnections = 2 }
            let token = try await server.tokens.issue(subject: "ada", campaign: "demo", role: .player, ttl: 600)
            try await server.makeApplication().test(.live) { client in
                let port = try #require(client.port)
                // The test harness may hold a connection of its own: fill what is left.
                var held: [WebSocketTestClient] = []
                var refused: String?
                while held.count <= 3 {
                    refused = try await rawHTTPExchange(port: port, request: Self.request(headers: "Connection: close\r\n"))
                    if refused?.hasPrefix("HTTP/1.1 503") == true { break }
                    let socket = WebSocketTestClient(url: "ws://127.0.0.1:\(port)/ws/campaign/demo")
                    socket.send(json: ["t": "hello", "v": 1, "token": token])
                    #expect(try await socket.next(timeout: .seconds(10))?["t"] as? String == "welcome")
                    held.append(socket)
                }
                #expect(!held.isEmpty && held.count <= 3)
                #expect(refused?.hasPrefix("HTTP/1.1 503 Service Unavailable") == true, "got \(String(describing: refused?.prefix(200)))")
                #expect(refused?.contains("Retry-After: 1") == true)
                held[0].close()
                _ = try await held[0].waitUntilClosed()
                // The count drops when the server side of the connection has closed too.
                var served: String?
                for _ in 0..<100 {
                    served = try await rawHTTPExchange(port: port, request: Self.request(headers: "Connection: close\r\n"))
                    if served?.hasPrefix("HTTP/1.1 200") == true { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(served?.hasPrefix("HTTP/1.1 200 OK") == true, "got \(String(describing: served?.prefix(200)))")
                for socket in held.dropFirst() { socket.close() }
            }
        }
    }
}


/// Client mistakes before routing are counted and reported at warning level, at most once per
/// interval; the error level is left to the server's own faults.
@Suite struct RefusedRequestReportingTests {
    /// Keeps each record's level and message.
    struct LevelRecorder: LogHandler {
        final class Box: Sendable {
            let entries = Mutex<[(Logger.Level, String)]>([])
        }
        let box: Box
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { box.entries.withLock { $0.append((event.level, event.message.description)) } }
    }

    @Test func aFloodOfRefusalsLogsOneWarningAndCountsEach() throws {
        let box = LevelRecorder.Box()
        let registry = MetricsRegistry()
        let reporter = RefusedRequestReporter(registry: registry, logger: Logger(label: "test") { _ in LevelRecorder(box: box) }, interval: .seconds(60))
        for _ in 0..<500 { reporter.refused("malformed_head", status: 400) }
        let entries = box.entries.withLock { $0 }
        #expect(entries.count == 1 && entries.first?.0 == .warning)
        #expect(String(decoding: registry.exposition(), as: UTF8.self).contains(#"http_refused_requests_total{reason="malformed_head"} 500"#))
    }

    @Test func theUpgradeFailureOfABrokenConnectionIsDemotedToDebug() {
        let box = LevelRecorder.Box()
        var logger = Logger(label: "test") { _ in LevelRecorder(box: box) }
        logger.handler = DemotingLogHandler(base: logger.handler) { level, message in
            level >= .error && message.description == "Error handling upgrade result"
        }
        logger.error("Error handling upgrade result")
        logger.error("a real fault")
        #expect(box.entries.withLock { $0.map(\.1) } == ["a real fault"])
    }

    @Test func malformedHeadsAreCountedInTheMetrics() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await makeServer(directory, metrics: true)
            try await server.makeApplication().test(.live) { client in
                let port = try #require(client.port)
                for request in ["GARBAGE LINE\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{0}b\r\n\r\n"] {
                    let answer = try await rawHTTPExchange(port: port, request: Array(request.utf8))
                    #expect(answer?.hasPrefix("HTTP/1.1 400") == true)
                }
                let metrics = try await rawHTTPExchange(port: port, request: Array("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
                #expect(metrics?.contains(#"http_refused_requests_total{reason="malformed_head"} 2"#) == true)
            }
        }
    }
}
