import Foundation
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

    @Test func partySyncBenchRefusesBadOptions() async throws {
        let result = try await ChildProcess.runRPGBot(["bench", "party-sync", "--campaigns", "0"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("--campaigns"))
    }
}
