import ArgumentParser
import Foundation
import RPGBotApp
import ServiceKit

/// `rpgbot bench party-sync`: real WebSocket clients against a running `rpgbot serve`.
struct PartySyncBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "party-sync",
        abstract: "Load a running server's Party Sync with real WebSocket clients.",
        discussion: """
            Connects campaigns × clients WebSocket clients, measures the server's memory per idle
            connection, then publishes at the given total rate for the given duration (spread over
            every client of every campaign) and checks that every client receives every event of its
            campaign exactly once and in order. Tokens are signed with the server's secret:
            RPGBOT_JWT_SECRET, or <data-dir>/jwt-secret. Server memory is read from /proc for
            --server-pid, else from /metrics when the server has metrics enabled.
            """
    )

    @Option(name: .customLong("url"), help: "Base URL of the server; repeat it for the nodes of one cluster (clients are spread over them, and cross-node latency is reported apart).")
    var urls: [String] = []

    @Option(help: "Campaigns to spread the clients over.")
    var campaigns: Int = 100

    @Option(help: "Clients per campaign.")
    var clients: Int = 10

    @Option(help: "Events published per second, in total.")
    var rate: Double = 2_000

    @Option(help: "Seconds of publishing.")
    var duration: Double = 60

    @Option(help: "Payload size in bytes.")
    var payloadBytes: Int = 100

    @Option(help: "The server's data folder, for its JWT secret.")
    var dataDir: String = "./data"

    @Option(name: .customLong("server-pid"), help: "The server's process id, to read its resident memory and its CPU time per delivery (Linux /proc); repeat it for every node.")
    var serverPids: [Int] = []

    func validate() throws {
        guard campaigns >= 1, clients >= 1 else { throw ValidationError("--campaigns and --clients must be at least 1.") }
        guard rate > 0, duration > 0 else { throw ValidationError("--rate and --duration must be positive.") }
        guard (10...60_000).contains(payloadBytes) else { throw ValidationError("--payload-bytes must be 10–60000.") }
        for url in urls where URL(string: url)?.host == nil {
            throw ValidationError("--url must be an http URL such as http://127.0.0.1:8080.")
        }
    }

    func run() async throws {
        let settings = try ConfigurationLoader(flags: ["data-dir": dataDir]).loadTokenSettings()
        let secret = try settings.jwtSecret ?? JWTSecret.loadOrCreate(in: settings.dataDirectory)
        let authority = await TokenAuthority(secret: secret)
        let benchmark = PartySyncBenchmark(
            baseURLs: urls.isEmpty ? ["http://127.0.0.1:8080"] : urls, campaigns: campaigns, clientsPerCampaign: clients, rate: rate,
            duration: .milliseconds(Int64(duration * 1000)), payloadBytes: payloadBytes, serverPIDs: serverPids, tokens: authority
        )
        let report = try await benchmark.run()
        print(report.text)
        if !report.passed {
            throw ExitCode(1)
        }
    }
}
