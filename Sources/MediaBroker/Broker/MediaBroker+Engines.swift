public import JSONValues
import Crypto
public import Foundation
import Logging
import Observability
public import ServiceKit
import ServiceLifecycle
import Synchronization
import Tracing

/// The engine registry: which engines a configuration gives, which one serves a kind by
/// default, and what each can do right now (`GET /v1/media/engines`).
extension MediaBroker {
    /// The engines a configuration names: the configured ones, plus the offline ones that always work.
    public static func standardEngines(_ settings: MediaSettings) -> (speech: [any SpeechEngine], images: [any ImageEngine]) {
        var speech: [any SpeechEngine] = [EspeakEngine()]
        var images: [any ImageEngine] = [PlaceholderImageEngine()]
        if settings.speechEngine == "openai" {
            speech.append(OpenAISpeechEngine(settings: OpenAIMediaSettings(baseURL: settings.openAIBaseURL, apiKey: settings.openAIKey, model: settings.speechModel, timeout: settings.jobTimeout)))
        }
        if settings.imageEngine == "openai" {
            images.append(OpenAIImageEngine(settings: OpenAIMediaSettings(baseURL: settings.openAIBaseURL, apiKey: settings.openAIKey, model: settings.imageModel, timeout: settings.jobTimeout)))
        }
        return (speech, images)
    }

    public func defaultEngine(_ kind: MediaKind) -> String {
        kind == .tts ? settings.speechEngine : settings.imageEngine
    }

    /// Engines of a kind this process can run, the configured one first.
    func defaultEngines(_ kind: MediaKind) -> [String] {
        let names = kind == .tts ? Array(speechEngines.keys) : Array(imageEngines.keys)
        let preferred = defaultEngine(kind)
        return [preferred] + names.filter { $0 != preferred }.sorted()
    }

    /// What each engine can do now.
    public func engines() async -> [JSONValue] {
        var list: [JSONValue] = []
        for (name, engine) in speechEngines.sorted(by: { $0.key < $1.key }) {
            let capabilities = await engine.capabilities()
            list.append(.object([
                "kind": .string("tts"), "name": .string(name), "default": .bool(name == settings.speechEngine), "ready": .bool(capabilities.ready),
                "problem": capabilities.problem.map(JSONValue.string) ?? .null,
                "formats": .array(capabilities.formats.map { .string($0.rawValue) }),
                "voices": .array(capabilities.voices.map { .object(["id": .string($0.id), "language": .string($0.language), "name": .string($0.name)]) }),
            ]))
        }
        for (name, engine) in imageEngines.sorted(by: { $0.key < $1.key }) {
            let capabilities = await engine.capabilities()
            list.append(.object([
                "kind": .string("image"), "name": .string(name), "default": .bool(name == settings.imageEngine), "ready": .bool(capabilities.ready),
                "problem": capabilities.problem.map(JSONValue.string) ?? .null,
                "sizes": .array(capabilities.sizes.map { .string($0.description) }), "styles": .array(capabilities.styles.map(JSONValue.string)),
                "offline_placeholder": .bool(name == "placeholder"),
            ]))
        }
        return list
    }
}
