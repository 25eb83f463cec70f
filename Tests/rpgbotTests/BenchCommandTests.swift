import Foundation
import Persistence
import TestSupport
import Testing

@Suite struct BenchCommandTests {
    /// The load generator runs end to end against a real server and verifies what it received.
    @Test func partySyncBenchPassesOnASmallLoad() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path])
            let port = try await server.waitUntilListening()
            let bench = try await ChildProcess.runRPGBot([
                "bench", "party-sync", "--url", "http://127.0.0.1:\(port)", "--campaigns", "2", "--clients", "3",
                "--rate", "30", "--duration", "1", "--data-dir", directory.path,
                "--server-pid", String(server.processIdentifier),
            ], timeout: .seconds(120))
            #expect(bench.status == 0, "bench output: \(bench.stdout) \(bench.stderr)")
            #expect(bench.stdout.contains("6 connected of 6"))
            #expect(bench.stdout.contains("lost / duplicated / out of order: 0 / 0 / 0"))
            #expect(bench.stdout.contains("PASS"))
            #expect(bench.stdout.contains("memory per idle client:"))
            // The server's CPU per delivery, read from /proc for the given pid.
            #expect(bench.stdout.contains("s per 1,000 deliveries"), "\(bench.stdout)")
            #expect(try await server.stop() == 0)
        }
    }

    /// Two nodes of one cluster: clients are spread over both, and deliveries published
    /// through the other node are reported apart.
    @Test(.enabled(if: ClusterDeploymentTests.enabled || PostgresTestServer.isConfigured, "needs the test PostgreSQL"))
    func partySyncBenchSpreadsClientsOverNodes() async throws {
        guard case .postgres(let location) = try await PostgresTestServer.makeDatabase(prefix: "bench") else { return }
        let environment = [
            "RPGBOT_DATABASE_URL": "postgres://\(location.username)@\(location.host):\(location.port)/\(location.database)?sslmode=disable",
            "RPGBOT_JWT_SECRET": ClusterDeploymentTests.secret,
        ]
        try await withTemporaryDirectory { directory in
            var nodes: [ChildProcess] = []
            var ports: [Int] = []
            for index in 0..<2 {
                let node = try await ChildProcess.rpgbot(
                    ["serve", "--port", "0", "--data-dir", directory.url.appendingPathComponent("n\(index)").path, "--services", "party-sync"], environment: environment)
                ports.append(try await node.waitUntilListening())
                nodes.append(node)
            }
            let bench = try await ChildProcess.runRPGBot(
                ["bench", "party-sync", "--campaigns", "2", "--clients", "4", "--rate", "40", "--duration", "2"]
                    + ports.flatMap { ["--url", "http://127.0.0.1:\($0)"] } + nodes.flatMap { ["--server-pid", String($0.processIdentifier)] },
                environment: environment, timeout: .seconds(120))
            #expect(bench.status == 0, "bench output: \(bench.stdout) \(bench.stderr)")
            #expect(bench.stdout.contains("8 connected of 8") && bench.stdout.contains("lost / duplicated / out of order: 0 / 0 / 0"))
            let cross = try #require(bench.stdout.split(separator: "\n").first { $0.contains("cross node:") }, "\(bench.stdout)")
            #expect(!cross.contains("(0 deliveries)") && !cross.contains("n/a"), "\(cross)")
            for node in nodes { #expect(try await node.stop() == 0) }
        }
    }

    @Test func partySyncBenchRefusesBadOptions() async throws {
        let result = try await ChildProcess.runRPGBot(["bench", "party-sync", "--campaigns", "0"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--campaigns"))
    }
}
