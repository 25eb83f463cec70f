import Foundation
import TestSupport
import Testing

/// The README's first steps, run as a newcomer would: every `curl` example against a server
/// started from the repository with the defaults, and the answers the README shows compared
/// with the server's, so the two cannot drift apart.
@Suite struct ReadmeExamplesTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The commands of the README's `sh` blocks, continuation lines joined.
    static func shellCommands() throws -> [String] {
        let readme = try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
        var commands: [String] = []
        var inBlock = false
        var pending = ""
        for line in readme.components(separatedBy: "\n") {
            if line.hasPrefix("```") {
                inBlock = line == "```sh"
                continue
            }
            guard inBlock else { continue }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasSuffix("\\") {
                pending += trimmed.dropLast() + " "
            } else {
                commands.append(pending + trimmed)
                pending = ""
            }
        }
        return commands
    }

    /// A command without its trailing `# comment` (outside quotes), and the comment.
    static func splitComment(_ command: String) -> (command: String, comment: String?) {
        var quote: Character?
        for index in command.indices {
            let character = command[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == "#", index > command.startIndex, command[command.index(before: index)] == " " {
                return (String(command[..<index]).trimmingCharacters(in: .whitespaces), String(command[command.index(after: index)...]).trimmingCharacters(in: .whitespaces))
            }
        }
        return (command, nil)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "needs curl"))
    func everyCurlExampleAnswersAsDocumented() async throws {
        let curls = try Self.shellCommands().filter { $0.hasPrefix("curl ") }
        try #require(curls.count >= 8, "found \(curls.count) curl examples")
        try await withTemporaryDirectory { directory in
            let server = try await ChildProcess.rpgbot(["serve", "--port", "0", "--data-dir", directory.url.appendingPathComponent("data").path], currentDirectory: Self.repository)
            let port = try await server.waitUntilListening()
            let token = try await ChildProcess.runRPGBot(["token", "--sub", "alice", "--campaign", "demo", "--role", "gm", "--ttl", "12h", "--data-dir", directory.url.appendingPathComponent("data").path])
                .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            // Ready once the demo content is in.
            for _ in 0..<100 {
                if let ready = try? await ChildProcess.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(port)/ready"]), ready.stdout.contains(#""knowledge":"ok""#) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            for example in curls {
                let (command, comment) = Self.splitComment(example)
                let local = command.replacingOccurrences(of: "localhost:8080", with: "127.0.0.1:\(port)")
                let script = "curl -s -w '\\n%{http_code}' --max-time 30 " + local.dropFirst("curl ".count)
                let result = try await ChildProcess.run("/bin/sh", ["-c", script], environment: ["TOKEN": token])
                let lines = result.stdout.components(separatedBy: "\n")
                let status = Int(lines.last ?? "") ?? 0
                let body = lines.dropLast().joined(separator: "\n")
                #expect((200..<300).contains(status), "\(example) → \(status) \(body.prefix(300))")
                // A comment that is a JSON object is the answer the README promises.
                if let comment, comment.hasPrefix("{"), let promised = comment.data(using: .utf8) {
                    let expected = try JSONSerialization.jsonObject(with: promised) as? NSDictionary
                    let actual = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? NSDictionary
                    #expect(actual == expected, "\(command): README says \(comment), the server answers \(body)")
                }
            }
            #expect(try await server.stop() == 0)
        }
    }
}
