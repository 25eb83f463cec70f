import Foundation
import PartySync
import RPGBotApp
import ServiceKit
import TestSupport
import Testing

@Suite struct PresenceTests {
    @Test func twoTabsAreOneMemberAndAQuickReconnectDoesNotFlap() async throws {
        // The grace leaves room for a slow rejoin when the whole suite loads the machine.
        try await LiveServer.run(settings: LiveServer.settings { $0.presenceGrace = .seconds(3) }) { server in
            let (watcher, _) = try await server.join("watcher")
            let (tab1, welcome1) = try await server.join("alice")
            let join = try await watcher.next("presence_diff")
            #expect(((join["joins"] as? [String: Any])?["alice"] as? [String: Any])?["role"] as? String == "player")
            let members1 = (welcome1["presence"] as? [String: Any])?["members"] as? [String: Any]
            #expect(Set(members1?.keys ?? [:].keys) == ["watcher", "alice"])

            // A second tab: still one member, with two connections, and no diff.
            let (tab2, welcome2) = try await server.join("alice")
            let alice = ((welcome2["presence"] as? [String: Any])?["members"] as? [String: Any])?["alice"] as? [String: Any]
            #expect((alice?["conns"] as? [String])?.count == 2)

            // Both tabs close and one comes back inside the grace period: no leave.
            tab1.close()
            tab2.close()
            try await Task.sleep(for: .milliseconds(200))
            let (tab3, _) = try await server.join("alice")
            watcher.send(json: ["t": "history", "limit": 1])
            while let frame = try await watcher.next(timeout: .seconds(3)) {
                #expect(frame["t"] as? String != "presence_diff", "unexpected presence change: \(frame)")
                if frame["t"] as? String == "history" { break }
            }

            // Gone for longer than the grace period: one leave.
            tab3.close()
            let leave = try await watcher.next("presence_diff", timeout: .seconds(15))
            #expect((leave["leaves"] as? [String: Any])?.keys.contains("alice") == true)
            #expect((leave["joins"] as? [String: Any])?.isEmpty == true)
        }
    }

    /// Joins racing each other: every connection's first frame is still its `welcome`.
    @Test func welcomeIsAlwaysTheFirstFrame() async throws {
        try await LiveServer.run { server in
            let firstFrames = try await withThrowingTaskGroup(of: String?.self) { group in
                for index in 0..<12 {
                    group.addTask {
                        let client = server.webSocket()
                        client.send(json: ["t": "hello", "v": 1, "token": try await server.token("user\(index)")])
                        let first = try await client.next(timeout: .seconds(10))
                        try await Task.sleep(for: .milliseconds(300))
                        client.close()
                        return first?["t"] as? String
                    }
                }
                var all: [String?] = []
                for try await frame in group { all.append(frame) }
                return all
            }
            #expect(firstFrames.allSatisfy { $0 == "welcome" }, "\(firstFrames)")
        }
    }

    @Test func presenceStateIsBroadcast() async throws {
        try await LiveServer.run { server in
            let (watcher, _) = try await server.join("watcher")
            let (alice, _) = try await server.join("alice")
            _ = try await watcher.next("presence_diff")
            alice.send(json: ["t": "presence_set", "state": ["status": "typing"]])
            let diff = try await watcher.next("presence_diff")
            let member = (diff["joins"] as? [String: Any])?["alice"] as? [String: Any]
            #expect((member?["state"] as? [String: Any])?["status"] as? String == "typing")
        }
    }
}

@Suite struct BadInputTests {
    func expectClosed(_ client: WebSocketTestClient, code: Int, errorReason: String? = nil) async throws {
        if let errorReason {
            let error = try await client.next("error")
            #expect(error["reason"] as? String == errorReason)
        }
        let closed = try await client.waitUntilClosed()
        #expect(closed.code == code, "closed with \(String(describing: closed))")
    }

    @Test func badTokenClosesWith4500() async throws {
        try await LiveServer.run { server in
            let client = server.webSocket()
            client.send(json: ["t": "hello", "v": 1, "token": "not-a-token"])
            try await expectClosed(client, code: 4500, errorReason: "token_invalid")
        }
    }

    @Test func expiredTokenClosesWith4500() async throws {
        try await LiveServer.run { server in
            let client = server.webSocket()
            client.send(json: ["t": "hello", "v": 1, "token": try await server.token("alice", ttl: -10)])
            try await expectClosed(client, code: 4500, errorReason: "token_expired")
        }
    }

    @Test func tokenForAnotherCampaignClosesWith4503() async throws {
        try await LiveServer.run { server in
            let client = server.webSocket("demo")
            client.send(json: ["t": "hello", "v": 1, "token": try await server.token("alice", campaign: "other")])
            try await expectClosed(client, code: 4503, errorReason: "forbidden_campaign")
            let service = server.webSocket("demo")
            service.send(json: ["t": "hello", "v": 1, "token": try await server.token("bot", role: .service)])
            try await expectClosed(service, code: 4503, errorReason: "forbidden_role")
        }
    }

    @Test func aFirstFrameOtherThanHelloClosesWith4501() async throws {
        try await LiveServer.run { server in
            let client = server.webSocket()
            client.send(json: ["t": "publish", "cmid": "x", "type": "chat.say"])
            try await expectClosed(client, code: 4501, errorReason: "expected_hello")
            let garbage = server.webSocket()
            garbage.send("not json at all")
            try await expectClosed(garbage, code: 4501)
        }
    }

    @Test func silenceAfterConnectingClosesWith4501() async throws {
        try await LiveServer.run(settings: LiveServer.settings { $0.helloTimeout = .milliseconds(300) }) { server in
            let client = server.webSocket()
            try await expectClosed(client, code: 4501)
        }
    }

    @Test func garbageFramesGetErrorsAndTheConnectionSurvives() async throws {
        try await LiveServer.run { server in
            let (client, _) = try await server.join("alice")
            let cases: [(String, String)] = [
                ("{not json", "invalid_json"),
                (#"{"no_type":1}"#, "missing_field"),
                (#"{"t":"teleport"}"#, "unknown_frame"),
                (#"{"t":"publish","cmid":"c1","type":"chat.say","payload":{},"limit":"ten"}"#, "wrong_type"),
                (#"{"t":"publish","type":"chat.say"}"#, "invalid_cmid"),
                (#"{"t":"publish","cmid":"c2","type":"has space"}"#, "invalid_type"),
                (#"{"t":"publish","cmid":"\#(String(repeating: "x", count: 65))","type":"a"}"#, "invalid_cmid"),
                (#"{"t":"history","limit":100000}"#, "invalid_limit"),
                (#"{"t":"history","limit":1e308}"#, "wrong_type"),
                (#"{"t":"history","limit":2.5}"#, "wrong_type"),
                (#"{"t":"presence_set","state":"busy"}"#, "invalid_state"),
                (#"[1,2,3]"#, "invalid_json"),
            ]
            for (frame, reason) in cases {
                client.send(frame)
                let error = try await client.next("error")
                #expect(error["reason"] as? String == reason, "for \(frame)")
                #expect(error["code"] as? Int == 107)
            }
            // Still connected and working.
            client.send(json: ["t": "publish", "cmid": "ok", "type": "chat.say", "payload": [:]])
            #expect(try await client.next("ack")["offset"] as? Int == 1)
        }
    }

    @Test func anOversizedFrameGets113AndClose1009() async throws {
        try await LiveServer.run(settings: LiveServer.settings { $0.maxFrameBytes = 1024 }) { server in
            let (client, _) = try await server.join("alice")
            let (other, _) = try await server.join("bob")
            client.send(json: ["t": "publish", "cmid": "big", "type": "chat.say", "payload": ["text": String(repeating: "x", count: 2000)]])
            let error = try await client.next("error")
            #expect(error["code"] as? Int == 113)
            #expect(try await client.waitUntilClosed().code == 1009)
            // Nobody else noticed.
            other.send(json: ["t": "publish", "cmid": "small", "type": "chat.say", "payload": [:]])
            #expect(try await other.next("ack")["offset"] as? Int == 1)
        }
    }

    @Test func floodingGetsRateLimitedThenClosedWith4008() async throws {
        try await LiveServer.run(settings: LiveServer.settings {
            $0.connectionRate = 5
            $0.connectionBurst = 5
            $0.abuseThreshold = 20
        }) { server in
            let (client, _) = try await server.join("alice")
            // Far more than burst + threshold: even on a busy machine, where the server may take
            // seconds over the frames and the bucket refills meanwhile, the threshold is crossed.
            for index in 0..<200 {
                client.send(json: ["t": "history", "limit": 1, "n": index])
            }
            let error = try await client.next("error", timeout: .seconds(30))
            #expect(error["code"] as? Int == 111)
            #expect(error["temporary"] as? Bool == true)
            #expect((error["retry_after_ms"] as? Int ?? 0) > 0)
            #expect(try await client.waitUntilClosed().code == 4008)
        }
    }

    @Test("every inbound frame counts against the rate: floods of invalid JSON, binary frames or pongs are limited and closed with 4008, with bounded replies", arguments: ["invalid", "binary", "pong"])
    func everyFrameCounts(_ kind: String) async throws {
        try await LiveServer.run(settings: LiveServer.settings {
            $0.connectionRate = 5
            $0.connectionBurst = 5
            $0.abuseThreshold = 20
            $0.invalidFrameThreshold = 1_000_000
        }) { server in
            let (client, _) = try await server.join("alice")
            for _ in 0..<3_000 {
                switch kind {
                case "invalid": client.send("{not json")
                case "binary": client.send(binary: [1, 2, 3])
                default: client.send(#"{"t":"pong"}"#)
                }
            }
            let closed = try await client.waitUntilClosed(timeout: .seconds(60))
            #expect(closed.code == 4008)
            var replies = 0
            var rateLimited = 0
            while let frame = try await client.next(timeout: .seconds(1)) {
                if frame["t"] as? String == "error" { replies += 1 }
                if frame["reason"] as? String == "rate_limited" { rateLimited += 1 }
            }
            // Replies are bounded by the burst and the refill, not by what was sent: at most the
            // burst plus what refills while the server reads (generously), plus one rate-limit
            // reply a second.
            #expect(replies < 300, "\(replies) error replies to 3,000 frames")
            #expect(kind == "pong" ? replies == rateLimited : replies > 0)
        }
    }

    @Test("a connection that keeps sending garbage within the rate is closed with 4008")
    func garbageWithinTheRateIsClosed() async throws {
        try await LiveServer.run(settings: LiveServer.settings { $0.invalidFrameThreshold = 10 }) { server in
            let (client, _) = try await server.join("alice")
            for index in 0..<12 {
                client.send(index.isMultiple(of: 2) ? "{not json" : #"{"t":"teleport"}"#)
            }
            #expect(try await client.waitUntilClosed(timeout: .seconds(30)).code == 4008)
        }
    }

    @Test func shutdownClosesConnectionsWith4000() async throws {
        try await LiveServer.run { server in
            let (client, _) = try await server.join("alice")
            await server.shutdown()
            #expect(try await client.waitUntilClosed().code == 4000)
        }
    }

    @Test func aClientThatNeverPongsIsClosedWith4003() async throws {
        try await LiveServer.run(settings: LiveServer.settings {
            // Long enough for a loaded machine to answer in time, short enough to wait out.
            $0.pingInterval = .milliseconds(300)
            $0.pongTimeout = .milliseconds(1500)
        }) { server in
            let (client, welcome) = try await server.join("alice")
            #expect(welcome["ping_s"] != nil)
            _ = try await client.next("ping")
            #expect(try await client.waitUntilClosed().code == 4003)

            // One that answers stays.
            let (polite, _) = try await server.join("bob")
            for _ in 0..<4 {
                _ = try await polite.next("ping")
                polite.send(json: ["t": "pong"])
            }
            #expect(polite.closed == nil)
        }
    }
}

@Suite struct SlowConsumerTests {
    /// Rates out of the way; the publisher reads only acks and answers no ping, and 600
    /// publishes can outlast a ping interval on a busy machine.
    static func settings(closeTimeout: Duration, presenceGrace: Duration? = nil) -> PartySyncSettings {
        LiveServer.settings {
            $0.connectionRate = 10_000
            $0.connectionBurst = 10_000
            $0.closeTimeout = closeTimeout
            $0.pingInterval = .seconds(600)
            if let presenceGrace { $0.presenceGrace = presenceGrace }
        }
    }

    /// Publishes `total` events of 30 kB, each acknowledged: ~18 MB for 600, more than the
    /// socket buffers and a paused reader's queue together.
    static func flood(_ publisher: WebSocketTestClient, total: Int) async throws {
        let blob = String(repeating: "d", count: 30_000)
        for index in 1...total {
            publisher.send(json: ["t": "publish", "cmid": "e\(index)", "type": "map.tile", "payload": ["n": index, "blob": blob]])
            _ = try await publisher.next("ack")
        }
    }

    /// A client that stops reading is closed with 4002 while the others keep their pace, and
    /// then resumes without losing anything.
    @Test func aStalledReaderIsClosedAndResumesWithoutLoss() async throws {
        // The slow reader stays paused while the fast one reads 18 MB, which can take longer
        // than the default close timeout on a busy machine; the close frame must still wait.
        try await LiveServer.run(settings: Self.settings(closeTimeout: .seconds(120))) { server in
            let (slow, welcome) = try await server.join("slow")
            let epoch = try #require(welcome["epoch"] as? String)
            let (fast, _) = try await server.join("fast")
            let (publisher, _) = try await server.join("publisher", role: .gm)
            slow.setPaused(true)
            let total = 600
            try await Self.flood(publisher, total: total)
            // The fast reader sees everything, in order.
            let fastEvents = try await collectEvents(fast, count: total, timeout: .seconds(60))
            #expect(offsets(fastEvents) == Array(1...Int64(total)))

            // The slow one, once it reads again, finds its queue cut off with 4002.
            slow.setPaused(false)
            var slowOffsets: [Int64] = []
            while let frame = try await slow.next(timeout: .seconds(30)) {
                if frame["t"] as? String == "event", let offset = frame.int64("offset") { slowOffsets.append(offset) }
            }
            #expect(try await slow.waitUntilClosed().code == 4002)
            #expect(slowOffsets.count < total)
            #expect(slowOffsets == Array(1...Int64(max(1, slowOffsets.count))).prefix(slowOffsets.count).map { $0 })

            // It resumes from the last offset it saw and gets the rest exactly once.
            let last = slowOffsets.last ?? 0
            let (resumed, resumedWelcome) = try await server.join("slow", since: (epoch, last))
            #expect(resumedWelcome["recovered"] as? Bool == true)
            let rest = try await collectEvents(resumed, count: total - Int(last), timeout: .seconds(60))
            #expect(offsets(rest) == Array((last + 1)...Int64(total)))
        }
    }

    /// A slow reader that is still not reading when the close timeout runs out is dropped
    /// without its close frame (nothing could reach it), and others see it leave.
    @Test func aReaderThatNeverReadsAgainIsDroppedAfterTheCloseTimeout() async throws {
        try await LiveServer.run(settings: Self.settings(closeTimeout: .seconds(1), presenceGrace: .milliseconds(100))) { server in
            let (slow, _) = try await server.join("slow")
            let (watcher, _) = try await server.join("watcher")
            let (publisher, _) = try await server.join("publisher", role: .gm)
            slow.setPaused(true)
            try await Self.flood(publisher, total: 600)
            // The leave is only announced once the server has dropped the connection.
            var left = false
            while !left {
                let diff = try await watcher.next("presence_diff", timeout: .seconds(60))
                left = (diff["leaves"] as? [String: Any])?.keys.contains("slow") == true
            }
            slow.setPaused(false)
            while try await slow.next(timeout: .seconds(30)) != nil {}
            let closed = try await slow.waitUntilClosed()
            #expect(closed.code == nil, "expected the connection to end without a close frame, got \(closed)")
        }
    }
}
