import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

@Suite struct MediaRestartTests {
    static let espeakAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/espeak-ng") || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"

    static func post(_ port: Int, _ path: String, token: String, body: String, headers: [(String, String)] = []) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return try JSONSerialization.jsonObject(with: Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)) as? [String: Any] ?? [:]
    }

    static func get(_ port: Int, _ path: String, token: String) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Prefer", value: "wait=20")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return try JSONSerialization.jsonObject(with: Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)) as? [String: Any] ?? [:]
    }

    /// Jobs accepted before a `kill -9` all finish after a restart on the same data, each once,
    /// and no half-written artifact is left behind.
    @Test(.enabled(if: espeakAvailable, "needs espeak-ng"))
    func queuedJobsSurviveAKill9() async throws {
        try await withTemporaryDirectory { directory in
            let token = try await ChildProcess.runRPGBot(["token", "--sub", "ada", "--campaign", "demo", "--role", "player", "--data-dir", directory.path])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let arguments = ["serve", "--port", "0", "--data-dir", directory.path, "--services", "media-broker", "--media-workers", "1"]
            let first = try await ChildProcess.rpgbot(arguments)
            let port = try await first.waitUntilListening()
            var jobs: [String: String] = [:]
            for index in 0..<24 {
                let text = "Entry \(index) of the ship's log: the fog lifted at dawn and the bell rang \(index) times across the flats."
                let answer = try await Self.post(port, "/v1/media/tts", token: token, body: #"{"text": "\#(text)", "voice": "en-us", "language": "en", "format": "ogg"}"#)
                jobs[try #require(answer["job_id"] as? String)] = text
            }
            #expect(try await first.stop(signal: SIGKILL) != 0)

            let second = try await ChildProcess.rpgbot(arguments)
            let secondPort = try await second.waitUntilListening()
            var artifacts = Set<String>()
            for id in jobs.keys.sorted() {
                let job = try await Self.get(secondPort, "/v1/media/jobs/\(id)", token: token)
                #expect(job["status"] as? String == "succeeded", "job \(id): \(job)")
                if let sha = (job["artifact"] as? [String: Any])?["sha256"] as? String { artifacts.insert(sha) }
            }
            #expect(artifacts.count == jobs.count)
            let files = FileManager.default.enumerator(at: directory.url.appendingPathComponent("artifacts"), includingPropertiesForKeys: nil)?.compactMap { ($0 as? URL)?.lastPathComponent }.filter { $0.contains(".") } ?? []
            #expect(files.filter { $0.hasSuffix(".partial") }.isEmpty)
            #expect(Set(files.filter { $0.hasSuffix(".ogg") }.map { String($0.prefix(64)) }) == artifacts)
            // A repeat after the restart is the same job, already done.
            let (id, text) = try #require(jobs.first)
            let repeated = try await Self.post(secondPort, "/v1/media/tts", token: token, body: #"{"text": "\#(text)", "voice": "en-us", "language": "en", "format": "ogg"}"#)
            #expect(repeated["job_id"] as? String == id && repeated["cached"] as? Bool == true)
            #expect(try await second.stop() == 0)
        }
    }

    /// The span of a job's run is linked to the request that created it, which was answered
    /// before the job ran.
    @Test(.enabled(if: espeakAvailable && (toolExists("oteltap") || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1")))
    func jobSpanLinksToItsRequest() async throws {
        try await withTemporaryDirectory { directory in
            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
            let (receiver, collectorPort) = try await OTelTap.start(awaitSpan: #"^media\.job$"#)
            let token = try await ChildProcess.runRPGBot(["token", "--sub", "ada", "--campaign", "demo", "--role", "player", "--data-dir", directory.path])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path, "--services", "media-broker"], environment: [
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:\(collectorPort)", "OTEL_SERVICE_NAME": "rpgbot-e2e", "OTEL_BSP_SCHEDULE_DELAY": "100",
            ])
            let port = try await server.waitUntilListening()
            let answer = try await Self.post(port, "/v1/media/tts", token: token, body: #"{"text": "Linked.", "voice": "en-us", "language": "en", "format": "wav"}"#, headers: [("traceparent", "00-\(traceID)-00f067aa0ba902b7-01")])
            #expect(answer["job_id"] is String)
            #expect(try await receiver.waitForExit(timeout: .seconds(30)) == 0, "oteltap never saw the job's span; stderr: \(receiver.standardError)")
            let span = try #require(receiver.lines.first { $0.contains("\"name\":\"media.job\"") })
            #expect(span.contains("\"links\":[{\"traceId\":\"\(traceID)\""), "no link to the request's trace in: \(span.prefix(1500))")
            #expect(try await server.stop() == 0)
        }
    }
}
