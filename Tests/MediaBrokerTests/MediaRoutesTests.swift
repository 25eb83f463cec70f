import Foundation
import HTTPTypes
import MediaBroker
import ServiceKit
import Synchronization
import TestSupport
import Testing

@Suite("/v1/media with real espeak-ng")
struct MediaRoutesTests {
    static let espeakAvailable = FileManager.default.isExecutableFile(atPath: "/usr/bin/espeak-ng") || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"

    @Test("two identical requests without client_token get the same job; a real WAV of about the text's length", .enabled(if: espeakAvailable, "needs espeak-ng"), arguments: MediaStoreKind.available)
    func sameJobAndRealAudio(kind: MediaStoreKind) async throws {
        try await MediaFixture.withBroker(kind) { client, tokens, _ in
            let first = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech(), headers: [HTTPField.Name("Prefer")!: "wait=10"])
            #expect(first.status == .ok && first.body["status"] as? String == "succeeded" && first.body["cached"] as? Bool == false)
            let second = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech("  The tide is coming in,   and the bell rings under the water. "))
            #expect(second.jobID == first.jobID && second.body["cached"] as? Bool == true && second.status == .ok)
            let artifact = try #require((first.body["artifact"] as? [String: Any])?["url"] as? String)
            let audio = try await MediaFixture.call(client, .get, artifact, tokens.player)
            #expect(audio.status == .ok && audio.headers[.contentType] == "audio/wav")
            let wav = audio.data
            #expect(wav.prefix(4) == Data("RIFF".utf8) && wav[8..<12] == Data("WAVE".utf8))
            let sampleRate = wav[24..<28].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            let bytesPerSecond = wav[28..<32].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            #expect(sampleRate == 22_050)
            // Eleven words at espeak-ng's 175 words a minute: about 3.8 s; allow for pauses.
            let seconds = Double(wav.count - 44) / Double(bytesPerSecond)
            #expect((2.0...6.5).contains(seconds), "duration \(seconds) s")
            // Russian, as MP3 through lame.
            let russian = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: #"{"text": "Прилив начинается, и колокол звонит под водой.", "voice": "ru", "language": "ru", "format": "mp3"}"#, headers: [HTTPField.Name("Prefer")!: "wait=10"])
            #expect(russian.body["status"] as? String == "succeeded")
            let mp3 = try await MediaFixture.call(client, .get, try #require((russian.body["artifact"] as? [String: Any])?["url"] as? String), tokens.player)
            #expect(mp3.headers[.contentType] == "audio/mpeg" && mp3.data.count > 1_000)
            #expect(mp3.data.prefix(3) == Data("ID3".utf8) || (mp3.data.first == 0xFF && (mp3.data[1] & 0xE0) == 0xE0))
        }
    }

    @Test("200 concurrent identical requests: one engine run, one job id", .enabled(if: espeakAvailable, "needs espeak-ng"), arguments: MediaStoreKind.available)
    func singleFlight(kind: MediaStoreKind) async throws {
        let engine = ControlledSpeechEngine()
        engine.holding.store(true, ordering: .relaxed)
        try await MediaFixture.withBroker(kind, speech: [engine]) { client, tokens, _ in
            let ids = try await withThrowingTaskGroup(of: String?.self) { group in
                for _ in 0..<200 {
                    group.addTask { try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech()).jobID }
                }
                return try await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(ids.count == 200 && Set(ids).count == 1 && ids.first! != nil)
            engine.holding.store(false, ordering: .relaxed)
            let done = try await MediaFixture.call(client, .get, "/v1/media/jobs/\(ids.first!!)", tokens.player, headers: [HTTPField.Name("Prefer")!: "wait=10"])
            #expect(done.body["status"] as? String == "succeeded")
            #expect(engine.runs.load(ordering: .relaxed) == 1)
        }
    }

    @Test("client_token: the same token and body give the same job; another body is 409", .enabled(if: espeakAvailable, "needs espeak-ng"))
    func clientTokens() async throws {
        try await MediaFixture.withBroker { client, tokens, _ in
            let first = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech(extra: #", "client_token": "narration-7""#))
            let again = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech(extra: #", "client_token": "narration-7""#))
            #expect(first.jobID != nil && again.jobID == first.jobID)
            let other = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech("Something else entirely.", extra: #", "client_token": "narration-7""#))
            #expect(other.status == .conflict && other.code == "client_token_reused")
        }
    }

    @Test("artifacts: byte ranges for seeking, ETag revalidation, ids that are not a SHA-256", .enabled(if: espeakAvailable, "needs espeak-ng"))
    func artifactRanges() async throws {
        try await MediaFixture.withBroker { client, tokens, _ in
            let job = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech(), headers: [HTTPField.Name("Prefer")!: "wait=10"])
            let url = try #require((job.body["artifact"] as? [String: Any])?["url"] as? String)
            let whole = try await MediaFixture.call(client, .get, url, tokens.player)
            let part = try await MediaFixture.call(client, .get, url, tokens.player, headers: [.range: "bytes=100-199"])
            #expect(part.status == .partialContent && part.data == whole.data[100..<200])
            #expect(part.headers[.contentRange] == "bytes 100-199/\(whole.data.count)")
            let tail = try await MediaFixture.call(client, .get, url, tokens.player, headers: [.range: "bytes=-10"])
            #expect(tail.data == whole.data.suffix(10))
            let beyond = try await MediaFixture.call(client, .get, url, tokens.player, headers: [.range: "bytes=\(whole.data.count)-"])
            #expect(beyond.status == .rangeNotSatisfiable)
            let etag = try #require(whole.headers[.eTag])
            #expect(try await MediaFixture.call(client, .get, url, tokens.player, headers: [.ifNoneMatch: etag]).status == .notModified)
            #expect(try await MediaFixture.call(client, .get, "/v1/media/artifacts/..%2F..%2Fetc%2Fpasswd", tokens.player).status == .badRequest)
            #expect(try await MediaFixture.call(client, .get, "/v1/media/artifacts/\(String(repeating: "0", count: 64))", tokens.player).status == .notFound)
        }
    }

    @Test("cancel a running job; a full queue answers 503 with Retry-After", .enabled(if: espeakAvailable, "needs espeak-ng"))
    func cancelAndQueueFull() async throws {
        let engine = ControlledSpeechEngine()
        engine.holding.store(true, ordering: .relaxed)
        var settings = MediaSettings()
        settings.workers = 1
        settings.maxQueue = 1
        try await MediaFixture.withBroker(settings: settings, speech: [engine]) { client, tokens, _ in
            let running = try #require(try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech("one")).jobID)
            // Wait until the worker holds it.
            while engine.runs.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(10)) }
            let queued = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech("two"))
            #expect(queued.status == .accepted && queued.body["status"] as? String == "queued")
            let full = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech("three"))
            #expect(full.status == .serviceUnavailable && full.code == "queue_full" && full.headers[.retryAfter] != nil)
            let canceled = try await MediaFixture.call(client, .delete, "/v1/media/jobs/\(running)", tokens.player)
            #expect(canceled.body["status"] as? String == "canceled")
            let queuedCanceled = try await MediaFixture.call(client, .delete, "/v1/media/jobs/\(queued.jobID!)", tokens.player)
            #expect(queuedCanceled.body["status"] as? String == "canceled")
            engine.holding.store(false, ordering: .relaxed)
            // A canceled job does not poison its key: asking again makes a new job that runs.
            let retried = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech("one"), headers: [HTTPField.Name("Prefer")!: "wait=10"])
            #expect(retried.jobID != running && retried.body["status"] as? String == "succeeded")
            #expect(try await MediaFixture.call(client, .get, "/v1/media/jobs/\(running)", tokens.player).body["status"] as? String == "canceled")
        }
    }

    @Test("cancelling withdraws the caller's own interest: a shared job stops only when nobody wants it; a game master stops a job of the campaign", arguments: MediaStoreKind.available)
    func cancelOnlyWhatIsYours(kind: MediaStoreKind) async throws {
        let engine = ControlledSpeechEngine()
        engine.holding.store(true, ordering: .relaxed)
        try await MediaFixture.withBroker(kind, speech: [engine]) { client, tokens, _ in
            func status(_ id: String) async throws -> String? {
                try await MediaFixture.call(client, .get, "/v1/media/jobs/\(id)", tokens.player).body["status"] as? String
            }
            // The game master's job in the campaign: a player who did not ask for it may not stop it.
            let gmJob = try #require(try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.gm, body: MediaFixture.speech("The gm's narration.", extra: #", "campaign_id": "demo""#)).jobID)
            let refused = try await MediaFixture.call(client, .delete, "/v1/media/jobs/\(gmJob)", tokens.player)
            #expect(refused.status == .forbidden && refused.code == "not_requester")
            #expect(try await status(gmJob) != "canceled")
            // A job without a campaign is shared by deduplication across campaigns.
            let shared = try #require(try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech("Shared words.")).jobID)
            let joined = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.otherCampaign, body: MediaFixture.speech("Shared words."))
            #expect(joined.jobID == shared)
            let withdrawn = try await MediaFixture.call(client, .delete, "/v1/media/jobs/\(shared)", tokens.otherCampaign)
            #expect(withdrawn.status == .ok && withdrawn.body["withdrawn"] as? Bool == true && withdrawn.body["status"] as? String != "canceled")
            #expect(try await status(shared) != "canceled")
            // Withdrawing twice changes nothing more; a stranger to the job may not.
            #expect(try await MediaFixture.call(client, .delete, "/v1/media/jobs/\(shared)", tokens.otherCampaign).code == "not_requester")
            #expect(try await MediaFixture.call(client, .delete, "/v1/media/jobs/\(shared)", tokens.secondPlayer).code == "not_requester")
            // The last one who wants it cancels it.
            let canceled = try await MediaFixture.call(client, .delete, "/v1/media/jobs/\(shared)", tokens.player)
            #expect(canceled.body["status"] as? String == "canceled" && canceled.body["withdrawn"] == nil)
            // The game master stops any job of the campaign, whoever else asked for it.
            let playerJob = try #require(try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech("A player's line.", extra: #", "campaign_id": "demo""#)).jobID)
            #expect(try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.secondPlayer, body: MediaFixture.speech("A player's line.", extra: #", "campaign_id": "demo""#)).jobID == playerJob)
            #expect(try await MediaFixture.call(client, .delete, "/v1/media/jobs/\(playerJob)", tokens.gm).body["status"] as? String == "canceled")
            #expect(try await MediaFixture.call(client, .delete, "/v1/media/jobs/\(gmJob)", tokens.gm).body["status"] as? String == "canceled")
            engine.holding.store(false, ordering: .relaxed)
        }
    }

    @Test("a language code names the engine's voice for it; voice may be left out", .enabled(if: espeakAvailable, "needs espeak-ng"))
    func languageCodesAsVoices() async throws {
        try await MediaFixture.withBroker { client, tokens, _ in
            let en = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: #"{"text": "Hello there.", "voice": "en", "language": "en", "format": "wav"}"#, headers: [HTTPField.Name("Prefer")!: "wait=10"])
            #expect(en.status == .ok && en.body["status"] as? String == "succeeded")
            #expect((en.body["parameters"] as? [String: Any])?["voice"] as? String == "en-gb")
            let noVoice = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: #"{"text": "Привет.", "language": "ru", "format": "wav"}"#, headers: [HTTPField.Name("Prefer")!: "wait=10"])
            #expect(noVoice.body["status"] as? String == "succeeded" && (noVoice.body["parameters"] as? [String: Any])?["voice"] as? String == "ru")
            // The same words by voice id or by language code are one job.
            let byID = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: #"{"text": "Hello there.", "voice": "en-gb", "language": "en", "format": "wav"}"#)
            #expect(byID.jobID == en.jobID)
            let unknown = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: #"{"text": "Hello.", "language": "qq", "format": "wav"}"#)
            #expect(unknown.status == .unprocessableContent && unknown.pointers == ["/language"])
            let badVoice = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: #"{"text": "Hello.", "voice": "nobody", "language": "en", "format": "wav"}"#)
            #expect(badVoice.status == .unprocessableContent && badVoice.pointers == ["/voice"])
        }
    }

    @Test("espeak-ng's voice listing: other language codes and their ranks")
    func voiceListing() {
        let listing = """
            Pty Language       Age/Gender VoiceName          File                 Other Languages
             5  en-029          --/M      English_(Caribbean) gmw/en-029           (en 10)
             2  en-gb           --/M      English_(Great_Britain) gmw/en               (en 2)
             5  en-gb-x-rp      --/M      English_(Received_Pronunciation) gmw/en-GB-x-rp       (en-gb 4)(en 5)
             5  pt-br           --/M      Portuguese_(Brazil) roa/pt-BR            (pt 5)
             5  ru              --/M      Russian            zle/ru
            """
        let voices = EspeakEngine.parseVoices(listing)
        #expect(voices.map(\.id) == ["en-029", "en-gb", "en-gb-x-rp", "pt-br", "ru"])
        #expect(voices[2].alsoFor == ["en-gb": 4, "en": 5])
        let capabilities = SpeechCapabilities(ready: true, voices: voices, formats: [.wav])
        #expect(capabilities.voice(for: "en")?.id == "en-gb")
        #expect(capabilities.voice(for: "EN-GB-X-RP")?.id == "en-gb-x-rp")
        #expect(capabilities.voice(for: "pt")?.id == "pt-br")
        #expect(capabilities.voice(for: "xx") == nil)
    }

    @Test("transient engine errors are retried; the job records its attempts", .enabled(if: espeakAvailable, "needs espeak-ng"))
    func retries() async throws {
        let engine = ControlledSpeechEngine()
        engine.failures.store(2, ordering: .relaxed)
        var settings = MediaSettings()
        settings.initialBackoff = .milliseconds(10)
        try await MediaFixture.withBroker(settings: settings, speech: [engine]) { client, tokens, _ in
            let job = try await MediaFixture.call(client, .post, "/v1/media/tts", tokens.player, body: MediaFixture.speech(), headers: [HTTPField.Name("Prefer")!: "wait=10"])
            #expect(job.body["status"] as? String == "succeeded" && job.body["attempts"] as? Int == 3)
        }
    }

    @Test("a campaign's job is visible only to that campaign's tokens")
    func campaignVisibility() async throws {
        try await MediaFixture.withBroker { client, tokens, _ in
            let job = try await MediaFixture.call(client, .post, "/v1/media/images", tokens.player, body: #"{"prompt": "The drowned chapel at dawn", "width": 256, "height": 256, "campaign_id": "demo"}"#)
            let id = try #require(job.jobID)
            #expect(try await MediaFixture.call(client, .get, "/v1/media/jobs/\(id)", tokens.otherCampaign).status == .notFound)
            #expect(try await MediaFixture.call(client, .get, "/v1/media/jobs/\(id)", tokens.player).status == .ok)
            let foreign = try await MediaFixture.call(client, .post, "/v1/media/images", tokens.otherCampaign, body: #"{"prompt": "x", "width": 256, "height": 256, "campaign_id": "demo"}"#)
            #expect(foreign.status == .forbidden)
        }
    }

    @Test("the placeholder engine renders the same valid PNG for the same prompt")
    func placeholderImages() async throws {
        try await MediaFixture.withBroker { client, tokens, _ in
            let body = #"{"prompt": "The drowned chapel at dawn", "style": "rings", "width": 512, "height": 768}"#
            let job = try await MediaFixture.call(client, .post, "/v1/media/images", tokens.player, body: body, headers: [HTTPField.Name("Prefer")!: "wait=10"])
            #expect(job.body["status"] as? String == "succeeded")
            let url = try #require((job.body["artifact"] as? [String: Any])?["url"] as? String)
            let png = try await MediaFixture.call(client, .get, url, tokens.player)
            #expect(png.headers[.contentType] == "image/png")
            #expect(png.data.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
            let width = png.data[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png.data[20..<24].reduce(0) { $0 << 8 | Int($1) }
            #expect(width == 512 && height == 768)
            let rendered = try await PlaceholderImageEngine().render(ImageRequest(prompt: "The drowned chapel at dawn", style: "rings", width: 512, height: 768))
            #expect(rendered.data == png.data)
            let other = try await PlaceholderImageEngine().render(ImageRequest(prompt: "A smugglers' cove", style: "rings", width: 512, height: 768))
            #expect(other.data != png.data)
        }
    }

    @Test("bad input is a 400, 404 or 422 naming the member, never a 500")
    func badInput() async throws {
        var settings = MediaSettings()
        settings.maxTextLength = 50
        try await MediaFixture.withBroker(settings: settings) { client, tokens, _ in
            let cases: [(String, String, HTTPFields, Int, String?)] = [
                ("/v1/media/tts", MediaFixture.speech(""), [:], 422, "/text"),
                ("/v1/media/tts", MediaFixture.speech(String(repeating: "word ", count: 20)), [:], 422, "/text"),
                ("/v1/media/tts", #"{"text": "hi", "voice": "klingon", "language": "en", "format": "wav"}"#, [:], 422, "/voice"),
                ("/v1/media/tts", #"{"text": "hi", "voice": "ru", "language": "en", "format": "wav"}"#, [:], 422, "/language"),
                ("/v1/media/tts", MediaFixture.speech(format: "flac"), [:], 422, "/format"),
                ("/v1/media/tts", MediaFixture.speech(extra: #", "engine": "bard""#), [:], 422, "/engine"),
                ("/v1/media/tts", MediaFixture.speech(extra: #", "speed": 9"#), [:], 422, "/speed"),
                ("/v1/media/tts", MediaFixture.speech(extra: #", "volume": 11"#), [:], 422, "/volume"),
                ("/v1/media/tts", #"{"text": "hi"}"#, [:], 422, "/language"),
                ("/v1/media/tts", #"{"text": "hi", "voice": "", "language": "en", "format": "wav"}"#, [:], 422, "/voice"),
                ("/v1/media/tts", #"{"text": "hi", "language": "", "format": "wav"}"#, [:], 422, "/language"),
                ("/v1/media/tts", MediaFixture.speech(), [HTTPField.Name("Prefer")!: "wait=soon"], 422, "/headers/Prefer"),
                ("/v1/media/tts", #"{"text": "#, [:], 400, nil),
                ("/v1/media/images", #"{"prompt": "x", "width": 300, "height": 300}"#, [:], 422, "/width"),
                ("/v1/media/images", #"{"prompt": "x", "width": 256.5, "height": 256}"#, [:], 422, "/width"),
                ("/v1/media/images", #"{"prompt": "x", "width": 256, "height": 256, "style": "cubist"}"#, [:], 422, "/style"),
                ("/v1/media/images", #"{"prompt": "x", "width": 256, "height": 256, "campaign_id": "../x"}"#, [:], 422, "/campaign_id"),
            ]
            for (path, body, headers, status, pointer) in cases {
                let answer = try await MediaFixture.call(client, .post, path, tokens.player, body: body, headers: headers)
                #expect(answer.status.code == status, "\(body): \(answer.body)")
                if let pointer { #expect(answer.pointers.contains(pointer), "\(body): \(answer.pointers)") }
            }
            #expect(try await MediaFixture.call(client, .get, "/v1/media/jobs/job_nope", tokens.player).status == .notFound)
            #expect(try await MediaFixture.call(client, .delete, "/v1/media/jobs/job_nope", tokens.player).status == .notFound)
            let engines = try await MediaFixture.call(client, .get, "/v1/media/engines", tokens.player)
            let list = engines.body["engines"] as? [[String: Any]] ?? []
            #expect(list.contains { $0["name"] as? String == "placeholder" && $0["offline_placeholder"] as? Bool == true })
        }
    }
}
