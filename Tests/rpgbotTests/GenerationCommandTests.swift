import Foundation
import TestSupport
import Testing

/// `rpgbot validate` and `rpgbot generate` as content designers and scripts use them.
@Suite struct GenerationCommandTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let schema = #"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"name":{"$ref":"http://rpgbot.test/defs/name.json"},"level":{"type":"integer","minimum":1}},"required":["name"]}"#

    func withFiles(_ body: (TemporaryDirectory) async throws -> Void) async throws {
        try await withTemporaryDirectory { directory in
            try FileManager.default.createDirectory(at: directory.file("defs"), withIntermediateDirectories: true)
            try #"{"type":"string","maxLength":5}"#.write(to: directory.file("defs/name.json"), atomically: true, encoding: .utf8)
            try Self.schema.write(to: directory.file("hero.schema.json"), atomically: true, encoding: .utf8)
            try #"{"name":"Ada","level":3}"#.write(to: directory.file("good.json"), atomically: true, encoding: .utf8)
            try #"{"name":"Adalbertina","level":0}"#.write(to: directory.file("bad.json"), atomically: true, encoding: .utf8)
            try await body(directory)
        }
    }

    @Test func validateReportsEachFileWithLocationsAndExitStatus() async throws {
        try await withFiles { directory in
            let refDir = ["--ref-dir", "http://rpgbot.test/=\(directory.path)/"]
            let good = try await ChildProcess.runRPGBot(["validate", directory.file("hero.schema.json").path, directory.file("good.json").path] + refDir)
            #expect(good.status == 0, "stderr: \(good.stderr)")
            #expect(good.stdout.contains("good.json: valid"))

            let bad = try await ChildProcess.runRPGBot(["validate", directory.file("hero.schema.json").path, directory.file("good.json").path, directory.file("bad.json").path] + refDir)
            #expect(bad.status == 1)
            #expect(bad.stdout.contains("bad.json: invalid (2 errors)"))
            #expect(bad.stdout.contains("/name: "))
            #expect(bad.stdout.contains("http://rpgbot.test/defs/name.json#/maxLength"))
            #expect(bad.stdout.contains("/level: "))

            // Without the mapping the reference cannot be resolved, and the tool says so.
            let unresolved = try await ChildProcess.runRPGBot(["validate", directory.file("hero.schema.json").path, directory.file("good.json").path])
            #expect(unresolved.status == 1)
            #expect(unresolved.stdout.contains("http://rpgbot.test/defs/name.json"))
        }
    }

    @Test func validateJSONLinesFromStandardInput() async throws {
        try await withFiles { directory in
            let lines = "{\"name\":\"Ada\"}\n\n{\"level\":2}\nnot json\n"
            let result = try await ChildProcess.runRPGBot(["validate", "--jsonl", directory.file("hero.schema.json").path, "--ref-dir", "http://rpgbot.test/=\(directory.path)/"], standardInput: lines)
            #expect(result.status == 1)
            let answers = try result.stdout.split(separator: "\n").map { try jsonObject(Data($0.utf8)) }
            #expect(answers.count == 3)
            #expect(answers[0]["valid"] as? Bool == true)
            #expect((answers[0]["errors"] as? [Any])?.isEmpty == true)
            #expect(answers[1]["valid"] as? Bool == false)
            let error = try #require((answers[1]["errors"] as? [[String: Any]])?.first)
            #expect(error["instance_location"] as? String == "")
            #expect(error["schema_location"] as? String == "#/required")
            #expect(answers[2]["valid"] as? Bool == false)
        }
    }

    @Test func validateRefusesABadSchemaWithStatus2() async throws {
        try await withTemporaryDirectory { directory in
            try #"{"type": 12}"#.write(to: directory.file("s.json"), atomically: true, encoding: .utf8)
            let invalid = try await ChildProcess.runRPGBot(["validate", directory.file("s.json").path])
            #expect(invalid.status == 2)
            #expect(invalid.stderr.contains("not a valid JSON Schema 2020-12"))
            try "{".write(to: directory.file("t.json"), atomically: true, encoding: .utf8)
            #expect(try await ChildProcess.runRPGBot(["validate", directory.file("t.json").path]).status == 2)
            #expect(try await ChildProcess.runRPGBot(["validate", directory.file("missing.json").path]).status == 2)
            // The repository's own schemas are valid schemas.
            let ours = try await ChildProcess.runRPGBot(["validate", Self.repository.appendingPathComponent("profiles/schemas/scene.schema.json").path, Self.repository.appendingPathComponent("profiles/examples/scene.example.json").path])
            #expect(ours.status == 0, "\(ours.stdout) \(ours.stderr)")
        }
    }

    @Test func generateListsProfilesAndPrintsValidOutputOffline() async throws {
        let list = try await ChildProcess.runRPGBot(["generate", "--list"], currentDirectory: Self.repository)
        #expect(list.status == 0, "stderr: \(list.stderr)")
        #expect(list.stdout.split(separator: "\n").map { $0.split(separator: "\t").first.map(String.init) } == ["combat", "epilogue", "npc", "quest_hook", "scene", "social"])

        try await withTemporaryDirectory { directory in
            try #"{"name": "Maren", "location": "the Drowned Chapel"}"#.write(to: directory.file("in.json"), atomically: true, encoding: .utf8)
            let result = try await ChildProcess.runRPGBot(
                ["generate", "npc", "--input", "@" + directory.file("in.json").path, "--profiles", Self.repository.appendingPathComponent("profiles/profiles.yaml").path]
            )
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let body = try jsonObject(Data(result.stdout.utf8))
            let output = try #require(body["output"] as? [String: Any])
            #expect(output["name"] as? String == "Maren")
            #expect((output["greeting"] as? String)?.contains("the Drowned Chapel") == true)
            #expect(body["provider"] as? String == "offline")
            // The printed output is valid against the profile's schema, checked by the validator.
            try JSONSerialization.data(withJSONObject: output).write(to: directory.file("out.json"))
            let check = try await ChildProcess.runRPGBot(["validate", Self.repository.appendingPathComponent("profiles/schemas/npc.schema.json").path, directory.file("out.json").path])
            #expect(check.status == 0, "\(check.stdout)")
        }
    }

    @Test(arguments: [
        (["generate", "nope"], "no profile named 'nope'"),
        (["generate", "npc", "--input", "{not json"], "--input is not valid JSON"),
        (["generate", "npc", "--input", #"{"name": 5}"#], "/name"),
        (["generate", "npc", "--provider", "gpt"], "unknown provider 'gpt'"),
        (["generate", "npc", "--profiles", "/nonexistent/profiles.yaml"], "cannot be read"),
    ] as [([String], String)])
    func generateRefusesBadArgumentsWithStatus2(arguments: [String], message: String) async throws {
        let result = try await ChildProcess.runRPGBot(arguments, currentDirectory: Self.repository)
        #expect(result.status == 2, "stdout: \(result.stdout) stderr: \(result.stderr)")
        #expect(result.stderr.contains(message), "stderr: \(result.stderr)")
    }

    @Test func generateReportsAProviderFailureWithStatus1() async throws {
        let port = try freeLoopbackPort()
        let result = try await ChildProcess.runRPGBot(
            ["generate", "npc", "--provider", "openai-chat"],
            environment: ["RPGBOT_LLM_BASE_URL": "http://127.0.0.1:\(port)/v1", "RPGBOT_LLM_RETRIES": "0"],
            currentDirectory: Self.repository
        )
        #expect(result.status == 1)
        let problem = try jsonObject(Data(result.stdout.utf8))
        #expect(problem["code"] as? String == "provider_error")
        #expect(problem["output"] == nil)
    }
}
