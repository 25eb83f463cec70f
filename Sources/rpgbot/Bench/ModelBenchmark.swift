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
        var failure: String?
    }

    func run() async throws {
        var all: [DomainEndpoint: [Sample]] = [:]
        for endpoint in endpoints {
            var samples: [Sample] = []
            for index in 0..<requests {
                let sample = try await post(endpoint, frame: DemoFrames.frame(endpoint, index))
                let outcome = sample.succeeded ? "ok" : "failed (\(sample.failure ?? "?"))"
                print(String(format: "  %@ #%d: %@ in %.1f s, attempts %@", endpoint.rawValue, index + 1, outcome, sample.latency.inSeconds, sample.outcomes.joined(separator: ",")))
                samples.append(sample)
            }
            all[endpoint] = samples
        }
        print("")
        print("  endpoint   success  1st-attempt  attempts/success (mean, p95)  repairs/success  tokens in/out per request  latency p50/p95 s  foreign citations")
        for endpoint in endpoints {
            let samples = all[endpoint] ?? []
            let successes = samples.filter(\.succeeded)
            let first = successes.filter { $0.attempts == 1 }
            let attempts = successes.map { Double($0.attempts) }.sorted()
            let latencies = samples.map(\.latency)
            func share(_ part: Int) -> String { String(format: "%d/%d %3.0f%%", part, samples.count, samples.isEmpty ? 0 : Double(part) / Double(samples.count) * 100) }
            print(String(format: "  %-9@  %@  %@  %4.2f, %4.0f                    %4.2f             %6.0f / %5.0f            %5.1f / %5.1f        %d",
                         endpoint.rawValue, share(successes.count), share(first.count),
                         Self.mean(attempts), attempts.isEmpty ? 0 : attempts[min(attempts.count - 1, Int(Double(attempts.count) * 0.95))],
                         Self.mean(successes.map { Double($0.repairs) }),
                         Self.mean(samples.map { Double($0.inputTokens) }), Self.mean(samples.map { Double($0.outputTokens) }),
                         GenerateBenchCommand.percentile(latencies, 0.5).inSeconds, GenerateBenchCommand.percentile(latencies, 0.95).inSeconds,
                         samples.reduce(0) { $0 + $1.foreignCitations }))
        }
    }

    static func mean(_ values: [Double]) -> Double {
        values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count)
    }

    func post(_ endpoint: DomainEndpoint, frame: [String: Any]) async throws -> Sample {
        var request = HTTPClientRequest(url: "\(baseURL)/v1/generate/\(endpoint.rawValue)")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: frame)))
        let started = ContinuousClock.now
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
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
