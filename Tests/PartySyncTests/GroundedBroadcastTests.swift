import AsyncHTTPClient
import Gateway
import Memory37
import Foundation
import NIOCore
import NIOHTTP1
import RPGBotApp
import ServiceKit
import TestSupport
import Testing

@Suite("Grounded generation broadcast into Party Sync")
struct GroundedBroadcastTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("a scene generated with broadcast reaches the campaign's connected players once, even when the request is repeated")
    func sceneReachesPlayers() async throws {
        try await LiveServer.run(.sqlite, configure: { configuration in
            configuration.services = ["party-sync", "gateway"]
            configuration.generation.profilesPath = Self.repository.appendingPathComponent("profiles/profiles.yaml")
            configuration.knowledge.contentDirectory = Self.repository.appendingPathComponent("content/demo")
        }) { server in
            let (player, _) = try await server.join("ada")
            defer { player.close() }
            let gm = try await server.token("gm", role: .gm)
            let body = #"{"campaign_id": "demo", "location": "Brindlewick", "intent": "we enter the tavern", "broadcast": true}"#
            var offsets: [Int] = []
            for _ in 0..<2 {
                var request = HTTPClientRequest(url: server.url("/v1/generate/scene"))
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(gm)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "Idempotency-Key", value: "scene-1")
                request.body = .bytes(ByteBuffer(string: body))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                #expect(response.status == .ok)
                let answer = try JSONSerialization.jsonObject(with: Data(try await response.body.collect(upTo: 1 << 22).readableBytesView)) as? [String: Any] ?? [:]
                offsets.append(((answer["broadcast"] as? [String: Any])?["offset"] as? Int) ?? -1)
                #expect(!(answer["knowledge_items"] as? [Any] ?? []).isEmpty)
            }
            #expect(offsets[0] > 0 && offsets[0] == offsets[1])
            let event = try await player.next("event")
            #expect(event["type"] as? String == "gm.scene")
            let payload = event["payload"] as? [String: Any] ?? [:]
            #expect((payload["output"] as? [String: Any])?["narration"] is String)
            #expect(!(payload["knowledge_ids"] as? [String] ?? []).isEmpty)
            // Nothing else arrives (the wait times out): the repeat was not delivered again.
            if let extra = try? await player.next(timeout: .milliseconds(500)) {
                #expect(extra["t"] as? String != "event")
            }
        }
    }

    @Test("an Idempotency-Key used by a broadcast cannot name another request or event: 409, never a 500, and nothing recorded or published", arguments: StoreKind.available.filter { $0 != .memory })
    func reusedKeyIsConflict(backend: StoreKind) async throws {
        try await LiveServer.run(backend, configure: { configuration in
            configuration.services = ["party-sync", "gateway"]
            configuration.generation.profilesPath = Self.repository.appendingPathComponent("profiles/profiles.yaml")
            configuration.knowledge.contentDirectory = Self.repository.appendingPathComponent("content/demo")
        }) { server in
            let gm = try await server.token("gm", role: .gm)
            func generate(_ endpoint: String, _ body: String, key: String) async throws -> (status: Int, code: String?, recorded: Any?) {
                var request = HTTPClientRequest(url: server.url("/v1/generate/\(endpoint)"))
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer \(gm)")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "Idempotency-Key", value: key)
                request.body = .bytes(ByteBuffer(string: body))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                let answer = try JSONSerialization.jsonObject(with: Data(try await response.body.collect(upTo: 1 << 22).readableBytesView)) as? [String: Any] ?? [:]
                return (Int(response.status.code), answer["code"] as? String, answer["recorded"])
            }
            let scene = try await generate("scene", #"{"campaign_id": "demo", "intent": "we enter the tavern", "broadcast": true}"#, key: "K1")
            #expect(scene.status == 200)
            // Another endpoint under the same key, recording too: refused before anything is written.
            let knowledge = try #require(server.server.knowledge)
            let recordsBefore = try await knowledge.primary.counts()
            let combat = try await generate("combat", #"{"campaign_id": "demo", "broadcast": true, "record": true, "combatants": [{"id": "g1", "name": "Goblin", "side": "enemy"}]}"#, key: "K1")
            #expect(combat.status == 409 && combat.code == "idempotency_key_reused")
            let recordsAfter = try await knowledge.primary.counts()
            #expect(recordsAfter.documents == recordsBefore.documents && recordsAfter.chunks == recordsBefore.chunks)
            // A REST publish under the key of the broadcast.
            let rest = try await server.restPublish(type: "chat.say", payload: ["text": "hi"], key: "K1", token: gm)
            #expect(rest.status == 409 && rest.body.contains("idempotency_key_reused"))
            // A broadcast under the key of a REST publish.
            let published = try await server.restPublish(type: "chat.say", payload: ["text": "hi"], key: "K2", token: gm)
            #expect(published.status == 201)
            let after = try await generate("scene", #"{"campaign_id": "demo", "intent": "we leave", "broadcast": true}"#, key: "K2")
            #expect(after.status == 409 && after.code == "idempotency_key_reused")
            // The same request again is a repeat, not a conflict.
            let again = try await generate("scene", #"{"campaign_id": "demo", "intent": "we enter the tavern", "broadcast": true}"#, key: "K1")
            #expect(again.status == 200)
            let page = try await HTTPClient.shared.execute(HTTPClientRequest(url: server.url("/v1/campaigns/demo/events?after=0")).authorized(gm), timeout: .seconds(10))
            let events = (try JSONSerialization.jsonObject(with: Data(try await page.body.collect(upTo: 1 << 22).readableBytesView)) as? [String: Any])?["events"] as? [[String: Any]] ?? []
            #expect(events.map { $0["type"] as? String } == ["gm.scene", "chat.say"])
        }
    }
}

extension HTTPClientRequest {
    func authorized(_ token: String) -> HTTPClientRequest {
        var request = self
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        return request
    }
}
