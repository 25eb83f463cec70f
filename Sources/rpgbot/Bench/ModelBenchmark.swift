import AsyncHTTPClient
import Foundation
import Gateway
import NIOCore
import NIOHTTP1
import ServiceKit

/// The model-server half of `rpgbot bench generate`: the four `/v1/generate/*` endpoints
/// against a real model, over varied frames of the demo campaign, one request at a time (a
/// local model server answers one at a time anyway).
struct ModelBenchmark {
    let baseURL: String
    let token: String
    let requests: Int
    let endpoints: [DomainEndpoint]
    let timeout: TimeAmount

    /// One request's outcome, read from the response body (success or problem).
    struct Sample {
        var succeeded: Bool
        var attempts: Int
        var repairs: Int
        var inputTokens: Int
        var outputTokens: Int
        var latency: Duration
        /// Cited ids that were not among the knowledge items given (must stay 0).
        var foreignCitations: Int
        /// The outcome of each attempt (`valid`, `repaired`, `schema_violation`, `truncated`…).
        var outcomes: [String]
        /// The kind of each repair (`clamped`, `shortened`, `dropped`, `escape_replaced`).
        var repairKinds: [String] = []
        var failure: String?
    }

    func run() async throws {
        // A model call may be silent for minutes: no read timeout, only the request's deadline.
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: nil)))
        do {
            try await measure(with: client)
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    func measure(with client: HTTPClient) async throws {
        var all: [DomainEndpoint: [Sample]] = [:]
        for endpoint in endpoints {
            var samples: [Sample] = []
            for index in 0..<requests {
                let sample = try await post(endpoint, frame: DemoFrames.frame(endpoint, index), client: client)
                let outcome = sample.succeeded ? "ok" : "failed (\(sample.failure ?? "?"))"
                Self.emit("  \(endpoint.rawValue) #\(index + 1): \(outcome) in \(String(format: "%.1f", sample.latency.inSeconds)) s, attempts \(sample.outcomes.joined(separator: ","))")
                samples.append(sample)
            }
            all[endpoint] = samples
        }
        Self.emit("")
        Self.emit("  endpoint  success      1st attempt  attempts/success  repairs/success  tokens in / out  latency p50 / p95  foreign citations")
        Self.emit("                                      mean    p95")
        for endpoint in endpoints {
            let samples = all[endpoint] ?? []
            let successes = samples.filter(\.succeeded)
            let first = successes.filter { $0.attempts == 1 }
            let attempts = successes.map { Double($0.attempts) }.sorted()
            let latencies = samples.map(\.latency)
            func share(_ part: Int) -> String {
                String(format: "%d/%d (%.0f%%)", part, samples.count, samples.isEmpty ? 0 : Double(part) / Double(samples.count) * 100)
            }
            let columns = [
                endpoint.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0),
                share(successes.count).padding(toLength: 12, withPad: " ", startingAt: 0),
                share(first.count).padding(toLength: 12, withPad: " ", startingAt: 0),
                String(format: "%4.2f  %4.0f", Self.mean(attempts), attempts.isEmpty ? 0 : attempts[min(attempts.count - 1, Int(Double(attempts.count) * 0.95))]).padding(toLength: 16, withPad: " ", startingAt: 0),
                String(format: "%4.2f", Self.mean(successes.map { Double($0.repairs) })).padding(toLength: 15, withPad: " ", startingAt: 0),
                String(format: "%5.0f / %4.0f", Self.mean(samples.map { Double($0.inputTokens) }), Self.mean(samples.map { Double($0.outputTokens) })).padding(toLength: 15, withPad: " ", startingAt: 0),
                String(format: "%5.1f / %5.1f s", GenerateBenchCommand.percentile(latencies, 0.5).inSeconds, GenerateBenchCommand.percentile(latencies, 0.95).inSeconds).padding(toLength: 17, withPad: " ", startingAt: 0),
                "\(samples.reduce(0) { $0 + $1.foreignCitations })",
            ]
            Self.emit("  " + columns.joined(separator: "  "))
        }
        // What the attempts that were not accepted as they came died of.
        for endpoint in endpoints {
            var counts: [String: Int] = [:]
            for outcome in (all[endpoint] ?? []).flatMap(\.outcomes) where outcome != "valid" { counts[outcome, default: 0] += 1 }
            var kinds: [String: Int] = [:]
            for kind in (all[endpoint] ?? []).flatMap(\.repairKinds) { kinds[kind, default: 0] += 1 }
            guard !counts.isEmpty else { continue }
            let repairs = kinds.isEmpty ? "" : "; repairs: " + kinds.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            Self.emit("  \(endpoint.rawValue) attempts not valid as given: " + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + repairs)
        }
    }

    /// One line on standard output, unbuffered: a run takes minutes per request, and its
    /// progress should show when the output goes to a file.
    static func emit(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }

    func post(_ endpoint: DomainEndpoint, frame: [String: Any], client: HTTPClient) async throws -> Sample {
        let request = try HTTPClientRequest.jsonPost("\(baseURL)/v1/generate/\(endpoint.rawValue)", token: token, body: frame)
        let started = ContinuousClock.now
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 1 << 22)
        let latency = ContinuousClock.now - started
        let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:]
        let log = object["attempt_log"] as? [[String: Any]] ?? []
        let usage = object["usage"] as? [String: Any] ?? [:]
        var sample = Sample(
            succeeded: response.status == .ok,
            attempts: log.count,
            repairs: log.reduce(0) { $0 + (($1["repairs"] as? [Any])?.count ?? 0) },
            inputTokens: usage["input_tokens"] as? Int ?? 0,
            outputTokens: usage["output_tokens"] as? Int ?? 0,
            latency: latency,
            foreignCitations: 0,
            outcomes: log.compactMap { $0["outcome"] as? String },
            failure: response.status == .ok ? nil : "\(response.status.code) \(object["code"] as? String ?? String(buffer: body).prefix(200).description)"
        )
        sample.repairKinds = log.flatMap { ($0["repairs"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String } }
        if sample.succeeded {
            let given = Set((object["knowledge_items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
            sample.foreignCitations = Self.citations(in: object["output"]).filter { !given.contains($0) }.count
        }
        return sample
    }

    /// Every id the output cites: `lore_refs` and each revealed fact's `lore_ref`.
    static func citations(in output: Any?) -> [String] {
        guard let output = output as? [String: Any] else { return [] }
        let refs = output["lore_refs"] as? [String] ?? []
        let facts = (output["revealed_facts"] as? [[String: Any]] ?? []).compactMap { $0["lore_ref"] as? String }
        return refs + facts
    }
}

/// Varied frames over the demo campaign: its places, NPCs and party, a different mix for each
/// request number.
enum DemoFrames {
    static let places = ["The Rusty Anchor", "Brindlewick harbour", "the drowned chapel", "the mud flats", "Saltmere"]
    static let npcs: [(id: String, name: String)] = [("npc.maren", "Sister Maren Holt"), ("npc.old-tom", "Old Tom Reeve"), ("npc.vessa-crane", "Vessa Crane"), ("npc.ilse-varrow", "Captain Ilse Varrow")]
    static var party: [[String: Any]] { [["id": "pc.kael", "name": "Kael", "class": "ranger"], ["id": "pc.ysolde", "name": "Ysolde", "class": "cleric"], ["id": "pc.brann", "name": "Brann", "class": "fighter"]] }
    static let intents = [
        "we enter the tavern and look for the smuggler",
        "we ask about the bell that rings under the water",
        "we search the shore for signs of the Gullcoin smugglers",
        "we follow the tide warden who watched us",
        "we look for a way into the flooded crypt",
    ]

    static func frame(_ endpoint: DomainEndpoint, _ index: Int) -> [String: Any] {
        let place = places[index % places.count]
        let npc = npcs[index % npcs.count]
        switch endpoint {
        case .scene:
            var frame: [String: Any] = ["campaign_id": "demo", "location": place, "intent": intents[index % intents.count], "party": party]
            if index % 2 == 0 { frame["npcs"] = [["id": npc.id, "name": npc.name]] }
            return frame
        case .combat:
            return [
                "campaign_id": "demo", "location": place, "round": 1 + index % 3,
                "combatants": [
                    ["id": "pc.kael", "name": "Kael", "side": "party", "hp": 24, "max_hp": 24, "ac": 15],
                    ["id": "pc.brann", "name": "Brann", "side": "party", "hp": 30, "max_hp": 31, "ac": 17],
                    ["id": "foe.smuggler\(index % 2 + 1)", "name": "Gullcoin smuggler", "side": "enemy", "hp": 11, "max_hp": 11, "ac": 12],
                ],
                "intent": ["Kael shoots the smuggler on the pier", "Brann charges the smuggler", "we try to disarm the smuggler"][index % 3],
            ]
        case .social:
            return [
                "campaign_id": "demo", "location": place, "npcs": [["id": npc.id, "name": npc.name]], "party": party,
                "approach": ["polite questions", "a bribe of five silver", "threats", "flattery"][index % 4],
                "goal": ["learn where the bell is", "find the smugglers' boat", "get into the chapel", "learn who pays the wardens"][index % 4],
                "intent": intents[index % intents.count],
            ]
        case .epilogue:
            return [
                "campaign_id": "demo", "session": 3 + index % 2, "location": place, "party": party,
                "key_events": [["the party found the drowned bell", "Old Tom was arrested by the tide wardens", "Vessa Crane escaped on a smuggler's boat"][index % 3], "the party rested at the Rusty Anchor"],
            ]
        }
    }
}
