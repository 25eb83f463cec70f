import Foundation
import Genlayers
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import TestSupport
import Testing

@Suite("/v1/generation over HTTP")
struct GenerationRoutesTests {
    static let secret = Array("a-test-secret-of-at-least-32-bytes!!".utf8)

    func withApp(_ engine: GenerationEngine, rate: Double = 100, burst: Double = 100, _ body: @Sendable (any TestClientProtocol, String) async throws -> Void) async throws {
        let tokens = await TokenAuthority(secret: Self.secret)
        let catalog = RouteCatalog()
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ProblemMiddleware(catalog: catalog, traceID: { nil }))
        GenerationRoutes(engine: engine, tokens: tokens, rate: rate, burst: burst).register(on: CatalogedRouter(router: router, catalog: catalog))
        let token = try await tokens.issue(subject: "ada", campaign: "demo", role: .player, ttl: 600)
        try await Application(router: router).test(.router) { client in
            try await body(client, token)
        }
    }

    func post(_ client: any TestClientProtocol, _ path: String, token: String?, body: String) async throws -> (HTTPResponse.Status, [String: Any]) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            (response.status, (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:])
        }
    }

    @Test("profiles listing and a valid generation")
    func listAndGenerate() async throws {
        let engine = try TestProfiles.engine(provider: "offline")
        try await withApp(engine) { client, token in
            try await client.execute(uri: "/v1/generation/profiles", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/v1/generation/profiles", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                let body = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                let profiles = body?["profiles"] as? [[String: Any]]
                #expect(profiles?.map { $0["name"] as? String } == ["reaction"])
                #expect((profiles?.first?["schema"] as? [String: Any])?["type"] as? String == "object")
            }
            let (status, body) = try await post(client, "/v1/generation/reaction", token: token, body: #"{"input": {"npc": "Maren", "event": "a spilled ale"}}"#)
            #expect(status == .ok)
            let output = try #require(body["output"] as? [String: Any])
            #expect(output["line"] as? String == "Maren frowns at a spilled ale.")
            #expect(body["attempts"] as? Int == 1)
            #expect(body["provider"] as? String == "offline")
            #expect((body["usage"] as? [String: Any])?["input_tokens"] as? Int == 0)
        }
    }

    @Test("unknown profile 404, bad bodies 422/400, rate limit 429")
    func badRequests() async throws {
        let engine = try TestProfiles.engine(provider: "offline")
        try await withApp(engine, rate: 0.001, burst: 2) { client, token in
            var (status, body) = try await post(client, "/v1/generation/nope", token: token, body: "{}")
            #expect(status == .notFound)
            #expect(body["code"] as? String == "unknown_profile")
            (status, body) = try await post(client, "/v1/generation/reaction", token: token, body: #"{"input": [1, 2]}"#)
            #expect(status == .unprocessableContent)
            #expect((body["errors"] as? [[String: Any]])?.first?["pointer"] as? String == "/input")
            (status, body) = try await post(client, "/v1/generation/reaction", token: token, body: #"{"input": "#)
            #expect(status == .badRequest)
            (status, body) = try await post(client, "/v1/generation/reaction", token: token, body: "{}")
            #expect(status == .tooManyRequests)
            #expect(body["code"] as? String == "rate_limited")
        }
    }

    @Test("a model that never fixes its output: 502 with the attempts and no output")
    func neverFixed() async throws {
        let wrong = #"{"mood":"furious","line":"No!","volume":9}"#
        let provider = ScriptedProviderServer(Array(repeating: Wire.chat(content: wrong), count: 2))
        try await provider.run { base in
            let engine = try TestProfiles.engine(baseURL: base, provider: "openai-chat", maxRetries: 1)
            try await withApp(engine) { client, token in
                let (status, body) = try await post(client, "/v1/generation/reaction", token: token, body: #"{"input": {"npc": "Maren", "event": "x"}}"#)
                #expect(status == .badGateway)
                #expect(body["code"] as? String == "generation_failed")
                #expect(body["output"] == nil)
                #expect(body["attempts"] as? Int == 2)
                let last = try #require(body["last_errors"] as? [String])
                #expect(last.contains { $0.hasPrefix("/mood:") })
                let log = try #require(body["attempt_log"] as? [[String: Any]])
                #expect(log.map { $0["outcome"] as? String } == ["schema_violation", "schema_violation"])
                #expect(log.first?["answer_excerpt"] as? String == wrong)
            }
        }
    }

    @Test("a refusal is a 422 with the refusal text")
    func refusal() async throws {
        let provider = ScriptedProviderServer([Wire.responsesRefusal("I can't help with that.")])
        try await provider.run { base in
            let engine = try TestProfiles.engine(baseURL: base, provider: "openai-responses")
            try await withApp(engine) { client, token in
                let (status, body) = try await post(client, "/v1/generation/reaction", token: token, body: #"{"input": {"npc": "Maren", "event": "x"}}"#)
                #expect(status == .unprocessableContent)
                #expect(body["code"] as? String == "model_refused")
                #expect(body["refusal"] as? String == "I can't help with that.")
            }
        }
    }
}
