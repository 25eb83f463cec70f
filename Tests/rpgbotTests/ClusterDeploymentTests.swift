import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Persistence
import TestSupport
import Testing

/// Two `rpgbot serve` processes on one PostgreSQL behind a real nginx, as docs/deployment.md
/// sets them up; one of them is killed with SIGKILL while the campaign is being played.
@Suite(.serialized) struct ClusterDeploymentTests {
    static let enabled = (PostgresTestServer.isConfigured && toolExists("nginx")) || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"
    static let secret = "a secret every node of this cluster shares, 32+ bytes"

    /// nginx in front of `upstreams`, as in docs/deployment.md, on a free port.
    static func startNginx(in directory: URL, upstreams: [Int]) async throws -> (ChildProcess, Int) {
        let port = try freeLoopbackPort()
        let servers = upstreams.map { "        server 127.0.0.1:\($0) max_fails=1 fail_timeout=5s;" }.joined(separator: "\n")
        let temp = directory.path
        let configuration = """
            \(geteuid() == 0 ? "user root;" : "")
            daemon off;
            worker_processes 1;
            pid \(temp)/nginx.pid;
            error_log \(temp)/nginx-error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path \(temp)/body;
                proxy_temp_path \(temp)/proxy;
                fastcgi_temp_path \(temp)/fastcgi;
                uwsgi_temp_path \(temp)/uwsgi;
                scgi_temp_path \(temp)/scgi;
                upstream rpgbot {
                    least_conn;
            \(servers)
                }
                map $http_upgrade $connection_upgrade { default upgrade; '' close; }
                server {
                    listen 127.0.0.1:\(port);
                    location / {
                        proxy_pass http://rpgbot;
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection $connection_upgrade;
                        proxy_set_header Host $host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                        proxy_read_timeout 1h;
                        proxy_next_upstream error timeout http_502 http_503;
                    }
                }
            }
            """
        let file = directory.appendingPathComponent("nginx.conf")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        let nginx = try await ChildProcess(executable: try #require(toolURL("nginx")), arguments: ["-c", file.path, "-e", "\(temp)/nginx-error.log"])
        for _ in 0..<100 {
            if (try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"), timeout: .seconds(2)))?.status == .ok { return (nginx, port) }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestSetupError("nginx did not start: \((try? String(contentsOfFile: "\(temp)/nginx-error.log", encoding: .utf8)) ?? "")")
    }

    static func startNode(port: Int, database: String, directory: URL) async throws -> ChildProcess {
        let node = try await ChildProcess.rpgbot(
            ["serve", "--port", String(port), "--data-dir", directory.path, "--services", "party-sync"],
            environment: [
                "RPGBOT_DATABASE_URL": database, "RPGBOT_JWT_SECRET": secret, "RPGBOT_PRESENCE_GRACE": "1s",
                "RPGBOT_CLUSTER_HEARTBEAT_TIMEOUT": "3s",
            ])
        _ = try await node.waitUntilListening()
        return node
    }

    /// A player's connection through nginx that reconnects with `since` whenever it is lost,
    /// and keeps every event it received.
    final class Player: @unchecked Sendable {
        let url: String
        let token: String
        var client: WebSocketTestClient
        var events: [[String: Any]] = []
        var epoch = ""
        var reconnects = 0

        init(url: String, token: String) async throws {
            self.url = url
            self.token = token
            client = WebSocketTestClient(url: url)
            client.send(json: ["t": "hello", "v": 1, "token": token])
            epoch = try #require(try await client.next("welcome")["epoch"] as? String)
        }

        /// Reads until `count` events have arrived, reconnecting and resuming as needed.
        func read(until count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while events.count < count {
                guard ContinuousClock.now < deadline else { throw TestSetupError("\(events.count) of \(count) events") }
                if let frame = try await client.next(timeout: .seconds(30)) {
                    if frame["t"] as? String == "event" { events.append(frame) }
                    continue
                }
                // Lost (the node died): again through nginx, from the last offset seen.
                reconnects += 1
                try await Task.sleep(for: .milliseconds(100))
                client = WebSocketTestClient(url: url)
                let offset = (events.last?["offset"] as? NSNumber)?.int64Value ?? 0
                client.send(json: ["t": "hello", "v": 1, "token": token, "since": ["epoch": epoch, "offset": offset]])
                guard let welcome = try? await client.next("welcome") else { continue }
                #expect(welcome["recovered"] as? Bool == true, "\(welcome)")
            }
        }
    }

    @Test(.enabled(if: enabled, "needs the test PostgreSQL and nginx"), .timeLimit(.minutes(4)))
    func playersThroughNginxResumeExactlyWhenANodeIsKilled() async throws {
        guard case .postgres(let location) = try await PostgresTestServer.makeDatabase(prefix: "nginx") else { return }
        let database = "postgres://\(location.username)@\(location.host):\(location.port)/\(location.database)?sslmode=disable"
        try await withTemporaryDirectory { directory in
            let ports = [try freeLoopbackPort(), try freeLoopbackPort()]
            var nodes: [ChildProcess] = []
            for (index, port) in ports.enumerated() {
                let folder = directory.url.appendingPathComponent("node\(index)")
                nodes.append(try await Self.startNode(port: port, database: database, directory: folder))
            }
            let (nginx, port) = try await Self.startNginx(in: directory.url, upstreams: ports)
            defer { _ = nginx }
            let token = { (sub: String, role: String) async throws -> String in
                try await ChildProcess.runRPGBot(["token", "--sub", sub, "--campaign", "demo", "--role", role, "--data-dir", directory.path], environment: ["RPGBOT_JWT_SECRET": Self.secret])
                    .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            var players: [Player] = []
            for index in 0..<6 {
                players.append(try await Player(url: "ws://127.0.0.1:\(port)/ws/campaign/demo", token: try await token("p\(index)", "player")))
            }
            let gm = try await token("gm", "gm")
            var acknowledged: [Int] = []
            func publish(_ index: Int) async throws {
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/campaigns/demo/events")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(gm)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "Idempotency-Key", value: "e\(index)")
                request.body = .bytes(ByteBuffer(string: #"{"type": "tick", "payload": {"n": \#(index)}}"#))
                // A request that met the dying node is retried under its key: stored once.
                for attempt in 0..<20 {
                    if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(10)), response.status == .created {
                        acknowledged.append(index)
                        return
                    }
                    try await Task.sleep(for: .milliseconds(100 * (attempt + 1)))
                }
                throw TestSetupError("publish \(index) was never acknowledged")
            }
            for index in 1...20 {
                try await publish(index)
                try await Task.sleep(for: .milliseconds(40))  // within the REST rate limit
            }
            // One node dies mid-game.
            #expect(try await nodes[1].stop(signal: SIGKILL) != 0)
            for index in 21...40 {
                try await publish(index)
                try await Task.sleep(for: .milliseconds(40))
            }
            for player in players {
                try await player.read(until: 40)
                #expect((player.events.map { ($0["offset"] as? NSNumber)?.int64Value ?? 0 }) == (1...40).map { Int64($0) })
                #expect(player.events.map { (($0["payload"] as? [String: Any])?["n"] as? Int) ?? 0 } == acknowledged)
            }
            // least_conn spread the players over both nodes, so some were on the killed one.
            #expect(players.contains { $0.reconnects > 0 })
            #expect(acknowledged == Array(1...40))
            _ = try await nginx.stop()
            _ = try await nodes[0].stop()
        }
    }
}
