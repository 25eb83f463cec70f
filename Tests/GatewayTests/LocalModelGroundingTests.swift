import Foundation
import Gateway
import Genlayers
import HTTPTypes
import JSONSchema
import JSONValues
import Testing

/// The whole chain with a real model: frame → Memory37 → narrowed, grammar-enforceable schema →
/// SmolLM2-135M-Instruct on llama-cpp-python's server (started by the test script, named in
/// `RPGBOT_TEST_LLM_URL`) → validated, grounded JSON. Asserts validity and grounding, never the
/// wording. One request at a time: the model server answers one at a time.
@Suite("/v1/generate/* with a real local model", .serialized)
struct LocalModelGroundingTests {
    static let baseURL = ProcessInfo.processInfo.environment["RPGBOT_TEST_LLM_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let required = ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"
    /// The context the test script starts the model server with.
    static let contextTokens = Int(ProcessInfo.processInfo.environment["RPGBOT_TEST_LLM_CONTEXT"] ?? "") ?? 4096

    @Test(
        "each endpoint answers a fixed frame with valid output citing only the knowledge it was given",
        .enabled(if: baseURL != nil || required, "needs RPGBOT_TEST_LLM_URL (scripts/test.sh starts the model server)"),
        arguments: GroundedGenerationTests.frames.map(\.endpoint)
    )
    func endpoint(_ endpoint: String) async throws {
        let baseURL = try #require(Self.baseURL, "RPGBOT_TEST_LLM_URL is not set")
        let engine = try GatewayFixture.engine(provider: OpenAIChatProvider.providerName, baseURL: baseURL) { settings in
            settings.providerSettings.model = "SmolLM2-135M-Instruct"
            settings.providerSettings.chatDialect = .jsonObject
            settings.providerSettings.timeout = .seconds(300)
            settings.contextTokens = Self.contextTokens
        }
        let body = try #require(GroundedGenerationTests.frames.first { $0.endpoint == endpoint }).body
        try await GatewayFixture.withApp(engine: engine, knowledge: try await GatewayFixture.knowledge()) { client, tokens in
            let answer = try await GatewayFixture.post(client, endpoint, tokens.gm, body)
            let log = answer.body["attempt_log"] as? [[String: Any]] ?? []
            print("local model, \(endpoint): \(answer.status.code), attempts \(log.compactMap { $0["outcome"] as? String }), \(answer.body["latency_ms"] ?? "-") ms")
            try #require(answer.status == .ok, "\(answer.body)")
            let output = try JSONValue.parse(String(decoding: try JSONSerialization.data(withJSONObject: answer.output), as: UTF8.self))
            #expect(try #require(engine.catalog[endpoint]).schema.validate(output).isEmpty)
            #expect(!answer.items.isEmpty)
            let given = Set(answer.items.compactMap { $0["id"] as? String })
            let cited = (answer.output["lore_refs"] as? [String] ?? []) + (answer.output["revealed_facts"] as? [[String: Any]] ?? []).compactMap { $0["lore_ref"] as? String }
            #expect(Set(cited).isSubset(of: given), "cited \(cited), given \(given.sorted())")
            #expect(answer.body["provider"] as? String == "openai-chat")
        }
    }
}
