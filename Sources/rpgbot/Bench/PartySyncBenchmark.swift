import AsyncHTTPClient
import Foundation
import NIOPosix
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
    /// The servers: one, or several nodes of one cluster; client `i` connects to `i % count`,
    /// so each campaign's clients are spread over the nodes.
    let baseURLs: [String]
    let campaigns: Int
    let clientsPerCampaign: Int
    let rate: Double
    let duration: Duration
    let payloadBytes: Int
    /// The servers' process ids (CPU is summed; memory is the first one's).
    let serverPIDs: [Int]
    let tokens: TokenAuthority

    var baseURL: String { baseURLs[0] }
    var serverPID: Int? { serverPIDs.first }

    /// What one client saw.
    struct ClientTally: Sendable {
        var received = 0
        var lastOffset: Int64 = 0
        var gaps = 0
        var duplicates = 0
        var acks = 0
        var errors = 0
        var published = 0
        /// Publish→delivery of events published through the same node as the receiver.
        var latenciesMicroseconds: [Int64] = []
        /// … and through another node.
        var crossNodeLatenciesMicroseconds: [Int64] = []
        var closedEarly = false
    }

    final class Shared: Sendable {
        let connected = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        /// Running totals, to know when everything acknowledged has been delivered.
        let ackedTotal = Atomic<Int>(0)
        let receivedTotal = Atomic<Int>(0)
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
        var tokensByClient: [String] = []
        for index in 0..<total {
            tokensByClient.append(try await tokens.issue(subject: "bench-\(index % clientsPerCampaign)", campaign: "bench\(index / clientsPerCampaign)", role: .player, ttl: 3600))
        }
        let baselineMemory = try await serverResidentBytes()
        let perClientInterval = Double(total) / rate  // seconds between one client's publishes
        let padding = String(repeating: "x", count: max(0, payloadBytes - 40))
        // cmids are unique per sender for a day: a run id keeps repeated runs apart.
        let runID = String(UInt32.random(in: .min ... .max), radix: 36)

        let endpoints = try baseURLs.map(Self.endpoint)
        let interval = TimeAmount.nanoseconds(Int64(perClientInterval * 1e9))
        var channels: [any Channel] = []
        for index in 0..<total {
            let campaign = index / clientsPerCampaign
            let token = tokensByClient[index]
            let node = index % endpoints.count
            let endpoint = endpoints[node]
            do {
                let channel = try await Self.connect(host: endpoint.host, port: endpoint.port, path: "/ws/campaign/bench\(campaign)") { _ in
                    BenchWebSocketHandler(index: index, campaign: campaign, node: node, token: token, interval: interval, padding: padding, runID: runID, shared: shared)
                }
                channels.append(channel)
            } catch {
                shared.tallies.withLock { $0[index].closedEarly = true }
                shared.finished.add(1, ordering: .relaxed)
            }
        }
        let connectDeadline = ContinuousClock.now + .seconds(60)
        while shared.connected.load(ordering: .relaxed) < total, ContinuousClock.now < connectDeadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let connected = shared.connected.load(ordering: .relaxed)
        try await Task.sleep(for: .seconds(2))
        let idleMemory = try await serverResidentBytes()

        shared.phase.store(1, ordering: .relaxed)
        let cpuBefore = Self.totalCPU(serverPIDs)
        let start = ContinuousClock.now
        try await Task.sleep(for: duration)
        shared.phase.store(2, ordering: .relaxed)
        let publishElapsed = ContinuousClock.now - start
        // Drain: wait until every acknowledged event reached every client of its campaign (and
        // acknowledgements stopped coming), so a backlog is measured, not counted as lost.
        let drainDeadline = ContinuousClock.now + .seconds(60)
        var lastAcked = -1
        while ContinuousClock.now < drainDeadline {
            try await Task.sleep(for: .milliseconds(500))
            let acked = shared.ackedTotal.load(ordering: .relaxed)
            if acked == lastAcked, shared.receivedTotal.load(ordering: .relaxed) >= acked * clientsPerCampaign { break }
            lastAcked = acked
        }
        let loadedMemory = try await serverResidentBytes()
        let loadElapsed = ContinuousClock.now - start
        var serverCPU: Double?
        if let cpuBefore, let cpuAfter = Self.totalCPU(serverPIDs) { serverCPU = cpuAfter - cpuBefore }
        shared.phase.store(3, ordering: .relaxed)
        let closeDeadline = ContinuousClock.now + .seconds(30)
        while shared.finished.load(ordering: .relaxed) < total, ContinuousClock.now < closeDeadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        for channel in channels { channel.close(promise: nil) }

        return report(
            shared: shared, connected: connected, elapsed: publishElapsed,
            baselineMemory: baselineMemory, idleMemory: idleMemory, loadedMemory: loadedMemory,
            serverCPU: serverCPU.map { (seconds: $0, over: loadElapsed) }
        )
    }

    /// The CPU seconds of all `pids` together; nil when there are none or one cannot be read.
    static func totalCPU(_ pids: [Int]) -> Double? {
        guard !pids.isEmpty else { return nil }
        var total = 0.0
        for pid in pids {
            guard let seconds = ProcessCPU.seconds(pid: pid) else { return nil }
            total += seconds
        }
        return total
    }

    static func endpoint(_ baseURL: String) throws -> (host: String, port: Int) {
        guard let url = URL(string: baseURL), let host = url.host else { throw BenchError("bad URL \(baseURL)") }
        return (host, url.port ?? 80)
    }

    /// Opens a WebSocket connection with a plain NIO pipeline ending in the handler made by
    /// `makeHandler` (on the connection's event loop).
    static func connect(host: String, port: Int, path: String, makeHandler: @escaping @Sendable (any Channel) -> BenchWebSocketHandler) async throws -> any Channel {
        let upgraded = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOTypedWebSocketClientUpgrader<Bool>(maxFrameSize: 1 << 20) { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(makeHandler(channel))
                            return true
                        }
                    }
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: "\(host):\(port)")
                    headers.add(name: "Content-Length", value: "0")
                    let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<Bool>(
                        upgradeRequestHead: head, upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(false) }
                    )
                    let result = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration)
                    )
                    return result.map { upgraded in (channel, upgraded) }
                }
            }
        let (channel, ok) = try await upgraded.get()
        guard ok else { throw BenchError("the server refused the WebSocket upgrade for \(path)") }
        return channel
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

    /// - Parameter serverCPU: the server's CPU seconds from the start of publishing until every
    ///   delivery arrived, and that wall time (with `--server-pid`).
    func report(shared: Shared, connected: Int, elapsed: Duration, baselineMemory: Int?, idleMemory: Int?, loadedMemory: Int?, serverCPU: (seconds: Double, over: Duration)? = nil) -> Report {
        let tallies = shared.tallies.withLock { $0 }
        let acked = shared.acked.withLock { $0 }
        let seconds = elapsed.inSeconds
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
        let sameNode = tallies.flatMap(\.latenciesMicroseconds).sorted()
        let crossNode = tallies.flatMap(\.crossNodeLatenciesMicroseconds).sorted()
        let latencies = (sameNode + crossNode).sorted()
        func percentile(_ p: Double, of latencies: [Int64]) -> String {
            guard !latencies.isEmpty else { return "n/a" }
            let value = latencies[min(latencies.count - 1, Int(Double(latencies.count - 1) * p))]
            return String(format: "%.2f ms", Double(value) / 1000)
        }
        func percentile(_ p: Double) -> String { percentile(p, of: latencies) }
        func megabytes(_ bytes: Int?) -> String { bytes.map { String(format: "%.1f MiB", Double($0) / 1_048_576) } ?? "n/a" }
        var perConnection = "n/a"
        if let baselineMemory, let idleMemory, connected > 0 {
            perConnection = String(format: "%.1f KiB", Double(idleMemory - baselineMemory) / 1024 / Double(connected))
        }
        var cpu = "n/a (give --server-pid)"
        if let serverCPU, received > 0 {
            cpu = String(
                format: "%.2f s over %.1f s (%.0f%% of a core) = %.3f s per 1,000 deliveries",
                serverCPU.seconds, serverCPU.over.inSeconds, 100 * serverCPU.seconds / serverCPU.over.inSeconds, serverCPU.seconds / Double(received) * 1000
            )
        }
        let passed = gaps == 0 && duplicates == 0 && missing == 0 && errors == 0 && disconnects == 0 && received > 0
            && connected == campaigns * clientsPerCampaign
        var lines = [
            "party-sync benchmark against \(baseURLs.joined(separator: ", "))",
            "  clients:                \(connected) connected of \(campaigns * clientsPerCampaign) (\(campaigns) campaigns × \(clientsPerCampaign))",
            String(format: "  publishing:             %.1f s at %.0f events/s requested", seconds, rate),
            String(format: "  events published:       %d sent, %d acked (%.0f/s)", published, acked.reduce(0, +), Double(acked.reduce(0, +)) / seconds),
            String(format: "  deliveries:             %d (%.0f/s)", received, Double(received) / seconds),
            "  publish→delivery:       p50 \(percentile(0.50)), p99 \(percentile(0.99)), max \(percentile(1.0))",
            "  server CPU:             \(cpu)",
            "  lost / duplicated / out of order: \(missing) / \(duplicates) / \(gaps)",
            "  error frames:           \(errors)",
            "  early disconnects:      \(disconnects)",
            "  server memory:          \(megabytes(baselineMemory)) before, \(megabytes(idleMemory)) with idle clients, \(megabytes(loadedMemory)) after load",
            "  memory per idle client: \(perConnection)",
            "  result:                 \(passed ? "PASS (no lost or duplicated event)" : "FAIL")",
        ]
        if baseURLs.count > 1 {
            lines.insert(contentsOf: [
                "    same node:            p50 \(percentile(0.50, of: sameNode)), p99 \(percentile(0.99, of: sameNode)) (\(sameNode.count) deliveries)",
                "    cross node:           p50 \(percentile(0.50, of: crossNode)), p99 \(percentile(0.99, of: crossNode)) (\(crossNode.count) deliveries)",
            ], at: 6)
        }
        return Report(text: lines.joined(separator: "\n"), passed: passed)
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
