import JSONValues
import Foundation
import Genlayers
import HTTPTypes
import ServiceKit
import TestSupport
import Testing

/// Each provider against a local server speaking the exact OpenAI wire format.
@Suite("Providers on the wire")
struct ProviderWireTests {
    static let valid = #"{"mood":"angry","line":"Watch where you swing that mug!","volume":4}"#

    @Test("Responses: request shape, output_text, usage")
    func responsesRequestAndReply() async throws {
        let server = ScriptedProviderServer([Wire.responses(text: Self.valid, input: 120, output: 30, cached: 64)])
        let result = try await server.run { base in
            try await TestProfiles.engine(baseURL: base, provider: "openai-responses").generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
        }
        #expect(result.output == (try JSONValue.parse(Self.valid)))
        #expect(result.attempts.count == 1)
        #expect(result.usage == TokenUsage(inputTokens: 120, outputTokens: 30, cachedTokens: 64))
        #expect(result.model == "gpt-4o-2024-08-06")

        let request = try #require(server.requests.first)
        #expect(request.path == "/v1/responses")
        #expect(request.headers[.authorization] == "Bearer sk-test")
        #expect(request.headers[HTTPField.Name("OpenAI-Organization")!] == "org-test")
        #expect(request.body["model"] as? String == "gpt-4o-mini")
        #expect(request.body["instructions"] as? String == "You voice NPCs. Answer in JSON.")
        #expect(request.body["max_output_tokens"] as? Int == 200)
        #expect(request.body["store"] as? Bool == false)
        let input = try #require(request.body["input"] as? [[String: Any]])
        #expect(input.count == 1)
        #expect(input.first?["role"] as? String == "user")
        #expect(input.first?["content"] as? String == "How does Maren react to: a stranger spills her ale?")
        let format = try #require((request.body["text"] as? [String: Any])?["format"] as? [String: Any])
        #expect(format["type"] as? String == "json_schema")
        #expect(format["name"] as? String == "reaction")
        #expect(format["strict"] as? Bool == true)
        // The schema goes out as written, member order included.
        #expect(request.text.contains(#""schema":"# + TestProfiles.reactionSchema))
    }

    @Test("Responses: a refusal is typed and not retried")
    func responsesRefusal() async throws {
        let server = ScriptedProviderServer([Wire.responsesRefusal("I can't help with that."), Wire.responses(text: Self.valid)])
        await #expect {
            try await server.run { base in
                try await TestProfiles.engine(baseURL: base, provider: "openai-responses").generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
            }
        } throws: { error in
            guard case .refused(let text, let attempts, let usage, _) = error as? GenerationFailure else { return false }
            return text == "I can't help with that." && attempts.count == 1 && usage.outputTokens == 12
        }
        #expect(server.requests.count == 1)
    }

    @Test("Responses: status incomplete is retried with the cut-off answer fed back")
    func responsesIncomplete() async throws {
        let server = ScriptedProviderServer([
            Wire.responses(text: #"{"mood":"angry","line":"Watch wh"#, status: "incomplete", incompleteReason: "max_output_tokens"),
            Wire.responses(text: Self.valid),
        ])
        let result = try await server.run { base in
            try await TestProfiles.engine(baseURL: base, provider: "openai-responses").generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
        }
        #expect(result.attempts.map(\.outcome) == [.truncated, .valid])
        #expect(result.usage.inputTokens == 200)
        let retry = try #require(server.requests.last?.body["input"] as? [[String: Any]])
        #expect(retry.count == 3)
        #expect(retry[1]["role"] as? String == "assistant")
        #expect(retry[1]["content"] as? String == #"{"mood":"angry","line":"Watch wh"#)
        #expect((retry[2]["content"] as? String)?.contains("cut off (max_output_tokens)") == true)
    }

    @Test("Chat: json_schema dialect request shape and reply")
    func chatJSONSchemaDialect() async throws {
        let server = ScriptedProviderServer([Wire.chat(content: Self.valid, prompt: 70, completion: 20)])
        let result = try await server.run { base in
            try await TestProfiles.engine(baseURL: base, provider: "openai-chat").generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
        }
        #expect(result.output.objectValue?["mood"] == .string("angry"))
        #expect(result.usage == TokenUsage(inputTokens: 70, outputTokens: 20))
        let request = try #require(server.requests.first)
        #expect(request.path == "/v1/chat/completions")
        let messages = try #require(request.body["messages"] as? [[String: Any]])
        #expect(messages.map { $0["role"] as? String } == ["system", "user"])
        #expect(request.body["max_tokens"] as? Int == 200)
        #expect(request.body["temperature"] as? Double == 0.5)
        let format = try #require(request.body["response_format"] as? [String: Any])
        #expect(format["type"] as? String == "json_schema")
        let wrapper = try #require(format["json_schema"] as? [String: Any])
        #expect(wrapper["name"] as? String == "reaction")
        #expect(wrapper["strict"] as? Bool == true)
        #expect((wrapper["schema"] as? [String: Any])?["additionalProperties"] as? Bool == false)
    }

    @Test("Chat: json_object dialect sends the schema beside the type")
    func chatJSONObjectDialect() async throws {
        let server = ScriptedProviderServer([Wire.chat(content: Self.valid)])
        _ = try await server.run { base in
            try await TestProfiles.engine(baseURL: base, provider: "openai-chat", dialect: .jsonObject).generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
        }
        let format = try #require(server.requests.first?.body["response_format"] as? [String: Any])
        #expect(format["type"] as? String == "json_object")
        #expect(format["json_schema"] == nil)
        #expect((format["schema"] as? [String: Any])?["required"] as? [String] == ["mood", "line", "volume"])
    }

    @Test("Chat: 429 with Retry-After is waited out, then answered")
    func chatRateLimited() async throws {
        let server = ScriptedProviderServer([
            Wire.error(.tooManyRequests, "Rate limit reached", headers: [.retryAfter: "1"]),
            Wire.chat(content: Self.valid),
        ])
        let start = ContinuousClock.now
        let result = try await server.run { base in
            try await TestProfiles.engine(baseURL: base, provider: "openai-chat").generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
        }
        // The second call came no sooner than the server asked (a lower bound, not a speed check).
        #expect(ContinuousClock.now - start >= .milliseconds(950))
        #expect(server.requests.count == 2)
        #expect(result.attempts.count == 1)
    }

    @Test("Chat: a Retry-After beyond the longest backoff ends the generation as a provider error")
    func chatRetryAfterTooLong() async throws {
        let server = ScriptedProviderServer([Wire.error(.tooManyRequests, "Quota exceeded", headers: [.retryAfter: "3600"])])
        await #expect {
            try await server.run { base in
                try await TestProfiles.engine(baseURL: base, provider: "openai-chat").generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
            }
        } throws: { error in
            guard case .provider(.rateLimited(let retryAfter, let detail), _, _) = error as? GenerationFailure else { return false }
            return retryAfter == .seconds(3600) && detail == "Quota exceeded"
        }
        #expect(server.requests.count == 1)
    }

    @Test("Chat: 5xx is retried with backoff up to the transport budget")
    func chatServerErrors() async throws {
        let server = ScriptedProviderServer([
            Wire.error(.internalServerError, "boom"), Wire.error(.badGateway, "boom"), Wire.error(.serviceUnavailable, "still down"),
        ])
        await #expect {
            try await server.run { base in
                try await TestProfiles.engine(baseURL: base, provider: "openai-chat", transportRetries: 2).generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
            }
        } throws: { error in
            guard case .provider(.unavailable(let status, _, let detail), let attempts, _) = error as? GenerationFailure else { return false }
            return status == 503 && detail == "still down" && attempts.count == 1
        }
        #expect(server.requests.count == 3)
    }

    @Test("Chat: 401 is not retried")
    func chatRejected() async throws {
        let server = ScriptedProviderServer([Wire.error(.unauthorized, "Incorrect API key provided"), Wire.chat(content: Self.valid)])
        await #expect {
            try await server.run { base in
                try await TestProfiles.engine(baseURL: base, provider: "openai-chat").generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
            }
        } throws: { error in
            guard case .provider(.rejected(401, let detail), _, _) = error as? GenerationFailure else { return false }
            return detail == "Incorrect API key provided"
        }
        #expect(server.requests.count == 1)
    }

    @Test("Chat: invalid JSON, then valid on the re-ask with the parse error fed back")
    func chatInvalidJSONThenValid() async throws {
        let server = ScriptedProviderServer([Wire.chat(content: #"Sure! {"mood": "angry", "line": "Oi!""#), Wire.chat(content: Self.valid)])
        let result = try await server.run { base in
            try await TestProfiles.engine(baseURL: base, provider: "openai-chat").generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
        }
        #expect(result.attempts.map(\.outcome) == [.invalidJSON, .valid])
        #expect(result.usage.inputTokens == 180)
        let messages = try #require(server.requests.last?.body["messages"] as? [[String: Any]])
        #expect(messages.map { $0["role"] as? String } == ["system", "user", "assistant", "user"])
        #expect((messages[3]["content"] as? String)?.contains("not valid JSON") == true)
    }

    @Test("Chat: a schema violation the model never fixes ends as invalid output, none returned")
    func chatNeverFixed() async throws {
        let wrong = #"{"mood":"furious","line":"No!","volume":9}"#
        let server = ScriptedProviderServer(Array(repeating: Wire.chat(content: wrong), count: 3))
        await #expect {
            try await server.run { base in
                try await TestProfiles.engine(baseURL: base, provider: "openai-chat", maxRetries: 2).generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
            }
        } throws: { error in
            guard case .invalidOutput(let attempts, let usage, _) = error as? GenerationFailure else { return false }
            let errors = attempts.last?.errors ?? []
            return attempts.count == 3 && usage.inputTokens == 270
                && errors.contains { $0.hasPrefix("/mood:") } && errors.contains { $0.hasPrefix("/volume:") }
        }
        #expect(server.requests.count == 3)
        // Each re-ask carried the instance locations of the errors.
        let last = try #require(server.requests.last?.body["messages"] as? [[String: Any]])
        #expect((last.last?["content"] as? String)?.contains("/volume") == true)
    }

    @Test("Chat: message.refusal and finish_reason length")
    func chatRefusalAndLength() async throws {
        let refusing = ScriptedProviderServer([Wire.chat(content: nil, refusal: "I won't write that.")])
        await #expect {
            try await refusing.run { base in
                try await TestProfiles.engine(baseURL: base, provider: "openai-chat").generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
            }
        } throws: { error in
            if case .refused("I won't write that.", _, _, _) = error as? GenerationFailure { return true }
            return false
        }
        let cut = ScriptedProviderServer([Wire.chat(content: #"{"mood":"ca"#, finishReason: "length"), Wire.chat(content: Self.valid)])
        let result = try await cut.run { base in
            try await TestProfiles.engine(baseURL: base, provider: "openai-chat").generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
        }
        #expect(result.attempts.map(\.outcome) == [.truncated, .valid])

        // A long cut-off answer goes back only in part, with a budget half the one overrun.
        let long = #"{"mood":"calm","line":""# + String(repeating: "and then the tide came in ", count: 120)
        let cutLong = ScriptedProviderServer([Wire.chat(content: long, finishReason: "length"), Wire.chat(content: Self.valid)])
        _ = try await cutLong.run { base in
            try await TestProfiles.engine(baseURL: base, provider: "openai-chat").generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
        }
        let retry = try #require(cutLong.requests.last?.body["messages"] as? [[String: Any]])
        #expect(((retry[2]["content"] as? String)?.count ?? 0) <= 601 && long.count > 3000)
        #expect((retry[3]["content"] as? String)?.contains("after about 200 tokens") == true)
        #expect((retry[3]["content"] as? String)?.contains("at most about 100 tokens") == true)
    }

    @Test("Chat: an unreachable server is a transport error after the retries")
    func unreachable() async throws {
        await #expect {
            try await TestProfiles.engine(baseURL: "http://127.0.0.1:\(try freeLoopbackPort())/v1", provider: "openai-chat", transportRetries: 1)
                .generate(GenerationRequest(profile: "reaction", input: TestProfiles.input))
        } throws: { error in
            if case .provider(.transport, _, _) = error as? GenerationFailure { return true }
            return false
        }
    }
}
