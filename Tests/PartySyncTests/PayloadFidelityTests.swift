import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import ServiceKit
import TestSupport
import Testing

@Suite("Payloads come back exactly as they were sent")
struct PayloadFidelityTests {
    /// Numbers a `Double` cannot hold, or would print differently.
    static let payload = #"{"big":9007199254740993,"huge":123456789012345678901234567890,"tiny":1e-400,"one":1.0,"neg":-0.0,"list":[1E+2,0.1],"text":"caf\u00e9 \ud83c\udfb2"}"#
    /// The same, compact with sorted keys and the string escapes decoded: what the server hands back.
    static let expected = #"{"big":9007199254740993,"huge":123456789012345678901234567890,"list":[1E+2,0.1],"neg":-0.0,"one":1.0,"text":"café 🎲","tiny":1e-400}"#

    /// The `payload` member of a frame, cut out of the raw text (a JSON parser would change it).
    static func rawPayload(_ frame: String) -> String? {
        guard let start = frame.range(of: #""payload":"#)?.upperBound else { return nil }
        var depth = 0
        var inString = false
        var escaped = false
        var end = start
        for index in frame[start...].indices {
            let character = frame[index]
            end = frame.index(after: index)
            if inString {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inString = false }
                continue
            }
            if character == "\"" { inString = true } else if character == "{" || character == "[" { depth += 1 } else if character == "}" || character == "]" {
                depth -= 1
                if depth == 0 { break }
            }
        }
        return String(frame[start..<end])
    }

    @Test("numbers beyond a Double's precision or range survive publish, live delivery, replay and history", arguments: StoreKind.available.filter { $0 != .memory })
    func exactNumbers(_ backend: StoreKind) async throws {
        try await LiveServer.run(backend) { server in
            let (listener, welcome) = try await server.join("bob")
            let (publisher, _) = try await server.join("alice")
            publisher.send(#"{"t":"publish","cmid":"n1","type":"dice.custom","payload":"# + Self.payload + "}")
            var live: String?
            while live == nil, let text = try await listener.nextText(timeout: .seconds(10)) {
                if text.contains(#""t":"event""#) { live = text }
            }
            #expect(Self.rawPayload(try #require(live)) == Self.expected)
            // The same cmid and payload (written differently) is a repeat, not a conflict.
            publisher.send(#"{"t":"publish","cmid":"n1","type":"dice.custom","payload":"# + Self.expected + "}")
            #expect(try await publisher.next("ack")["duplicate"] as? Bool == false)
            #expect(try await publisher.next("ack")["duplicate"] as? Bool == true)

            // REST publish, then replay and REST history.
            let gm = try await server.token("gm", role: .gm)
            var request = HTTPClientRequest(url: server.url("/v1/campaigns/demo/events"))
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(gm)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"type": "dice.custom", "payload": "# + Self.payload + "}"))
            #expect(try await HTTPClient.shared.execute(request, timeout: .seconds(10)).status == .created)

            let epoch = try #require(welcome["epoch"] as? String)
            let late = server.webSocket()
            late.send(json: ["t": "hello", "v": 1, "token": try await server.token("carol"), "since": ["epoch": epoch, "offset": 0]])
            var replayed: [String] = []
            while replayed.count < 2, let text = try await late.nextText(timeout: .seconds(10)) {
                if text.contains(#""t":"event""#) { replayed.append(text) }
            }
            #expect(replayed.map(Self.rawPayload) == [Self.expected, Self.expected])

            var page = HTTPClientRequest(url: server.url("/v1/campaigns/demo/events?after=0"))
            page.headers.add(name: "Authorization", value: "Bearer \(gm)")
            let history = String(buffer: try await HTTPClient.shared.execute(page, timeout: .seconds(10)).body.collect(upTo: 1 << 20))
            #expect(history.components(separatedBy: Self.expected).count == 3)
            listener.close()
            publisher.close()
            late.close()
        }
    }

    @Test("a payload that is not JSON by the grammar is refused, on WebSocket and REST")
    func invalidPayloads() async throws {
        try await LiveServer.run { server in
            let (client, _) = try await server.join("alice")
            for bad in ["01", "1.", ".5", "+1", "NaN", "[1,]", #""\ud800""#, "\"tab\there\""] {
                client.send(#"{"t":"publish","cmid":"b","type":"x","payload":"# + bad + "}")
                #expect(try await client.next("error")["reason"] as? String == "invalid_json", "for \(bad)")
            }
            let gm = try await server.token("gm", role: .gm)
            let answer = try await server.restPublishRaw(#"{"type": "x", "payload": [1,]}"#, token: gm)
            #expect(answer.status == 400 && answer.body.contains("malformed_json"))
            client.close()
        }
    }
}

extension LiveServer {
    func restPublishRaw(_ body: String, campaign: String = "demo", token: String) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url("/v1/campaigns/\(campaign)/events"))
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }
}
