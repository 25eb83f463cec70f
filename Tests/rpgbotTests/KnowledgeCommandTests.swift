import Foundation
import TestSupport
import Testing

/// `rpgbot ingest --as-version` and `rpgbot knowledge …` as an operator runs them, on the
/// embedded SQLite store: what they print, what they change, and how they refuse.
@Suite struct KnowledgeCommandTests {
    @Test func versionsAliasesAndCleanupFromTheCommandLine() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory.url.appendingPathComponent("data").path
            let lore = directory.url.appendingPathComponent("lore")
            try FileManager.default.createDirectory(at: lore, withIntermediateDirectories: true)
            try "---\nid: lore.ferry\n---\n# The night ferry\n\nA lantern ferry crosses the marsh at midnight.\n".write(to: lore.appendingPathComponent("ferry.md"), atomically: true, encoding: .utf8)
            func rpgbot(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
                try await ChildProcess.runRPGBot(arguments + ["--data-dir", data])
            }
            var result = try await rpgbot(["ingest", lore.path, "--campaign", "demo", "--as-version", "lore-v1", "--alias", "lore_latest"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("into lore-v1 (published), lore_latest → lore-v1"), "\(result.stdout)")
            #expect(result.stdout.contains("added 1"))
            result = try await rpgbot(["knowledge", "versions", "--campaign", "demo"])
            let listed = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let version = try #require((listed["versions"] as? [[String: Any]])?.first { $0["id"] as? String == "lore-v1" })
            #expect(version["state"] as? String == "published" && version["documents"] as? Int == 1 && version["aliases"] as? [String] == ["lore_latest"])
            result = try await rpgbot(["search", "lantern ferry midnight", "--campaign", "demo", "--k", "1"])
            #expect(result.stdout.contains("demo:lore.ferry#0@lore-v1"), "\(result.stdout)")
            result = try await rpgbot(["knowledge", "alias", "rollback", "lore_latest", "--campaign", "demo"])
            #expect(result.status == 0 && result.stdout.contains("lore_latest: lore-v1 → working"), "\(result.stdout) \(result.stderr)")
            result = try await rpgbot(["knowledge", "alias", "set", "lore_latest", "lore-v1", "--campaign", "demo"])
            #expect(result.status == 0 && result.stdout.contains("lore_latest: working → lore-v1"), "\(result.stdout) \(result.stderr)")
            result = try await rpgbot(["knowledge", "cleanup", "--dry-run"])
            #expect(result.status == 0 && result.stdout.hasPrefix("would delete: expired documents none"), "\(result.stdout)")

            // Refusals: the registry's reason and exit 1; a malformed name or flag, exit 2.
            result = try await rpgbot(["knowledge", "alias", "set", "lore_latest", "lore-v9", "--campaign", "demo"])
            #expect(result.status == 1 && result.stderr.contains("No version lore-v9 in campaign demo"), "\(result.stderr)")
            result = try await rpgbot(["ingest", lore.path, "--campaign", "demo", "--as-version", "lore-v1"])
            #expect(result.status == 1 && result.stderr.contains("is published and cannot change"), "\(result.stderr)")
            result = try await rpgbot(["ingest", lore.path, "--campaign", "demo", "--as-version", "Lore V2"])
            #expect(result.status == 2, "\(result.stderr)")
            result = try await rpgbot(["ingest", lore.path, "--campaign", "demo", "--publish"])
            #expect(result.status == 2 && result.stderr.contains("need --as-version"), "\(result.stderr)")
            result = try await rpgbot(["ingest", "--format", "5e-database", lore.path, "--edition", "2020"])
            #expect(result.status == 2 && result.stderr.contains("--edition must be 2014 or 2024"), "\(result.stderr)")
        }
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let classic = repository.deletingLastPathComponent().appendingPathComponent("shared/data/datasworn/datasworn/classic/classic.json")

    @Test func graphQueriesAndDataswornFromTheCommandLine() async throws {
        try await withTemporaryDirectory { directory in
            let data = directory.url.appendingPathComponent("data").path
            func rpgbot(_ arguments: [String]) async throws -> (status: Int32, stdout: String, stderr: String) {
                try await ChildProcess.runRPGBot(arguments + ["--data-dir", data])
            }
            var result = try await rpgbot(["ingest", Self.repository.appendingPathComponent("content/demo").path, "--campaign", "demo"])
            #expect(result.status == 0, "\(result.stderr)")
            result = try await rpgbot(["graph", "quest", "quest.the-drowned-bell", "--campaign", "demo"])
            #expect(result.status == 0, "\(result.stderr)")
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let sections = try #require(answer["sections"] as? [String: [String]])
            #expect(sections["next_steps"] == ["quest.the-drowned-bell/chapel-steps"] && sections["giver"] == ["npc.ilse-varrow"], "\(sections)")
            result = try await rpgbot(["graph", "chain", "episode.session-03", "--campaign", "demo", "--text"])
            #expect(result.status == 0 && result.stdout.hasPrefix("Causal chain back from Session 3"), "\(result.stdout) \(result.stderr)")
            result = try await rpgbot(["graph", "scene", "The Rusty Anchor", "--campaign", "demo", "--text"])
            #expect(result.stdout.contains("Present: Old Tom Reeve [npc.old-tom]"), "\(result.stdout)")
            // Refusals: an unknown node exits 1 naming it; out-of-range flags exit 2.
            result = try await rpgbot(["graph", "npc", "nobody", "--campaign", "demo"])
            #expect(result.status == 1 && result.stderr.contains("'nobody'"), "\(result.stderr)")
            result = try await rpgbot(["graph", "scene", "lore.brindlewick", "--depth", "7"])
            #expect(result.status == 2 && result.stderr.contains("--depth must be 1–3"), "\(result.stderr)")
            result = try await rpgbot(["graph", "chain", "episode.session-03", "--direction", "sideways"])
            #expect(result.status == 2, "\(result.stderr)")

            guard FileManager.default.fileExists(atPath: Self.classic.path) else { return }
            result = try await rpgbot(["ingest", "--format", "datasworn", Self.classic.path, "--campaign", "iron"])
            #expect(result.status == 0 && result.stdout.contains("added 251"), "\(result.stdout) \(result.stderr)")
            // The data's three broken links are warnings, not failures.
            #expect(result.stderr.components(separatedBy: "rpgbot: warning: graph:").count - 1 == 3, "\(result.stderr)")
            result = try await rpgbot(["graph", "scene", "Barrier Islands", "--campaign", "iron", "--text"])
            #expect(result.stdout.hasPrefix("Scene at Barrier Islands [classic/atlas/ironlands/barrier_islands]"), "\(result.stdout) \(result.stderr)")
            result = try await rpgbot(["ingest", "--format", "datasworn", try lore(directory).path])
            #expect(result.status == 1 && result.stderr.contains("not a Datasworn ruleset"), "\(result.stderr)")
        }
    }

    private func lore(_ directory: TemporaryDirectory) throws -> URL {
        let file = directory.url.appendingPathComponent("plain.json")
        try Data(#"{"documents": []}"#.utf8).write(to: file)
        return file
    }
}
