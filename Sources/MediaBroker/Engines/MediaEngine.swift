public import Foundation

/// Bytes an engine produced and what they are.
public struct MediaOutput: Sendable {
    public var data: Data
    public var contentType: String
    /// The file extension the artifact is stored under (`wav`, `png`…).
    public var fileExtension: String

    public init(data: Data, contentType: String, fileExtension: String) {
        self.data = data
        self.contentType = contentType
        self.fileExtension = fileExtension
    }
}

/// Why an engine produced nothing. Transient failures are retried with backoff; the others
/// fail the job at once.
public struct MediaEngineError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var transient: Bool

    public init(_ message: String, transient: Bool) {
        self.message = message
        self.transient = transient
    }

    public var description: String { message }
}

/// A voice an engine speaks with.
public struct VoiceDescription: Sendable, Equatable {
    public var id: String
    /// BCP 47-ish language code (`en`, `en-us`, `ru`).
    public var language: String
    public var name: String
    /// Other language codes the engine accepts for this voice, with its rank among the voices
    /// for each (lower is preferred): espeak-ng picks `en-gb` for `en`.
    public var alsoFor: [String: Int]

    public init(id: String, language: String, name: String, alsoFor: [String: Int] = [:]) {
        self.id = id
        self.language = language
        self.name = name
        self.alsoFor = alsoFor
    }
}

/// What a speech engine can do right now.
public struct SpeechCapabilities: Sendable {
    public var ready: Bool
    /// Why it is not ready.
    public var problem: String?
    public var voices: [VoiceDescription]
    public var formats: [AudioFormat]

    public init(ready: Bool, problem: String? = nil, voices: [VoiceDescription], formats: [AudioFormat]) {
        self.ready = ready
        self.problem = problem
        self.voices = voices
        self.formats = formats
    }

    /// The voice a requested voice or language code names: a voice id; else the engine's
    /// preferred voice for that language code (as the engine itself resolves `-v en`); else
    /// the first voice of a more specific language (`pt` → `pt-br`); else, for a language code
    /// (`isLanguage`), a voice that speaks every language. nil when nothing fits.
    public func voice(for code: String, isLanguage: Bool = false) -> VoiceDescription? {
        let code = code.lowercased()
        if let exact = voices.first(where: { $0.id.lowercased() == code }) { return exact }
        let ranked = voices.enumerated().compactMap { index, voice in voice.alsoFor[code].map { (rank: $0, index: index, voice: voice) } }
        if let best = ranked.min(by: { ($0.rank, $0.index) < ($1.rank, $1.index) }) { return best.voice }
        if let specific = voices.first(where: { $0.language.lowercased().hasPrefix(code + "-") }) { return specific }
        return isLanguage ? voices.first { $0.language == "*" } : nil
    }
}

/// What an image engine can do right now.
public struct ImageCapabilities: Sendable {
    public var ready: Bool
    public var problem: String?
    /// Allowed `WIDTHxHEIGHT` sizes.
    public var sizes: [ImageSize]
    public var styles: [String]

    public init(ready: Bool, problem: String? = nil, sizes: [ImageSize], styles: [String]) {
        self.ready = ready
        self.problem = problem
        self.sizes = sizes
        self.styles = styles
    }
}

public struct ImageSize: Sendable, Hashable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public var description: String { "\(width)x\(height)" }
}

/// Turns text into speech. Implementations: ``EspeakEngine`` (a local subprocess) and
/// ``OpenAISpeechEngine`` (`POST /v1/audio/speech`).
public protocol SpeechEngine: Sendable {
    var name: String { get }
    func capabilities() async -> SpeechCapabilities
    func synthesize(_ request: SpeechRequest) async throws -> MediaOutput
}

/// Turns a prompt into an image. Implementations: ``PlaceholderImageEngine`` (offline cards)
/// and ``OpenAIImageEngine`` (`POST /v1/images/generations`).
public protocol ImageEngine: Sendable {
    var name: String { get }
    func capabilities() async -> ImageCapabilities
    func render(_ request: ImageRequest) async throws -> MediaOutput
}
