import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Observability
import RPGBotApp
import ServiceKit
import ServiceLifecycle
import Synchronization

/// `rpgbot bench media`: cache hits per second, the end-to-end latency of a fresh espeak-ng
/// job, and single flight under concurrent identical requests — through real HTTP.
struct MediaBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "media",
        abstract: "Measure the media broker: cache hits, fresh espeak-ng jobs, single flight.",
        discussion: """
            Starts a server with the media broker on a fresh SQLite database in this process and,
            over HTTP: (1) posts one sentence to speak with Prefer: wait=10, --fresh times with a
            new sentence each time (a real espeak-ng run and WAV artifact per request), timing
            each round trip; (2) posts one request already done from --concurrency tasks for
            --seconds (every answer a cache hit); (3) posts 200 identical new requests at once
            and checks they share one job that ran once.
            """
    )

    @Option(help: "Fresh jobs timed one at a time.")
    var fresh: Int = 50

    @Option(help: "Requests in flight in the cache-hit phase.")
    var concurrency: Int = 16

    @Option(help: "Seconds of the cache-hit phase.")
    var seconds: Double = 5

    func validate() throws {
        guard fresh >= 5, (1...512).contains(concurrency), seconds > 0 else {
            throw ValidationError("--fresh must be at least 5, --concurrency 1–512, --seconds positive.")
        }
    }

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpgbot-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = RPGBotConfiguration(port: 0, dataDirectory: directory, services: ["media-broker"])
        configuration.observability.logLevel = .critical
        configuration.observability.metricsEnabled = true
        try await InProcessServer.run(configuration) { port, server in
            let token = try await server.tokens.issue(subject: "bench", campaign: "demo", role: .player, ttl: 3600)
            let client = MediaClient(base: "http://127.0.0.1:\(port)", token: token)
            print("media benchmark: one server in this process (media broker, SQLite, espeak-ng, 2 workers per kind), HTTP/1.1 over loopback")
            try await measure(client)
        }
    }

    func measure(_ client: MediaClient) async throws {
        // 1. Fresh jobs.
        _ = try await client.speak("Warming up the voice.", wait: true)
        var latencies: [Duration] = []
        var audioBytes = 0
        for index in 0..<fresh {
            let started = ContinuousClock.now
            let answer = try await client.speak("The bell rang \(index + 1) times across the grey flats at dawn.", wait: true)
            latencies.append(ContinuousClock.now - started)
            guard answer["status"] as? String == "succeeded" else { throw StartupError(message: "a fresh job did not succeed: \(answer)", exitCode: 1) }
            audioBytes += ((answer["artifact"] as? [String: Any])?["bytes"] as? Int) ?? 0
        }
        print(String(format: "  fresh espeak-ng job, one sentence (WAV, ~%.0f KiB), submit + wait + answer: p50 %.1f ms, p99 %.1f ms over %d jobs",
                     Double(audioBytes) / Double(fresh) / 1024, GenerateBenchCommand.milliseconds(GenerateBenchCommand.percentile(latencies, 0.5)),
                     GenerateBenchCommand.milliseconds(GenerateBenchCommand.percentile(latencies, 0.99)), fresh))

        // 2. Cache hits.
        let cachedText = "The bell rang 1 times across the grey flats at dawn."
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let started = ContinuousClock.now
        let counts = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var hits = 0, other = 0
                    while ContinuousClock.now < deadline {
                        let answer = try await client.speak(cachedText, wait: false)
                        if answer["cached"] as? Bool == true { hits += 1 } else { other += 1 }
                    }
                    return (hits, other)
                }
            }
            return try await group.reduce(into: (0, 0)) { $0.0 += $1.0; $0.1 += $1.1 }
        }
        let elapsed = (ContinuousClock.now - started).inSeconds
        print(String(format: "  cache hits: %.0f requests/s from %d tasks over %.1f s (%d hits, %d not cached)", Double(counts.0 + counts.1) / elapsed, concurrency, elapsed, counts.0, counts.1))

        // 3. Single flight.
        let ids = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<200 {
                group.addTask { try await client.speak("Two hundred voices ask for the same line at once.", wait: false)["job_id"] as? String }
            }
            return try await group.reduce(into: [String?]()) { $0.append($1) }
        }
        let distinct = Set(ids.compactMap { $0 })
        var runs = -1
        if distinct.count == 1, let id = distinct.first {
            let job = try await client.job(id)
            runs = job["attempts"] as? Int ?? -1
        }
        print("  single flight: 200 concurrent identical new requests -> \(distinct.count) job id(s), engine runs of that job: \(runs)")
        guard distinct.count == 1, runs == 1 else { throw ExitCode(1) }
    }
}

/// Speaks through `/v1/media/tts`.
struct MediaClient: Sendable {
    let base: String
    let token: String

    func speak(_ text: String, wait: Bool) async throws -> [String: Any] {
        var request = try HTTPClientRequest.jsonPost(base + "/v1/media/tts", token: token, body: ["text": text, "voice": "en-us", "language": "en", "format": "wav"])
        if wait { request.headers.add(name: "Prefer", value: "wait=10") }
        return try await send(request)
    }

    func job(_ id: String) async throws -> [String: Any] {
        var request = HTTPClientRequest(url: base + "/v1/media/jobs/\(id)")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Prefer", value: "wait=10")
        return try await send(request)
    }

    private func send(_ request: HTTPClientRequest) async throws -> [String: Any] {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok || response.status == .accepted else {
            throw StartupError(message: "media request failed: \(response.status.code) \(String(buffer: body))", exitCode: 1)
        }
        return (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:]
    }
}
