import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RPGBotApp
import ServiceKit
import TestSupport
import Testing

@Suite("Media job updates in the campaign stream")
struct MediaUpdatesTests {
    static let espeakAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/espeak-ng") || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"

    @Test("a campaign's TTS job reports queued, running and succeeded to the party", .enabled(if: espeakAvailable, "needs espeak-ng"))
    func jobUpdatesReachThePlayers() async throws {
        try await LiveServer.run(.sqlite, configure: { $0.services = ["party-sync", "media-broker"] }) { server in
            let (player, _) = try await server.join("ada")
            defer { player.close() }
            var request = HTTPClientRequest(url: server.url("/v1/media/tts"))
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(try await server.token("ada"))")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"text": "Welcome to Brindlewick.", "voice": "en-us", "language": "en", "format": "wav", "campaign_id": "demo"}"#))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            #expect(response.status == .accepted || response.status == .ok)
            let answer = try JSONSerialization.jsonObject(with: Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)) as? [String: Any] ?? [:]
            let jobID = try #require(answer["job_id"] as? String)
            var statuses: [String] = []
            while statuses.last != "succeeded" {
                let event = try await player.next("event")
                #expect(event["type"] as? String == "media.job_updated")
                let payload = event["payload"] as? [String: Any] ?? [:]
                #expect(payload["job_id"] as? String == jobID)
                statuses.append(payload["status"] as? String ?? "?")
                if statuses.last == "succeeded" { #expect((payload["artifact"] as? [String: Any])?["url"] is String) }
            }
            #expect(statuses == ["queued", "running", "succeeded"])
        }
    }
}
