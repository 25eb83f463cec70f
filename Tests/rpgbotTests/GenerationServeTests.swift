import AsyncHTTPClient
import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// `/v1/generation` in a running `rpgbot serve`, with a provider behind it.
@Suite struct GenerationServeTests {
    static let npc = #"{"name":"Maren","role":"priestess","disposition":"unfriendly","appearance":"Soaked robes.","traits":["stern"],"greeting":"You bring the river's stink in here.","secret":null}"#

    static func post(_ url: String, token: String, body: String, headers: [(String, String)] = []) async throws -> (status: Int, headers: HTTPHeaders, body: [String: Any]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 4 << 20)
        return (Int(response.status.code), response.headers, (try? jsonObject(Data(bytes.readableBytesView))) ?? [:])
    }

    @Test func generationCallsTheProviderWithTheTraceAndCountsTheOutcome() async throws {
        let provider = ScriptedProviderServer([Wire.chat(content: Self.npc, prompt: 150, completion: 60)])
        try await provider.run { base in
            try await withTemporaryDirectory { directory in
                let server = try await ChildProcess.rpgbot(
                    ["serve", "--port", "0", "--data-dir", directory.path, "--services", "gateway", "--enable-metrics", "true",
                     "--profiles", GenerationCommandTests.repository.appendingPathComponent("profiles/profiles.yaml").path],
                    environment: ["RPGBOT_LLM_PROVIDER": "openai-chat", "RPGBOT_LLM_BASE_URL": base, "RPGBOT_LLM_API_KEY": "sk-local"]
                )
                let port = try await server.waitUntilListening()
                let token = try await ChildProcess.runRPGBot(["token", "--sub", "ada", "--campaign", "demo", "--role", "player", "--data-dir", directory.path])
                    .stdout.trimmingCharacters(in: .whitespacesAndNewlines)

                let traceID = "0af7651916cd43dd8448eb211c80319c"
                let answer = try await Self.post(
                    "http://127.0.0.1:\(port)/v1/generation/npc", token: token, body: #"{"input": {"name": "Maren"}}"#,
                    headers: [("traceparent", "00-\(traceID)-b7ad6b7169203331-01")]
                )
                #expect(answer.status == 200, "\(answer.body)")
                #expect((answer.body["output"] as? [String: Any])?["greeting"] as? String == "You bring the river's stink in here.")
                #expect(answer.body["trace_id"] as? String == traceID)
                #expect((answer.body["usage"] as? [String: Any])?["input_tokens"] as? Int == 150)

                // The provider saw the key and the same trace.
                let call = try #require(provider.requests.first)
                #expect(call.headers[.authorization] == "Bearer sk-local")
                let traceparent = try #require(call.headers[HTTPField.Name("traceparent")!])
                #expect(traceparent.split(separator: "-")[1] == Substring(traceID))

                let metrics = try await ServeTests.get("http://127.0.0.1:\(port)/metrics")
                #expect(metrics.body.contains(#"genlayers_generations_total{profile="npc",provider="openai-chat",outcome="success"} 1"#))
                #expect(metrics.body.contains(#"genlayers_tokens_total{profile="npc",provider="openai-chat",kind="input"} 150"#))

                // The script is spent: the provider now answers 500, retried, then a 502 problem.
                let failed = try await Self.post("http://127.0.0.1:\(port)/v1/generation/npc", token: token, body: #"{"input": {}}"#)
                #expect(failed.status == 502)
                #expect(failed.body["code"] as? String == "provider_error")
                #expect(try await server.stop() == 0)
            }
        }
    }

    @Test func aBrokenProfileStopsStartUpNamingTheProfile() async throws {
        try await withTemporaryDirectory { directory in
            try #"{"type":"object","properties":{"a":{"type":"string"}}}"#.write(to: directory.file("open.json"), atomically: true, encoding: .utf8)
            try "profiles:\n  loose:\n    description: d\n    schema: open.json\n    system: s\n    user: u\n".write(to: directory.file("profiles.yaml"), atomically: true, encoding: .utf8)
            let result = try await ChildProcess.runRPGBot(["serve", "--port", "0", "--data-dir", directory.path, "--profiles", directory.file("profiles.yaml").path])
            #expect(result.status == 1)
            #expect(result.stderr.contains("profile 'loose'"))
            #expect(result.stderr.contains("additionalProperties"))
        }
    }
}
