import Foundation
import NIOHTTP1
import NIOCore
import AsyncHTTPClient
import Gateway
import Logging
import Memory37
import Observability
import PartySync
import Persistence
import PostgresNIO
import RPGBotApp
import ServiceKit
import Synchronization
import TestSupport
import Testing

/// Several servers on one PostgreSQL database, in this process, each on its own port: one
/// cluster, as several `rpgbot serve` processes on one database are.
struct Cluster: Sendable {
    let nodes: [LiveServer]
    let databaseURL: DatabaseURL

    static let secret = Array("a secret every node of the cluster shares".utf8)
    static let databaseAvailable = PostgresTestServer.isConfigured || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"

    typealias Configure = @Sendable (_ node: Int, inout RPGBotConfiguration) -> Void

    /// - Parameter configure: changes each node's configuration (Party Sync alone by default);
    ///   nodes start one after the other, node 0 first.
    static func run<T: Sendable>(
        nodes count: Int, settings: PartySyncSettings = PartySyncSettings(), configure: @escaping Configure = { _, _ in },
        _ body: @Sendable (Cluster) async throws -> T
    ) async throws -> T {
        let url = try await PostgresTestServer.makeDatabase(prefix: "cluster")
        return try await start(count, url: url, settings: settings, configure: configure, started: []) { nodes in
            try await body(Cluster(nodes: nodes, databaseURL: url))
        }
    }

    private static func start<T: Sendable>(
        _ remaining: Int, url: DatabaseURL, settings: PartySyncSettings, configure: @escaping Configure, started: [LiveServer],
        _ body: @Sendable ([LiveServer]) async throws -> T
    ) async throws -> T {
        guard remaining > 0 else { return try await body(started) }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var configuration = RPGBotConfiguration(port: 0, dataDirectory: directory.url, databaseURL: url, jwtSecret: secret)
        configuration.partySync = settings
        configuration.services = ["party-sync"]
        configuration.observability.logLevel = .error
        configure(started.count, &configuration)
        let telemetry = try Observability.bootstrap(service: "rpgbot-node\(started.count)", settings: configuration.observability, installGlobally: false)
        let server = try await RPGBotServer.prepare(configuration: configuration, telemetry: telemetry)
        return try await withRunningServer(logger: testLogger, { server.makeApplication(onServerRunning: $0) }) { port, shutdown in
            try await start(
                remaining - 1, url: url, settings: settings, configure: configure,
                started: started + [LiveServer(port: port, server: server, shutdown: shutdown)], body)
        }
    }
}

@Suite(.serialized, .enabled(if: Cluster.databaseAvailable, "needs the test PostgreSQL"))
struct ClusterTests {
    /// Waits until every node listens for the others' commits.
    static func waitUntilListening(_ cluster: Cluster) async throws {
        for node in cluster.nodes {
            for _ in 0..<200 where node.server.partySync?.cluster?.delivery != .listening {
                try await Task.sleep(for: .milliseconds(25))
            }
            #expect(node.server.partySync?.cluster?.delivery == .listening)
        }
    }

    @Test func anEventPublishedOnOneNodeReachesTheOthersInOrder() async throws {
        try await Cluster.run(nodes: 3) { cluster in
            try await Self.waitUntilListening(cluster)
            let (a, b, c) = (cluster.nodes[0], cluster.nodes[1], cluster.nodes[2])
            let (publisher, _) = try await a.join("gm", role: .gm)
            let (onB, _) = try await b.join("ann")
            let (onC, _) = try await c.join("bo")
            for index in 1...30 {
                publisher.send(json: ["t": "publish", "cmid": "m\(index)", "type": "tick", "payload": ["n": index]])
            }
            for client in [onB, onC] {
                let events = try await collectEvents(client, count: 30)
                #expect(offsets(events) == Array(1...30))
                #expect(events.map { ($0["payload"] as? [String: Any])?["n"] as? Int } == Array(1...30))
            }
        }
    }

    @Test func publishersOnEveryNodeGiveEveryClientOneSequence() async throws {
        try await Cluster.run(nodes: 3) { cluster in
            try await Self.waitUntilListening(cluster)
            var subscribers: [WebSocketTestClient] = []
            for (index, node) in cluster.nodes.enumerated() {
                subscribers.append(try await node.join("reader\(index)").0)
            }
            let perPublisher = 15
            try await withThrowingTaskGroup(of: Void.self) { group in
                for publisher in 0..<20 {
                    let node = cluster.nodes[publisher % cluster.nodes.count]
                    group.addTask {
                        let (client, _) = try await node.join("p\(publisher)")
                        for index in 0..<perPublisher {
                            client.send(json: ["t": "publish", "cmid": "c\(index)", "type": "tick", "payload": ["p": publisher, "i": index]])
                            _ = try await client.next("ack")
                        }
                        client.close()
                    }
                }
                try await group.waitForAll()
            }
            let total = 20 * perPublisher
            var sequences: [[String]] = []
            for subscriber in subscribers {
                let events = try await collectEvents(subscriber, count: total)
                #expect(offsets(events) == (1...Int64(total)).map { $0 })
                sequences.append(events.map { $0["id"] as? String ?? "" })
            }
            #expect(Set(sequences.map { $0.joined(separator: ",") }).count == 1)
        }
    }

    /// The LISTEN connection is terminated by the database while events are being published:
    /// the node polls until it listens again, then catches up; nothing is missing.
    @Test func aLostListenerLosesNoEvent() async throws {
        try await Cluster.run(nodes: 2, settings: LiveServer.settings {
            $0.clusterPollInterval = .milliseconds(200)
            $0.connectionRate = 10_000
            $0.connectionBurst = 10_000
        }) { cluster in
            try await Self.waitUntilListening(cluster)
            let (a, b) = (cluster.nodes[0], cluster.nodes[1])
            let (publisher, _) = try await a.join("gm", role: .gm)
            let (reader, _) = try await b.join("ann")
            let total = 200
            let terminated = try await withThrowingTaskGroup(of: Int.self) { group in
                group.addTask {
                    for index in 1...total {
                        publisher.send(json: ["t": "publish", "cmid": "m\(index)", "type": "tick", "payload": ["n": index]])
                        _ = try await publisher.next("ack")
                    }
                    return 0
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(150))
                    return try await PostgresTestServer.withClient(cluster.databaseURL) { client in
                        var killed = 0
                        let rows = try await client.query(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
                            logger: testLogger)
                        for try await ok in rows.decode(Bool.self) where ok { killed += 1 }
                        return killed
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(terminated >= 2, "both nodes' listeners")
            let events = try await collectEvents(reader, count: total, timeout: .seconds(30))
            #expect(offsets(events) == (1...Int64(total)).map { $0 })
            // And they listen again.
            try await Self.waitUntilListening(cluster)
        }
    }

    /// A `cmid` repeated on another node is the same event; a REST publish on one node reaches
    /// the WebSocket clients of another (as media updates and generated broadcasts do).
    @Test func aRepeatedCmidOnAnotherNodeIsTheOriginal() async throws {
        try await Cluster.run(nodes: 2) { cluster in
            try await Self.waitUntilListening(cluster)
            let (a, b) = (cluster.nodes[0], cluster.nodes[1])
            let (onA, _) = try await a.join("ann")
            onA.send(json: ["t": "publish", "cmid": "once", "type": "chat.say", "payload": ["text": "hello"]])
            let first = try await onA.next("ack")
            onA.close()
            let (onB, _) = try await b.join("ann")
            onB.send(json: ["t": "publish", "cmid": "once", "type": "chat.say", "payload": ["text": "hello"]])
            let again = try await onB.next("ack")
            #expect(again["duplicate"] as? Bool == true)
            #expect(again.int64("offset") == first.int64("offset") && again["id"] as? String == first["id"] as? String)

            let gm = try await b.token("gm", role: .gm)
            let (watcher, _) = try await a.join("watcher")
            let published = try await b.restPublish(type: "gm.note", payload: ["text": "from node b"], key: "k1", token: gm)
            #expect(published.status == 201)
            let repeated = try await a.restPublish(type: "gm.note", payload: ["text": "from node b"], key: "k1", token: gm)
            #expect(repeated.status == 201 && repeated.body == published.body)
            let event = try await watcher.next("event")
            #expect(event["type"] as? String == "gm.note" && event.int64("offset") == 2)
        }
    }

    /// A node shuts down: its clients are told to reconnect, and resume exactly on another.
    @Test func clientsOfAStoppedNodeResumeOnAnother() async throws {
        try await Cluster.run(nodes: 2) { cluster in
            try await Self.waitUntilListening(cluster)
            let (a, b) = (cluster.nodes[0], cluster.nodes[1])
            let (publisher, _) = try await a.join("gm", role: .gm)
            let (reader, welcome) = try await b.join("ann")
            let epoch = try #require(welcome["epoch"] as? String)
            for index in 1...10 {
                publisher.send(json: ["t": "publish", "cmid": "m\(index)", "type": "tick", "payload": ["n": index]])
                _ = try await publisher.next("ack")
            }
            let seen = try await collectEvents(reader, count: 10)
            await b.shutdown()
            let closed = try await reader.waitUntilClosed()
            #expect(closed.code == 4000)
            for index in 11...20 {
                publisher.send(json: ["t": "publish", "cmid": "m\(index)", "type": "tick", "payload": ["n": index]])
                _ = try await publisher.next("ack")
            }
            let (resumed, again) = try await a.join("ann", since: (epoch, try #require(seen.last?.int64("offset"))))
            #expect(again["recovered"] as? Bool == true && again["replayed"] as? Int == 10)
            let replay = try await collectEvents(resumed, count: 10)
            #expect(offsets(replay) == Array(11...20))
        }
    }

    static let presenceSettings = LiveServer.settings {
        $0.presenceGrace = .seconds(1)
        $0.clusterHeartbeatTimeout = .seconds(3)
    }

    /// Reads presence frames until `predicate` holds for the members seen.
    static func presence(_ client: WebSocketTestClient, start: [String: Any], until predicate: ([String: [String: Any]]) -> Bool) async throws -> [String: [String: Any]] {
        var members = (start["presence"] as? [String: Any])?["members"] as? [String: [String: Any]] ?? [:]
        let deadline = ContinuousClock.now + .seconds(20)
        while !predicate(members) {
            guard ContinuousClock.now < deadline else { throw TestSetupError("presence never matched: \(members)") }
            guard let frame = try await client.next(timeout: deadline - ContinuousClock.now) else { throw TestSetupError("closed") }
            guard frame["t"] as? String == "presence_diff" else { continue }
            for user in (frame["leaves"] as? [String: Any] ?? [:]).keys { members.removeValue(forKey: user) }
            for (user, member) in frame["joins"] as? [String: [String: Any]] ?? [:] { members[user] = member }
        }
        return members
    }

    /// A member on two nodes is one member with two connections, and leaves once, after the
    /// grace period, when both are closed.
    @Test func presenceSpansTheNodes() async throws {
        try await Cluster.run(nodes: 2, settings: Self.presenceSettings) { cluster in
            try await Self.waitUntilListening(cluster)
            let (a, b) = (cluster.nodes[0], cluster.nodes[1])
            let (watcher, welcome) = try await a.join("watcher")
            let (annOnB, _) = try await b.join("ann")
            _ = try await Self.presence(watcher, start: welcome) { $0["ann"] != nil }
            let (annOnA, _) = try await a.join("ann")
            // A newcomer on either node sees ann once, with both connections (once the other
            // node's join has been read: connection changes of a present member are not diffs).
            for node in [a, b] {
                var members: [String: [String: Any]] = [:]
                for _ in 0..<50 {
                    let (late, lateWelcome) = try await node.join("late")
                    late.close()
                    members = (lateWelcome["presence"] as? [String: Any])?["members"] as? [String: [String: Any]] ?? [:]
                    if (members["ann"]?["conns"] as? [String])?.count == 2 { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect((members["ann"]?["conns"] as? [String])?.count == 2, "\(members)")
                #expect(Set(members.keys).isSuperset(of: ["watcher", "ann", "late"]))
            }
            // A state set on node b reaches node a.
            annOnB.send(json: ["t": "presence_set", "state": ["status": "typing"]])
            _ = try await Self.presence(watcher, start: welcome) { ($0["ann"]?["state"] as? [String: Any])?["status"] as? String == "typing" }
            annOnA.close()
            annOnB.close()
            let members = try await Self.presence(watcher, start: ["presence": ["members": ["ann": [:]]]]) { $0["ann"] == nil }
            #expect(members["ann"] == nil)
        }
    }

    /// A node that stops beating (it died: its rows are left behind) loses its members after
    /// the heartbeat timeout and the grace period.
    @Test func aDeadNodesMembersLeave() async throws {
        try await Cluster.run(nodes: 1, settings: Self.presenceSettings) { cluster in
            try await Self.waitUntilListening(cluster)
            let (watcher, welcome) = try await cluster.nodes[0].join("watcher")
            // The dead node's last heartbeat is now.
            let started = ContinuousClock.now
            try await PostgresTestServer.withClient(cluster.databaseURL) { client in
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                try await client.query("INSERT INTO party_nodes (node_id, heartbeat_at) VALUES ('n_dead', \(now))", logger: testLogger)
                try await client.query(
                    "INSERT INTO party_presence (campaign_id, connection_id, node_id, user_id, role) VALUES ('demo', 'c_dead', 'n_dead', 'zed', 'player')",
                    logger: testLogger)
                try await client.query("SELECT pg_notify('rpgbot_party_sync', 'presence demo')", logger: testLogger)
            }
            _ = try await Self.presence(watcher, start: welcome) { $0["zed"] != nil }
            _ = try await Self.presence(watcher, start: ["presence": ["members": ["zed": [:]]]]) { $0["zed"] == nil }
            // Not before the heartbeat timeout (3 s) and the grace period (1 s) ran out.
            #expect(ContinuousClock.now - started >= .seconds(3.9))
            let left = try await PostgresTestServer.withClient(cluster.databaseURL) { client in
                var count = 0
                for try await n in try await client.query("SELECT count(*) FROM party_presence WHERE node_id = 'n_dead'", logger: testLogger).decode(Int.self) { count = n }
                return count
            }
            #expect(left == 0)
        }
    }

    /// A scene generated with broadcast on one node, and a speech job made on it, reach a
    /// player connected to the other: both are events in the shared log.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/espeak-ng") || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1", "needs espeak-ng"))
    func generatedScenesAndMediaReachPlayersOnAnotherNode() async throws {
        let repository = GroundedBroadcastTests.repository
        try await Cluster.run(nodes: 2, configure: { node, configuration in
            configuration.services = ["party-sync", "media-broker", "gateway"]
            configuration.generation.profilesPath = repository.appendingPathComponent("profiles/profiles.yaml")
            // The store is shared: the first node ingests the demo campaign for both.
            configuration.knowledge.contentDirectory = node == 0 ? repository.appendingPathComponent("content/demo") : nil
        }) { cluster in
            try await Self.waitUntilListening(cluster)
            let (a, b) = (cluster.nodes[0], cluster.nodes[1])
            let (player, _) = try await a.join("ada")
            let gm = try await b.token("gm", role: .gm)
            func post(_ path: String, _ body: String) async throws -> HTTPResponseStatus {
                var request = HTTPClientRequest(url: b.url(path))
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(gm)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(string: body))
                return try await HTTPClient.shared.execute(request, timeout: .seconds(60)).status
            }
            #expect(try await post("/v1/generate/scene", #"{"campaign_id": "demo", "intent": "we enter the tavern", "broadcast": true}"#) == .ok)
            let scene = try await player.next("event", timeout: .seconds(20))
            #expect(scene["type"] as? String == "gm.scene" && scene["actor"] as? String == "gm")
            let status = try await post("/v1/media/tts", #"{"text": "The tide is coming in.", "voice": "en-us", "language": "en", "format": "wav", "campaign_id": "demo"}"#)
            #expect(status == .accepted || status == .ok)
            var statuses: [String] = []
            while statuses.last != "succeeded" {
                let event = try await player.next("event", timeout: .seconds(30))
                #expect(event["type"] as? String == "media.job_updated")
                statuses.append((event["payload"] as? [String: Any])?["status"] as? String ?? "?")
            }
            #expect(statuses == ["queued", "running", "succeeded"])
        }
    }
}
