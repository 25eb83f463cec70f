import Foundation
import HTTPTypes
import MediaBroker
import TestSupport
import Testing

@Suite("OpenAI-compatible media engines against a server speaking the OpenAI wire format")
struct OpenAIMediaEngineTests {
    @Test("speech: POST /v1/audio/speech with model, voice, input, response_format and speed; a 429 is transient, a 400 is not")
    func speech() async throws {
        let audio = Data("ID3fake-mp3-bytes".utf8)
        let server = ScriptedProviderServer([
            .init(headers: [.contentType: "audio/mpeg"], body: String(decoding: audio, as: UTF8.self)),
            Wire.error(.tooManyRequests, "Rate limit reached"),
            Wire.error(.badRequest, "Invalid voice"),
        ])
        try await server.run { base in
            let engine = OpenAISpeechEngine(settings: OpenAIMediaSettings(baseURL: base, apiKey: "sk-test", model: "gpt-4o-mini-tts", timeout: .seconds(10)))
            let output = try await engine.synthesize(SpeechRequest(text: "Hello there", voice: "nova", language: "en", format: .mp3, speed: 1.25))
            #expect(output.data == audio && output.contentType == "audio/mpeg")
            await #expect(throws: MediaEngineError.self) { try await engine.synthesize(SpeechRequest(text: "x", voice: "nova", language: "en", format: .ogg)) }
            do {
                _ = try await engine.synthesize(SpeechRequest(text: "x", voice: "nova", language: "en", format: .wav))
                Issue.record("a 400 must fail")
            } catch let error as MediaEngineError {
                #expect(!error.transient)
            }
        }
        let first = try #require(server.requests.first)
        #expect(first.path == "/v1/audio/speech")
        #expect(first.headers[.authorization] == "Bearer sk-test")
        let body = first.body
        #expect(body["model"] as? String == "gpt-4o-mini-tts" && body["voice"] as? String == "nova" && body["input"] as? String == "Hello there")
        #expect(body["response_format"] as? String == "mp3" && body["speed"] as? Double == 1.25)
        // OGG is asked for as Ogg Opus.
        #expect(server.requests[1].body["response_format"] as? String == "opus")
    }

    @Test("images: POST /v1/images/generations with b64_json; the PNG comes back decoded")
    func images() async throws {
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3])
        let server = ScriptedProviderServer([
            .init(body: #"{"created": 1700000000, "data": [{"b64_json": "\#(png.base64EncodedString())"}]}"#),
            .init(body: #"{"created": 1700000000, "data": [{"url": "https://example.invalid/x.png"}]}"#),
        ])
        try await server.run { base in
            let engine = OpenAIImageEngine(settings: OpenAIMediaSettings(baseURL: base, apiKey: "sk-test", model: "gpt-image-1", timeout: .seconds(10)))
            let output = try await engine.render(ImageRequest(prompt: "A lighthouse in fog", style: nil, width: 1024, height: 1024))
            #expect(output.data == png && output.contentType == "image/png")
            await #expect(throws: MediaEngineError.self) { try await engine.render(ImageRequest(prompt: "x", style: nil, width: 1024, height: 1024)) }
        }
        let body = try #require(server.requests.first).body
        #expect(server.requests.first?.path == "/v1/images/generations")
        #expect(body["prompt"] as? String == "A lighthouse in fog" && body["size"] as? String == "1024x1024" && body["response_format"] as? String == "b64_json" && body["n"] as? Int == 1)
    }
}
