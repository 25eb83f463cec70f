import AsyncHTTPClient
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
}
