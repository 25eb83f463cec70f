import Foundation
import Synchronization

/// Speech from espeak-ng, a real local synthesizer run as a subprocess: WAV natively, OGG
/// (Vorbis) through sox and MP3 through lame when those are installed. Text goes in on stdin,
/// never as an argument.
public final class EspeakEngine: SpeechEngine {
    public let name = "espeak-ng"
    private let executable: URL?
    private let sox: URL?
    private let lame: URL?
    private let cached = Mutex<SpeechCapabilities?>(nil)

    public init() {
        executable = ExternalProgram.find("espeak-ng")
        sox = ExternalProgram.find("sox")
        lame = ExternalProgram.find("lame")
    }

    /// espeak-ng's normal pace, in words per minute.
    static let baseRate = 175.0

    public func capabilities() async -> SpeechCapabilities {
        if let known = cached.withLock({ $0 }) { return known }
        guard let executable else {
            return SpeechCapabilities(ready: false, problem: "espeak-ng is not installed (apt-get install espeak-ng)", voices: [], formats: [])
        }
        let found: SpeechCapabilities
        do {
            let listing = String(decoding: try await ExternalProgram.run(executable, ["--voices"]), as: UTF8.self)
            var formats: [AudioFormat] = [.wav]
            if sox != nil { formats.append(.ogg) }
            if lame != nil { formats.append(.mp3) }
            found = SpeechCapabilities(ready: true, voices: Self.parseVoices(listing), formats: formats)
        } catch {
            return SpeechCapabilities(ready: false, problem: "espeak-ng --voices failed: \(error)", voices: [], formats: [])
        }
        cached.withLock { $0 = found }
        return found
    }

    /// `espeak-ng --voices`: `Pty Language Age/Gender VoiceName File Other Languages`, the
    /// last column a list of `(code rank)` pairs: `(en-gb 3)(en 5)`.
    public static func parseVoices(_ listing: String) -> [VoiceDescription] {
        listing.split(separator: "\n").dropFirst().compactMap { line in
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count >= 4 else { return nil }
            var alsoFor: [String: Int] = [:]
            if columns.count > 5 {
                let pairs = columns[5...].joined(separator: " ").split(separator: "(").map { $0.replacingOccurrences(of: ")", with: "") }
                for pair in pairs {
                    let parts = pair.split(separator: " ")
                    if parts.count == 2, let rank = Int(parts[1]) { alsoFor[parts[0].lowercased()] = rank }
                }
            }
            return VoiceDescription(id: String(columns[1]), language: String(columns[1]), name: String(columns[3]).replacingOccurrences(of: "_", with: " "), alsoFor: alsoFor)
        }
    }

    public func synthesize(_ request: SpeechRequest) async throws -> MediaOutput {
        guard let executable else { throw MediaEngineError("espeak-ng is not installed", transient: false) }
        let rate = Int((Self.baseRate * request.speed).rounded())
        let wav: Data
        do {
            wav = try await ExternalProgram.run(executable, ["-v", request.voice, "-s", String(rate), "--stdin", "--stdout"], input: Data(request.text.utf8))
        } catch let failure as ExternalProgram.Failure {
            throw MediaEngineError(failure.description, transient: true)
        }
        guard wav.count > 44, wav.prefix(4) == Data("RIFF".utf8) else {
            throw MediaEngineError("espeak-ng wrote no WAV audio", transient: true)
        }
        switch request.format {
        case .wav:
            return MediaOutput(data: wav, contentType: AudioFormat.wav.contentType, fileExtension: "wav")
        case .ogg:
            guard let sox else { throw MediaEngineError("sox is not installed: no OGG", transient: false) }
            return MediaOutput(data: try await convert(sox, ["-t", "wav", "-", "-t", "ogg", "-"], wav), contentType: AudioFormat.ogg.contentType, fileExtension: "ogg")
        case .mp3:
            guard let lame else { throw MediaEngineError("lame is not installed: no MP3", transient: false) }
            return MediaOutput(data: try await convert(lame, ["--quiet", "-", "-"], wav), contentType: AudioFormat.mp3.contentType, fileExtension: "mp3")
        }
    }

    private func convert(_ tool: URL, _ arguments: [String], _ wav: Data) async throws -> Data {
        do {
            let data = try await ExternalProgram.run(tool, arguments, input: wav)
            guard !data.isEmpty else { throw MediaEngineError("\(tool.lastPathComponent) wrote nothing", transient: true) }
            return data
        } catch let failure as ExternalProgram.Failure {
            throw MediaEngineError(failure.description, transient: true)
        }
    }
}
