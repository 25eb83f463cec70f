import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// How to reach an OpenAI-compatible media endpoint.
public struct OpenAIMediaSettings: Sendable {
    public var baseURL: String
    public var apiKey: String?
    public var model: String
    public var timeout: Duration

    public init(baseURL: String = "https://api.openai.com/v1", apiKey: String? = nil, model: String, timeout: Duration = .seconds(120)) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.model = model
        self.timeout = timeout
    }

    /// POSTs JSON; 429, 5xx and transport failures are transient, other statuses are not.
    func post(_ path: String, json: [String: Any]) async throws -> (ByteBuffer, String?) {
        var request = HTTPClientRequest(url: baseURL.trimmingCharacters(in: CharacterSet(charactersIn: "/")) + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])))
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: TimeAmount(timeout))
        } catch {
            throw MediaEngineError("\(path): \(error)", transient: true)
        }
        let body = try await response.body.collect(upTo: 64 << 20)
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let text = String(buffer: body).prefix(300)
            throw MediaEngineError("\(path) answered \(status): \(text)", transient: status == 429 || status >= 500)
        }
        return (body, response.headers.first(name: "Content-Type"))
    }
}

/// Speech from any OpenAI-compatible `POST /v1/audio/speech` (`model`, `voice`, `input`,
/// `response_format`, `speed`); OGG is asked for as `opus` (Ogg Opus).
public struct OpenAISpeechEngine: SpeechEngine {
    public let name = "openai"
    public let settings: OpenAIMediaSettings
    public static let voices = ["alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse"]

    public init(settings: OpenAIMediaSettings) {
        self.settings = settings
    }

    public func capabilities() async -> SpeechCapabilities {
        // The voices speak every language the model does; `language` is not checked against them.
        SpeechCapabilities(ready: true, voices: Self.voices.map { VoiceDescription(id: $0, language: "*", name: $0) }, formats: AudioFormat.allCases)
    }

    public func synthesize(_ request: SpeechRequest) async throws -> MediaOutput {
        let format = request.format == .ogg ? "opus" : request.format.rawValue
        let (body, _) = try await settings.post("/audio/speech", json: [
            "model": settings.model, "voice": request.voice, "input": request.text, "response_format": format, "speed": request.speed,
        ])
        guard body.readableBytes > 0 else { throw MediaEngineError("/audio/speech returned no audio", transient: true) }
        return MediaOutput(data: Data(buffer: body), contentType: request.format.contentType, fileExtension: request.format.rawValue)
    }
}

/// Images from any OpenAI-compatible `POST /v1/images/generations` with `b64_json` answers.
public struct OpenAIImageEngine: ImageEngine {
    public let name = "openai"
    public let settings: OpenAIMediaSettings
    public static let sizes = [
        ImageSize(width: 256, height: 256), ImageSize(width: 512, height: 512), ImageSize(width: 1024, height: 1024),
        ImageSize(width: 1024, height: 1536), ImageSize(width: 1536, height: 1024), ImageSize(width: 1024, height: 1792), ImageSize(width: 1792, height: 1024),
    ]

    public init(settings: OpenAIMediaSettings) {
        self.settings = settings
    }

    public func capabilities() async -> ImageCapabilities {
        ImageCapabilities(ready: true, sizes: Self.sizes, styles: ["vivid", "natural"])
    }

    public func render(_ request: ImageRequest) async throws -> MediaOutput {
        var json: [String: Any] = ["model": settings.model, "prompt": request.prompt, "n": 1, "size": "\(request.width)x\(request.height)", "response_format": "b64_json"]
        if let style = request.style { json["style"] = style }
        let (body, _) = try await settings.post("/images/generations", json: json)
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
              let first = (object["data"] as? [[String: Any]])?.first, let encoded = first["b64_json"] as? String,
              let data = Data(base64Encoded: encoded), !data.isEmpty
        else {
            throw MediaEngineError("/images/generations answered without data[0].b64_json", transient: false)
        }
        let isPNG = data.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47])
        return MediaOutput(data: data, contentType: isPNG ? "image/png" : "image/jpeg", fileExtension: isPNG ? "png" : "jpg")
    }
}
