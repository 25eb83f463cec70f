import Foundation
import NIOHTTP1
import PartySync
import RPGBotApp
import ServiceKit
import TestSupport
import Testing

@Suite struct RecoveryTests {
    func seed(_ server: LiveServer, events: Int) async throws -> String {
        let (client, welcome) = try await server.join("seeder", role: .gm)
        for index in 1...events {
            client.send(json: ["t": "publish", "cmid": "s\(index)", "type": "tick", "payload": ["n": index]])
            _ = try await client.next("ack")
        }
        client.close()
        return try #require(welcome["epoch"] as? String)
    }

    func expectRefused(_ server: LiveServer, since: (String, Int64), reason: String) async throws {
        let (client, welcome) = try await server.join("alice", since: since)
        #expect(welcome["recovered"] as? Bool == false)
        #expect(welcome["reason"] as? String == reason)
        #expect(welcome["replayed"] as? Int == 0)
        // No events and no synced follow; the next frame is whatever comes live.
        client.send(json: ["t": "history", "limit": 1])
        let next = try await client.next(timeout: .seconds(5))
        #expect(next?["t"] as? String == "history", "expected no replay, got \(String(describing: next))")
    }

    @Test func epochMismatchIsUnrecoverable() async throws {
        try await LiveServer.run { server in
            _ = try await seed(server, events: 3)
            try await expectRefused(server, since: ("someotherepoch", 1), reason: "epoch_mismatch")
        }
    }

    @Test func anOffsetBeyondTheTopIsUnrecoverable() async throws {
        try await LiveServer.run { server in
            let epoch = try await seed(server, events: 3)
            try await expectRefused(server, since: (epoch, 4), reason: "future_offset")
        }
    }

    @Test func aGapLargerThanTheReplayLimitIsUnrecoverable() async throws {
        try await LiveServer.run(settings: LiveServer.settings { $0.replayLimit = 5 }) { server in
            let epoch = try await seed(server, events: 8)
            try await expectRefused(server, since: (epoch, 2), reason: "too_many")
            // Exactly at the limit is fine.
            let (client, welcome) = try await server.join("bob", since: (epoch, 3))
            #expect(welcome["recovered"] as? Bool == true)
            #expect(offsets(try await collectEvents(client, count: 5)) == [4, 5, 6, 7, 8])
        }
    }

    @Test func anOffsetOlderThanRetentionIsUnrecoverable() async throws {
        try await LiveServer.run(settings: LiveServer.settings {
            $0.retentionEvents = 3
            $0.trimInterval = .milliseconds(100)
        }) { server in
            let epoch = try await seed(server, events: 8)
            // Wait for the background trim.
            let deadline = ContinuousClock.now + .seconds(10)
            while try await server.server.partySync!.hub.store.head(campaignID: "demo").firstRetained < 6, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            try await expectRefused(server, since: (epoch, 2), reason: "too_old")
            let (client, welcome) = try await server.join("bob", since: (epoch, 5))
            #expect(welcome["recovered"] as? Bool == true)
            #expect(offsets(try await collectEvents(client, count: 3)) == [6, 7, 8])
        }
    }
}

@Suite struct IdempotencyTests {
    @Test(arguments: StoreKind.available.filter { $0 != .memory })
    func theSameCmidThreeTimesStoresOneEvent(_ backend: StoreKind) async throws {
        try await LiveServer.run(backend) { server in
            let (alice, _) = try await server.join("alice")
            let (watcher, _) = try await server.join("watcher")
            var acks: [[String: Any]] = []
            for _ in 0..<3 {
                alice.send(json: ["t": "publish", "cmid": "once", "type": "chat.say", "payload": ["text": "only once"]])
                acks.append(try await alice.next("ack"))
            }
            #expect(Set(acks.compactMap { $0.int64("offset") }) == [1])
            #expect(Set(acks.compactMap { $0["id"] as? String }).count == 1)
            #expect(acks.map { $0["duplicate"] as? Bool } == [false, true, true])

            alice.send(json: ["t": "publish", "cmid": "once", "type": "chat.say", "payload": ["text": "something else"]])
            let error = try await alice.next("error")
            #expect(error["code"] as? Int == 114)
            #expect(error["reason"] as? String == "cmid_conflict")
            #expect(error["cmid"] as? String == "once")

            // The watcher got the event exactly once.
            alice.send(json: ["t": "publish", "cmid": "after", "type": "chat.say", "payload": [:]])
            #expect(offsets(try await collectEvents(watcher, count: 2)) == [1, 2])
            let history = try await server.server.partySync!.hub.store.events(campaignID: "demo", after: 0, limit: 10)
            #expect(history.count == 2)
        }
    }

    @Test func restIdempotencyKeyReturnsTheSameBody() async throws {
        try await LiveServer.run { server in
            let gm = try await server.token("gm", role: .gm)
            let first = try await server.restPublish(type: "gm.scene", payload: ["title": "The tavern"], key: "scene-1", token: gm)
            #expect(first.status == 201)
            let again = try await server.restPublish(type: "gm.scene", payload: ["title": "The tavern"], key: "scene-1", token: gm)
            #expect(again.status == 201)
            #expect(again.body == first.body)
            #expect(again.headers.first(name: "Idempotent-Replayed") == "true")
            let body = try jsonObject(first.body)
            #expect(body.int64("offset") == 1)
            #expect(body["duplicate"] as? Bool == false)

            let changed = try await server.restPublish(type: "gm.scene", payload: ["title": "The docks"], key: "scene-1", token: gm)
            #expect(changed.status == 409)
            #expect(try jsonObject(changed.body)["code"] as? String == "idempotency_key_reused")
            #expect(try await server.server.partySync!.hub.store.head(campaignID: "demo").top == 1)
        }
    }

    @Test func restBurstGets429WithRetryAfter() async throws {
        try await LiveServer.run(settings: LiveServer.settings {
            $0.restBurst = 3
            // One token per 100 s: a busy machine cannot refill the bucket between the five requests.
            $0.restRate = 0.01
        }) { server in
            let gm = try await server.token("gm", role: .gm)
            var statuses: [Int] = []
            var limited: (status: Int, headers: [(String, String)], body: String)?
            for index in 0..<5 {
                let reply = try await server.restPublish(type: "tick", payload: ["n": index], token: gm)
                statuses.append(reply.status)
                if reply.status == 429 { limited = (reply.status, reply.headers.map { ($0.name, $0.value) }, reply.body) }
            }
            #expect(statuses == [201, 201, 201, 429, 429])
            let refusal = try #require(limited)
            #expect(Int(refusal.headers.first { $0.0.lowercased() == "retry-after" }?.1 ?? "") ?? 0 >= 1)
            let problem = try jsonObject(refusal.body)
            #expect(problem["code"] as? String == "rate_limited")
            #expect((problem["retry_after_ms"] as? Int ?? 0) > 0)
        }
    }

    @Test func restRequiresAGMOrServiceTokenForTheCampaign() async throws {
        try await LiveServer.run { server in
            let player = try await server.token("alice", role: .player)
            let otherCampaign = try await server.token("gm", campaign: "elsewhere", role: .gm)
            let publishAsPlayer = try await server.restPublish(type: "tick", payload: [:], token: player)
            #expect(publishAsPlayer.status == 403)
            let publishElsewhere = try await server.restPublish(type: "tick", payload: [:], token: otherCampaign)
            #expect(publishElsewhere.status == 403)
            let badType = try await server.restPublish(type: "no spaces allowed", payload: [:], token: try await server.token("gm", role: .gm))
            #expect(badType.status == 422)
        }
    }
}
