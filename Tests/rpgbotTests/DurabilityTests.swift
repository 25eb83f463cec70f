import Foundation
import TestSupport
import Testing

@Suite struct DurabilityTests {
    /// Every event acknowledged before a `kill -9` is replayed after a restart on the same
    /// data, with the same offsets and ids.
    @Test func ackedEventsSurviveAKill9() async throws {
        try await withTemporaryDirectory { directory in
            let token = try await ChildProcess.runRPGBot(["token", "--sub", "alice", "--campaign", "demo", "--role", "gm", "--data-dir", directory.path])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let first = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path])
            let port = try await first.waitUntilListening()

            let client = WebSocketTestClient(url: "ws://127.0.0.1:\(port)/ws/campaign/demo")
            client.send(json: ["t": "hello", "v": 1, "token": token])
            let welcome = try await client.next("welcome")
            let epoch = try #require(welcome["epoch"] as? String)
            var acked: [(offset: Int, id: String)] = []
            for index in 1...30 {
                client.send(json: ["t": "publish", "cmid": "m\(index)", "type": "chat.say", "payload": ["n": index]])
                let ack = try await client.next("ack")
                acked.append((try #require(ack["offset"] as? Int), try #require(ack["id"] as? String)))
            }
            // Publish more without waiting: whatever was acked must survive.
            for index in 31...40 {
                client.send(json: ["t": "publish", "cmid": "m\(index)", "type": "chat.say", "payload": ["n": index]])
            }
            while acked.count < 40, let frame = try? await client.next(timeout: .seconds(2)) {
                if frame["t"] as? String == "ack", let offset = frame["offset"] as? Int, let id = frame["id"] as? String {
                    acked.append((offset, id))
                }
            }
            #expect(try await first.stop(signal: SIGKILL) != 0)

            let second = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.path])
            let secondPort = try await second.waitUntilListening()
            let resumed = WebSocketTestClient(url: "ws://127.0.0.1:\(secondPort)/ws/campaign/demo")
            resumed.send(json: ["t": "hello", "v": 1, "token": token, "since": ["epoch": epoch, "offset": 0]])
            let again = try await resumed.next("welcome")
            #expect(again["recovered"] as? Bool == true)
            #expect(again["epoch"] as? String == epoch)
            var replayed: [Int: String] = [:]
            while let frame = try await resumed.next(timeout: .seconds(10)), frame["t"] as? String != "synced" {
                if frame["t"] as? String == "event", let offset = frame["offset"] as? Int {
                    replayed[offset] = frame["id"] as? String
                }
            }
            for (offset, id) in acked {
                #expect(replayed[offset] == id, "acked event \(offset) was not replayed as \(id)")
            }
            #expect(replayed.keys.sorted() == Array(1...(replayed.keys.max() ?? 0)))
            #expect(try await second.stop() == 0)
        }
    }
}
