import Foundation
import PartySync
import Synchronization
import TestSupport
import Testing

@testable import PartySync

/// A connection's reader hands a publish to the store and reads on; the answer comes from the
/// commit path. Nothing a client sees may change with that: its publishes keep their order,
/// each gets its answer, and a later `history` read includes them.
@Suite struct PipelinedPublishTests {
    @Test(arguments: StoreKind.available.filter { $0 != .memory })
    func backToBackPublishesKeepTheirOrderAndHistoryIncludesThem(_ backend: StoreKind) async throws {
        try await LiveServer.run(backend, settings: LiveServer.settings { $0.connectionBurst = 200 }) { server in
            let (client, _) = try await server.join("ana")
            let count = 60
            // One of them reuses a cmid with another payload: its refusal is answered in turn too.
            for index in 0..<count {
                client.send(json: ["t": "publish", "cmid": "m\(index)", "type": "chat.say", "payload": ["n": index]])
            }
            client.send(json: ["t": "publish", "cmid": "m7", "type": "chat.say", "payload": ["n": -1]])
            client.send(json: ["t": "history", "limit": 100])
            var acks: [String: Int64] = [:]
            var conflicts: [String] = []
            var history: [[String: Any]]?
            while history == nil {
                let frame = try #require(try await client.next(timeout: .seconds(20)), "closed before the history reply")
                switch frame["t"] as? String {
                case "ack":
                    acks[try #require(frame["cmid"] as? String)] = frame.int64("offset")
                case "error":
                    conflicts.append(frame["cmid"] as? String ?? "?")
                case "history":
                    history = frame["events"] as? [[String: Any]]
                default:
                    break
                }
            }
            // Every answer came before the history reply, and offsets follow the sending order.
            #expect(acks.count == count)
            for index in 0..<count {
                #expect(acks["m\(index)"] == Int64(index + 1), "m\(index) stored at \(String(describing: acks["m\(index)"]))")
            }
            #expect(conflicts == ["m7"])
            let stored = try #require(history)
            #expect(offsets(stored) == Array(1...Int64(count)))
            client.close()
        }
    }

    @Test func waitingReturnsOnceFewEnoughAreOutstanding() async throws {
        let inFlight = PublishesInFlight()
        for _ in 0..<3 { inFlight.started() }
        await inFlight.wait(untilAtMost: 3)
        let released = Released()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                await inFlight.wait(untilAtMost: 0)
                released.values.withLock { $0.append(0) }
            }
            group.addTask {
                await inFlight.wait(untilAtMost: 2)
                released.values.withLock { $0.append(2) }
            }
            try await Task.sleep(for: .milliseconds(50))
            #expect(released.values.withLock { $0 }.isEmpty)
            inFlight.finished()
            let deadline = ContinuousClock.now + .seconds(10)
            while released.values.withLock({ $0 }) != [2], ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(released.values.withLock { $0 } == [2])
            inFlight.finished()
            try await Task.sleep(for: .milliseconds(50))
            #expect(released.values.withLock { $0 } == [2])
            inFlight.finished()
            try await group.waitForAll()
        }
        #expect(released.values.withLock { $0 } == [2, 0])
        #expect(inFlight.count == 0)
    }

    private final class Released: Sendable {
        let values = Mutex<[Int]>([])
    }
}
