public import JSONValues
import Crypto
public import Foundation
public import ServiceKit

/// What a media job makes.
public enum MediaKind: String, Sendable, Codable, CaseIterable {
    case tts, image
}

/// A job's lifecycle: `queued → running → succeeded | failed | canceled`.
public enum MediaJobStatus: String, Sendable, Codable, CaseIterable {
    case queued, running, succeeded, failed, canceled

    /// Whether the job will not change again.
    public var isFinal: Bool { self == .succeeded || self == .failed || self == .canceled }

    /// Whether a new identical request joins this job instead of starting another.
    /// A failed or canceled job does not poison its key.
    public var sharesKey: Bool { self == .queued || self == .running || self == .succeeded }
}

/// Audio formats a speech job can produce.
public enum AudioFormat: String, Sendable, Codable, CaseIterable {
    case wav, ogg, mp3

    public var contentType: String {
        switch self {
        case .wav: "audio/wav"
        case .ogg: "audio/ogg"
        case .mp3: "audio/mpeg"
        }
    }
}

/// Narration to speak.
public struct SpeechRequest: Sendable, Equatable {
    public var text: String
    public var voice: String
    public var language: String
    public var format: AudioFormat
    /// 0.5–2.0, 1 is the engine's normal pace.
    public var speed: Double

    public init(text: String, voice: String, language: String, format: AudioFormat, speed: Double = 1) {
        self.text = text
        self.voice = voice
        self.language = language
        self.format = format
        self.speed = speed
    }
}

/// An image to render.
public struct ImageRequest: Sendable, Equatable {
    public var prompt: String
    public var style: String?
    public var width: Int
    public var height: Int

    public init(prompt: String, style: String?, width: Int, height: Int) {
        self.prompt = prompt
        self.style = style
        self.width = width
        self.height = height
    }
}

/// The work of a job.
public enum MediaRequest: Sendable, Equatable {
    case speech(SpeechRequest)
    case image(ImageRequest)

    public var kind: MediaKind {
        switch self {
        case .speech: .tts
        case .image: .image
        }
    }

    /// Whitespace runs become one space, the ends are trimmed, Unicode is in NFC: texts that
    /// read the same make the same job.
    public static func normalize(_ text: String) -> String {
        text.precomposedStringWithCanonicalMapping.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// The parameters as stored with the job (and hashed into its key), canonical JSON.
    public var parameters: JSONValue {
        switch self {
        case .speech(let speech):
            .object([
                "text": .string(speech.text), "voice": .string(speech.voice), "language": .string(speech.language),
                "format": .string(speech.format.rawValue), "speed": .number(speech.speed),
            ])
        case .image(let image):
            .object([
                "prompt": .string(image.prompt), "style": image.style.map(JSONValue.string) ?? .null,
                "width": .number(Double(image.width)), "height": .number(Double(image.height)),
            ])
        }
    }

    /// Reads back what ``parameters`` wrote.
    public init?(kind: MediaKind, parameters: JSONValue) {
        guard let members = parameters.objectValue else { return nil }
        switch kind {
        case .tts:
            guard let text = members["text"]?.stringValue, let voice = members["voice"]?.stringValue, let language = members["language"]?.stringValue,
                  let format = members["format"]?.stringValue.flatMap(AudioFormat.init(rawValue:)), let speed = members["speed"]?.numberValue
            else { return nil }
            self = .speech(SpeechRequest(text: text, voice: voice, language: language, format: format, speed: speed))
        case .image:
            guard let prompt = members["prompt"]?.stringValue, let width = members["width"]?.numberValue, let height = members["height"]?.numberValue else { return nil }
            self = .image(ImageRequest(prompt: prompt, style: members["style"]?.stringValue, width: Int(width), height: Int(height)))
        }
    }

    /// SHA-256 over the kind, the engine and every parameter that changes the output: two
    /// requests with the same key would produce the same bytes.
    public func key(engine: String) -> String {
        let canonical = JSONValue.object(["kind": .string(kind.rawValue), "engine": .string(engine), "parameters": parameters]).canonicalText
        return SHA256.hash(data: Data(canonical.utf8)).hexString
    }
}

/// A stored output: its bytes live in the artifact folder under their SHA-256.
public struct ArtifactReference: Sendable, Equatable {
    public var sha256: String
    public var contentType: String
    public var bytes: Int

    public init(sha256: String, contentType: String, bytes: Int) {
        self.sha256 = sha256
        self.contentType = contentType
        self.bytes = bytes
    }
}

/// One media job, as stored.
public struct MediaJob: Sendable, Equatable {
    public var id: String
    public var kind: MediaKind
    public var engine: String
    public var key: String
    public var parameters: JSONValue
    public var campaignID: String?
    /// Who asked first (the token's subject).
    public var owner: String
    public var status: MediaJobStatus
    /// Engine runs started (retries of transient errors included).
    public var attempts: Int
    /// A problem detail when the job failed.
    public var error: JSONValue?
    public var artifact: ArtifactReference?
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// A running job whose lease passed is considered abandoned (its process died) and is queued again.
    public var leaseUntil: Date?
    /// The W3C traceparent of the request that created the job, so its run links back to it.
    public var traceparent: String?

    public init(id: String, kind: MediaKind, engine: String, key: String, parameters: JSONValue, campaignID: String?, owner: String, status: MediaJobStatus = .queued, attempts: Int = 0, error: JSONValue? = nil, artifact: ArtifactReference? = nil, createdAt: Date, startedAt: Date? = nil, finishedAt: Date? = nil, leaseUntil: Date? = nil, traceparent: String? = nil) {
        self.id = id
        self.kind = kind
        self.engine = engine
        self.key = key
        self.parameters = parameters
        self.campaignID = campaignID
        self.owner = owner
        self.status = status
        self.attempts = attempts
        self.error = error
        self.artifact = artifact
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.leaseUntil = leaseUntil
        self.traceparent = traceparent
    }

    public var request: MediaRequest? { MediaRequest(kind: kind, parameters: parameters) }

    public static func newID() -> String {
        "job_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }
}
