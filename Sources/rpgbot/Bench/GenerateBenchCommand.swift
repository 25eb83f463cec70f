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
/// validation — with the offline provider, over a large knowledge base, through real HTTP; or,
/// with `--provider-url`, the four `/v1/generate/*` endpoints against a real model server:
/// success rate, attempts, repairs, tokens and latency.
struct GenerateBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Measure /v1/generate/* end to end: the backend's cost (offline provider) or success against a model server (--provider-url).",
        discussion: """
            Without --provider-url: ingests the demo content and --chunks generated chunks (half
            in campaign demo, half global; the documents of `rpgbot bench knowledge`) into a fresh
            SQLite database, starts a server on it in this process (gateway only, offline
            provider, no rate limit) and posts scene frames over HTTP: first one at a time
            (latency), then from --concurrency tasks at once (throughput). The offline provider
            takes no model time, so the figures are the backend's.

            With --provider-url: the same server on the demo content (and --chunks, 0 by
            default) calls the model server there through openai-chat, and --requests varied
            frames of the demo campaign go to each of scene, combat, social and epilogue, one at
            a time. Printed per endpoint: success rate, success on the first attempt, attempts
            and repairs per success, tokens in and out, latency p50/p95, and cited ids that were
            not given (must be 0). --baseline switches off narrowing, the grammar rewrite, sized
            answer budgets and repairs, to measure what they bring.
            """
    )

    @Option(help: "Generated knowledge chunks besides the demo content (default 100000; 0 with --provider-url).")
    var chunks: Int?

    @Option(help: "Requests timed in each phase (default 500), or per endpoint with --provider-url (default 5).")
    var requests: Int?

    @Option(help: "Requests in flight in the throughput phase.")
    var concurrency: Int = 4

    @Option(help: "The profiles file.")
    var profiles: String = "profiles/profiles.yaml"

    @Option(help: "The demo content folder (campaign demo).")
    var content: String = "content/demo"

    @Option(help: "API root of an OpenAI-compatible model server (http://127.0.0.1:8000/v1): measure the four endpoints against it.")
    var providerURL: String?

    @Option(help: "Model name sent to the model server.")
    var model: String = "local"

    @Option(help: "How openai-chat asks for schema output: json_schema or json_object (llama-cpp-python).")
    var dialect: String = "json_schema"

    @Option(help: "What the server's grammar enforces: openai, llama-cpp, llama-cpp-python, vllm or as-is (default: inferred).")
    var grammar: String?

    @Option(help: "The model's context window in tokens (RPGBOT_LLM_CONTEXT_TOKENS).")
    var contextTokens: Int?

    @Option(help: "Seconds allowed for one model call.")
    var timeout: Int = 300

    @Option(help: "Endpoints to measure, comma-separated.")
    var endpoints: String = "scene,combat,social,epilogue"

    @Flag(help: "Switch off narrowing, the grammar rewrite, sized budgets and repairs (the engine without them).")
    var baseline = false

    func validate() throws {
        if providerURL != nil {
            guard (requests ?? 5) >= 1, (chunks ?? 0) >= 0, (1...3600).contains(timeout) else {
                throw ValidationError("--requests must be 1 or more, --chunks 0 or more, --timeout 1–3600.")
            }
            guard ChatDialect(rawValue: dialect) != nil else { throw ValidationError("--dialect must be json_schema or json_object.") }
            if let grammar, GrammarDialect(rawValue: grammar) == nil {
                throw ValidationError("--grammar must be one of \(GrammarDialect.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            if let contextTokens, !(512...2_000_000).contains(contextTokens) { throw ValidationError("--context-tokens must be 512–2000000.") }
            guard !selectedEndpoints.isEmpty, selectedEndpoints.count == endpoints.split(separator: ",").count else {
                throw ValidationError("--endpoints takes scene, combat, social and epilogue, comma-separated.")
            }
        } else {
            guard (chunks ?? 0) >= 0, (requests ?? 500) >= 10, (1...256).contains(concurrency) else {
                throw ValidationError("--chunks must be 0 or more, --requests at least 10, --concurrency 1–256.")
            }
        }
    }

    var selectedEndpoints: [DomainEndpoint] {
        endpoints.split(separator: ",").compactMap { DomainEndpoint(rawValue: $0.trimmingCharacters(in: .whitespaces)) }
    }

    func run() async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let chunks = self.chunks ?? (providerURL == nil ? 100_000 : 0)
        let requests = self.requests ?? (providerURL == nil ? 500 : 5)
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
        if let providerURL {
            configuration.generation.engine.provider = OpenAIChatProvider.providerName
            configuration.generation.engine.providerSettings.baseURL = providerURL
            configuration.generation.engine.providerSettings.model = model
            configuration.generation.engine.providerSettings.chatDialect = ChatDialect(rawValue: dialect) ?? .jsonSchema
            configuration.generation.engine.providerSettings.grammar = grammar.flatMap(GrammarDialect.init(rawValue:))
            configuration.generation.engine.providerSettings.timeout = .seconds(timeout)
            configuration.generation.engine.contextTokens = contextTokens
            configuration.generation.engine.requestShaping = !baseline
            configuration.generation.engine.transportRetries = 1
        }

        let corpus = SyntheticCorpus(documents: chunks, campaign: "demo")
        let ingestStart = ContinuousClock.now
        try await KnowledgeToolbox.withKnowledge(configuration, logger: logger) { service in
            for start in stride(from: 0, to: chunks, by: 500) {
                _ = try await service.ingest(corpus.documents(start..<min(chunks, start + 500)))
            }
        }
        let ingestSeconds = (ContinuousClock.now - ingestStart).inSeconds
        if let providerURL {
            let settings = configuration.generation.engine
            let grammar = OpenAIChatProvider(settings: settings.providerSettings).grammar
            ModelBenchmark.emit("generate benchmark: /v1/generate/\(selectedEndpoints.map(\.rawValue).joined(separator: "|")) against \(providerURL) (model \(model), \(dialect), grammar \(baseline ? "not applied" : grammar.rawValue), context \(contextTokens.map(String.init) ?? "not set")), \(requests) request(s) per endpoint, one at a time\(baseline ? "; BASELINE: no narrowing, grammar rewrite, sized budgets or repairs" : "")")
        } else {
            print(String(format: "generate benchmark: /v1/generate/scene, offline provider, SQLite with the demo content and %d generated chunks (ingested in %.1f s), one server in this process, HTTP/1.1 over loopback", chunks, ingestSeconds))
        }

        let startup = ContinuousClock.now
        try await InProcessServer.run(configuration) { port, server in
            let ready = String(format: "  server ready in %.1f s (migrations, loading the search indexes, content check)", (ContinuousClock.now - startup).inSeconds)
            if providerURL != nil { ModelBenchmark.emit(ready) } else { print(ready) }
            if providerURL != nil {
                let token = try await server.tokens.issue(subject: "bench", campaign: "demo", role: .gm, ttl: 24 * 3600)
                try await ModelBenchmark(baseURL: "http://127.0.0.1:\(port)", token: token, requests: requests, endpoints: selectedEndpoints, timeout: .seconds(Int64(timeout) * 4 + 60)).run()
            } else {
                let token = try await server.tokens.issue(subject: "bench", campaign: "demo", role: .player, ttl: 3600)
                try await measure(SceneClient(url: "http://127.0.0.1:\(port)/v1/generate/scene", token: token, corpus: corpus), requests: requests)
            }
        }
    }

    func measure(_ client: SceneClient, requests: Int) async throws {
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
        let response = try await HTTPClient.shared.execute(try .jsonPost(url, token: token, body: frame(index)), timeout: .seconds(30))
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
