import Gateway
import ArgumentParser
import AsyncHTTPClient
import Foundation
import Genlayers
import Logging
import Memory37
import NIOCore
import NIOHTTP1
import Observability
import RPGBotApp
import ServiceKit
import ServiceLifecycle
import Synchronization

/// `rpgbot bench generate`: the backend's own cost of `/v1/generate/scene` — retrieval, prompt,
/// validation — with the offline provider, over a large knowledge base, through real HTTP.
struct GenerateBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Measure /v1/generate/scene end to end with the offline provider over a large knowledge base.",
        discussion: """
            Ingests the demo content and --chunks generated chunks (half in campaign demo, half
            global; the documents of `rpgbot bench knowledge`) into a fresh SQLite database,
            starts a server on it in this process (gateway only, offline provider, no rate limit)
            and posts scene frames over HTTP: first one at a time (latency), then from
            --concurrency tasks at once (throughput). The offline provider takes no model time,
            so the figures are the backend's: the frame's knowledge queries, packing the prompt,
            rendering it, validating the output and its citations.
            """
    )

    @Option(help: "Generated knowledge chunks besides the demo content.")
    var chunks: Int = 100_000

    @Option(help: "Requests timed in each phase.")
    var requests: Int = 500

    @Option(help: "Requests in flight in the throughput phase.")
    var concurrency: Int = 4

    @Option(help: "The profiles file.")
    var profiles: String = "profiles/profiles.yaml"

    @Option(help: "The demo content folder (campaign demo).")
    var content: String = "content/demo"

    func validate() throws {
        guard chunks >= 0, requests >= 10, (1...256).contains(concurrency) else {
            throw ValidationError("--chunks must be 0 or more, --requests at least 10, --concurrency 1–256.")
        }
    }

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpgbot-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = RPGBotConfiguration(port: 0, dataDirectory: directory, services: ["gateway"])
        configuration.observability.logLevel = .critical
        configuration.observability.metricsEnabled = false
        configuration.generation.profilesPath = URL(fileURLWithPath: profiles)
        configuration.generation.profilesPathGiven = true
        configuration.generation.engine.provider = "offline"
        configuration.generation.requestRate = 1_000_000
        configuration.generation.requestBurst = 1_000_000
        configuration.knowledge.contentDirectory = URL(fileURLWithPath: content)
        configuration.knowledge.contentDirectoryGiven = true

        let corpus = SyntheticCorpus(documents: chunks, campaign: "demo")
        let ingestStart = ContinuousClock.now
        try await KnowledgeToolbox.withKnowledge(configuration, logger: logger) { service in
            for start in stride(from: 0, to: chunks, by: 500) {
                _ = try await service.ingest(corpus.documents(start..<min(chunks, start + 500)))
            }
        }
        let ingestSeconds = (ContinuousClock.now - ingestStart).inSeconds
        print(String(format: "generate benchmark: /v1/generate/scene, offline provider, SQLite with the demo content and %d generated chunks (ingested in %.1f s), one server in this process, HTTP/1.1 over loopback", chunks, ingestSeconds))

        let startup = ContinuousClock.now
        try await InProcessServer.run(configuration) { port, server in
            print(String(format: "  server ready in %.1f s (migrations, loading the search indexes, content check)", (ContinuousClock.now - startup).inSeconds))
            let token = try await server.tokens.issue(subject: "bench", campaign: "demo", role: .player, ttl: 3600)
            try await measure(SceneClient(url: "http://127.0.0.1:\(port)/v1/generate/scene", token: token, corpus: corpus))
        }
    }

    func measure(_ client: SceneClient) async throws {
        for index in 0..<20 { _ = try await client.post(index) }
        var sequential: [Duration] = []
        var items = 0
        var tokens = 0
        for index in 0..<requests {
            let started = ContinuousClock.now
            let answer = try await client.post(1_000 + index)
            sequential.append(ContinuousClock.now - started)
            items += answer.items
            tokens += answer.tokens
        }
        print(String(format: "  one at a time: %d requests, p50 %.2f ms, p99 %.2f ms, max %.2f ms; %.1f knowledge items and %.0f context tokens per scene",
                     requests, Self.milliseconds(Self.percentile(sequential, 0.5)), Self.milliseconds(Self.percentile(sequential, 0.99)), Self.milliseconds(sequential.max() ?? .zero),
                     Double(items) / Double(requests), Double(tokens) / Double(requests)))

        let next = RequestCounter()
        let total = requests
        let started = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Duration].self) { tasks in
            for _ in 0..<concurrency {
                tasks.addTask {
                    var mine: [Duration] = []
                    while true {
                        let index = next.take()
                        guard index < total else { return mine }
                        let started = ContinuousClock.now
                        _ = try await client.post(10_000 + index)
                        mine.append(ContinuousClock.now - started)
                    }
                }
            }
            return try await tasks.reduce(into: []) { $0 += $1 }
        }
        let elapsed = (ContinuousClock.now - started).inSeconds
        print(String(format: "  %d in flight: %.0f requests/s, p50 %.2f ms, p99 %.2f ms",
                     concurrency, Double(requests) / elapsed, Self.milliseconds(Self.percentile(latencies, 0.5)), Self.milliseconds(Self.percentile(latencies, 0.99))))
    }

    static func percentile(_ values: [Duration], _ p: Double) -> Duration {
        let sorted = values.sorted()
        return sorted.isEmpty ? .zero : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
    }

    static func milliseconds(_ duration: Duration) -> Double {
        duration.inSeconds * 1000
    }
}

/// Posts varied scene frames: a place, the words of a generated document as the players'
/// intent, and on every third request an NPC of the demo campaign.
struct SceneClient: Sendable {
    let url: String
    let token: String
    let corpus: SyntheticCorpus

    struct Answer {
        var items: Int
        var tokens: Int
    }

    func frame(_ index: Int) -> [String: Any] {
        let places = ["Brindlewick", "the Rusty Anchor", "the mud flats", "the drowned chapel", "Saltmere"]
        var frame: [String: Any] = [
            "campaign_id": "demo",
            "location": places[index % places.count],
            "intent": corpus.count > 0 ? corpus.query(index) : "we look around",
        ]
        if index % 3 == 0 { frame["npcs"] = [["id": "npc.old-tom", "name": "Old Tom"]] }
        return frame
    }

    func post(_ index: Int) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: frame(index))))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 22)
        guard response.status == .ok else {
            throw StartupError(message: "scene request failed: \(response.status.code) \(String(buffer: body))", exitCode: 1)
        }
        let answer = (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:]
        return Answer(items: (answer["knowledge_items"] as? [Any])?.count ?? 0, tokens: answer["context_tokens"] as? Int ?? 0)
    }
}

/// Hands out request numbers to the tasks of the throughput phase.
final class RequestCounter: Sendable {
    private let value = Atomic<Int>(0)

    func take() -> Int {
        value.wrappingAdd(1, ordering: .relaxed).oldValue
    }
}
