import AsyncHTTPClient
import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import ServiceKit
import Synchronization

/// The Party Sync load generator: real WebSocket clients, each checking that it receives its
/// campaign's events exactly once and in order, and measuring publish→delivery latency from
/// a send timestamp carried in each payload.
struct PartySyncBenchmark: Sendable {
    let baseURL: String
    let campaigns: Int
    let clientsPerCampaign: Int
    let rate: Double
    let duration: Duration
    let payloadBytes: Int
    let serverPID: Int?
    let tokens: TokenAuthority

    /// What one client saw.
    struct ClientTally: Sendable {
        var received = 0
        var lastOffset: Int64 = 0
        var gaps = 0
        var duplicates = 0
        var acks = 0
        var errors = 0
        var published = 0
        var latenciesMicroseconds: [Int64] = []
        var closedEarly = false
    }

    final class Shared: Sendable {
        let connected = Atomic<Int>(0)
        let phase = Atomic<Int>(0)  // 0 connect, 1 publish, 2 drain, 3 stop
        let tallies = Mutex<[ClientTally]>([])
        let acked = Mutex<[Int]>([])  // per campaign
    }

    struct Report {
        let text: String
        let passed: Bool
    }

    func run() async throws -> Report {
        let total = campaigns * clientsPerCampaign
        let shared = Shared()
        shared.tallies.withLock { $0 = Array(repeating: ClientTally(), count: total) }
        shared.acked.withLock { $0 = Array(repeating: 0, count: campaigns) }
        let webSocketBase = baseURL.replacingOccurrences(of: "http://", with: "ws://").replacingOccurrences(of: "https://", with: "wss://")
        var tokensByClient: [String] = []
        for index in 0..<total {
            tokensByClient.append(try await tokens.issue(subject: "bench-\(index % clientsPerCampaign)", campaign: "bench\(index / clientsPerCampaign)", role: .player, ttl: 3600))
        }
        let baselineMemory = try await serverResidentBytes()
        let perClientInterval = Double(total) / rate  // seconds between one client's publishes
        let padding = String(repeating: "x", count: max(0, payloadBytes - 40))
        // cmids are unique per sender for a day: a run id keeps repeated runs apart.
        let runID = String(UInt32.random(in: .min ... .max), radix: 36)
        var quietLogger = Logger(label: "bench")
        quietLogger.logLevel = .critical
        let logger = quietLogger

        return try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<total {
                let campaign = index / clientsPerCampaign
                let url = "\(webSocketBase)/ws/campaign/bench\(campaign)"
                let token = tokensByClient[index]
                group.addTask {
                    await Self.runClient(
                        index: index, campaign: campaign, url: url, token: token, interval: perClientInterval,
                        padding: padding, runID: runID, shared: shared, logger: logger
                    )
                }
                // Stagger connects a little so the server's accept queue is not flooded.
                if index % 50 == 49 { try await Task.sleep(for: .milliseconds(20)) }
            }
            let connectDeadline = ContinuousClock.now + .seconds(60)
            while shared.connected.load(ordering: .relaxed) < total, ContinuousClock.now < connectDeadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            let connected = shared.connected.load(ordering: .relaxed)
            try await Task.sleep(for: .seconds(2))
            let idleMemory = try await serverResidentBytes()

            shared.phase.store(1, ordering: .relaxed)
            let start = ContinuousClock.now
            try await Task.sleep(for: duration)
            shared.phase.store(2, ordering: .relaxed)
            let publishElapsed = ContinuousClock.now - start
            try await Task.sleep(for: .seconds(3))
            let loadedMemory = try await serverResidentBytes()
            shared.phase.store(3, ordering: .relaxed)
            try await group.waitForAll()

            return report(
                shared: shared, connected: connected, elapsed: publishElapsed,
                baselineMemory: baselineMemory, idleMemory: idleMemory, loadedMemory: loadedMemory
            )
        }
    }

    static func runClient(index: Int, campaign: Int, url: String, token: String, interval: Double, padding: String, runID: String, shared: Shared, logger: Logger) async {
        do {
            try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 20, autoPing: .disabled), logger: logger) { inbound, outbound, _ in
                var tally = ClientTally()
                defer {
                    let final = tally
                    shared.tallies.withLock { $0[index] = final }
                    shared.acked.withLock { $0[campaign] += final.acks }
                }
                try await outbound.write(.text(#"{"t":"hello","v":1,"token":"\#(token)"}"#))
                var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
                guard let first = try await messages.next(), case .text(let welcome) = first, welcome.contains(#""t":"welcome""#) else {
                    tally.errors += 1
                    return
                }
                shared.connected.add(1, ordering: .relaxed)
                try await withThrowingTaskGroup(of: Int.self) { group in
                    // The publisher: one publish every `interval`, with a random start phase.
                    group.addTask {
                        var published = 0
                        var next = ContinuousClock.now + .milliseconds(Int64(Double.random(in: 0..<interval) * 1000))
                        while shared.phase.load(ordering: .relaxed) < 1 { try await Task.sleep(for: .milliseconds(100)) }
                        next = max(next, ContinuousClock.now)
                        while shared.phase.load(ordering: .relaxed) == 1 {
                            try await Task.sleep(until: next, clock: .continuous)
                            next = next + .microseconds(Int64(interval * 1_000_000))
                            published += 1
                            let sent = Int64(Date().timeIntervalSince1970 * 1_000_000)
                            try await outbound.write(.text(#"{"t":"publish","cmid":"\#(runID)-\#(index)-\#(published)","type":"bench.tick","payload":{"p":"\#(padding)","s":\#(sent)}}"#))
                        }
                        while shared.phase.load(ordering: .relaxed) < 3 { try await Task.sleep(for: .milliseconds(200)) }
                        try await outbound.close(.normalClosure, reason: nil)
                        return published
                    }
                    while let message = try await messages.next() {
                        guard case .text(let text) = message else { continue }
                        if text.hasPrefix(#"{"t":"event""#) {
                            let received = Int64(Date().timeIntervalSince1970 * 1_000_000)
                            let offset = Self.integer(after: #""offset":"#, in: text) ?? -1
                            if tally.lastOffset > 0 {
                                if offset <= tally.lastOffset { tally.duplicates += 1 } else if offset != tally.lastOffset + 1 { tally.gaps += 1 }
                            }
                            tally.lastOffset = max(tally.lastOffset, offset)
                            tally.received += 1
                            if let sent = Self.integer(after: #""s":"#, in: text) {
                                tally.latenciesMicroseconds.append(received - sent)
                            }
                        } else if text.hasPrefix(#"{"t":"ack""#) {
                            tally.acks += 1
                        } else if text.hasPrefix(#"{"t":"ping""#) {
                            try await outbound.write(.text(#"{"t":"pong"}"#))
                        } else if text.hasPrefix(#"{"t":"error""#) {
                            tally.errors += 1
                        }
                    }
                    if shared.phase.load(ordering: .relaxed) < 3 { tally.closedEarly = true }
                    group.cancelAll()
                    for try await published in group { tally.published = published }
                }
            }
        } catch {
            if shared.phase.load(ordering: .relaxed) < 3 {
                shared.tallies.withLock { $0[index].closedEarly = true }
            }
        }
    }

    /// Reads the integer after `marker` in `text` without parsing the JSON: the generator
    /// must stay cheap, or its own CPU use would show up as latency.
    static func integer(after marker: String, in text: String) -> Int64? {
        var text = text
        return text.withUTF8 { bytes -> Int64? in
            let pattern = Array(marker.utf8)
            guard bytes.count >= pattern.count else { return nil }
            var index = 0
            let last = bytes.count - pattern.count
            while index <= last {
                if bytes[index] == pattern[0] {
                    var matched = true
                    for offset in 1..<pattern.count where bytes[index + offset] != pattern[offset] {
                        matched = false
                        break
                    }
                    if matched {
                        var position = index + pattern.count
                        var value: Int64 = 0
                        var found = false
                        while position < bytes.count, bytes[position] >= 48, bytes[position] <= 57 {
                            value = value * 10 + Int64(bytes[position] - 48)
                            position += 1
                            found = true
                        }
                        return found ? value : nil
                    }
                }
                index += 1
            }
            return nil
        }
    }

    func serverResidentBytes() async throws -> Int? {
        if let serverPID, let status = try? String(contentsOfFile: "/proc/\(serverPID)/status", encoding: .utf8) {
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
                return kilobytes * 1024
            }
        }
        let request = HTTPClientRequest(url: "\(baseURL)/metrics")
        guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(5)), response.status == .ok else { return nil }
        let body = String(buffer: try await response.body.collect(upTo: 8 << 20))
        for line in body.split(separator: "\n") where line.hasPrefix("process_resident_memory_bytes ") {
            return Double(line.split(separator: " ").last ?? "").map { Int($0) }
        }
        return nil
    }

    func report(shared: Shared, connected: Int, elapsed: Duration, baselineMemory: Int?, idleMemory: Int?, loadedMemory: Int?) -> Report {
        let tallies = shared.tallies.withLock { $0 }
        let acked = shared.acked.withLock { $0 }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let published = tallies.reduce(0) { $0 + $1.published }
        let received = tallies.reduce(0) { $0 + $1.received }
        let gaps = tallies.reduce(0) { $0 + $1.gaps }
        let duplicates = tallies.reduce(0) { $0 + $1.duplicates }
        let errors = tallies.reduce(0) { $0 + $1.errors }
        let disconnects = tallies.filter(\.closedEarly).count
        // Every client should have received every acknowledged event of its campaign.
        var missing = 0
        for (index, tally) in tallies.enumerated() {
            missing += max(0, acked[index / clientsPerCampaign] - tally.received)
        }
        var latencies = tallies.flatMap(\.latenciesMicroseconds)
        latencies.sort()
        func percentile(_ p: Double) -> String {
            guard !latencies.isEmpty else { return "n/a" }
            let value = latencies[min(latencies.count - 1, Int(Double(latencies.count - 1) * p))]
            return String(format: "%.2f ms", Double(value) / 1000)
        }
        func megabytes(_ bytes: Int?) -> String { bytes.map { String(format: "%.1f MiB", Double($0) / 1_048_576) } ?? "n/a" }
        var perConnection = "n/a"
        if let baselineMemory, let idleMemory, connected > 0 {
            perConnection = String(format: "%.1f KiB", Double(idleMemory - baselineMemory) / 1024 / Double(connected))
        }
        let passed = gaps == 0 && duplicates == 0 && missing == 0 && errors == 0 && disconnects == 0 && received > 0
            && connected == campaigns * clientsPerCampaign
        let lines = [
            "party-sync benchmark against \(baseURL)",
            "  clients:                \(connected) connected of \(campaigns * clientsPerCampaign) (\(campaigns) campaigns × \(clientsPerCampaign))",
            String(format: "  publishing:             %.1f s at %.0f events/s requested", seconds, rate),
            String(format: "  events published:       %d sent, %d acked (%.0f/s)", published, acked.reduce(0, +), Double(acked.reduce(0, +)) / seconds),
            String(format: "  deliveries:             %d (%.0f/s)", received, Double(received) / seconds),
            "  publish→delivery:       p50 \(percentile(0.50)), p99 \(percentile(0.99)), max \(percentile(1.0))",
            "  lost / duplicated / out of order: \(missing) / \(duplicates) / \(gaps)",
            "  error frames:           \(errors)",
            "  early disconnects:      \(disconnects)",
            "  server memory:          \(megabytes(baselineMemory)) before, \(megabytes(idleMemory)) with idle clients, \(megabytes(loadedMemory)) after load",
            "  memory per idle client: \(perConnection)",
            "  result:                 \(passed ? "PASS (no lost or duplicated event)" : "FAIL")",
        ]
        return Report(text: lines.joined(separator: "\n"), passed: passed)
    }
}
