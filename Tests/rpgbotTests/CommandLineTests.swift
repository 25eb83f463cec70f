import Foundation
import CapabilityKit
import RPGBotApp
import TestSupport
import Testing

/// The executable as an operator uses it: arguments, environment, exit status, output.
@Suite struct CommandLineTests {
    @Test(arguments: [
        (["serve", "--port", "abc"], [String: String](), "--port (RPGBOT_PORT)"),
        (["serve"], ["RPGBOT_PORT": "99999"], "--port (RPGBOT_PORT)"),
        (["serve"], ["RPGBOT_LOG_LEVEL": "loud"], "--log-level (RPGBOT_LOG_LEVEL)"),
        (["serve", "--database-url", "mysql://root@db/x"], [:], "--database-url (RPGBOT_DATABASE_URL)"),
        (["serve"], ["ENABLE_METRICS": "perhaps"], "--enable-metrics (ENABLE_METRICS)"),
        (["serve", "--services", "nonexistent"], [:], "--services (RPGBOT_SERVICES)"),
        (["serve", "--no-such-flag"], [:], "--no-such-flag"),
        (["serve", "--llm-provider", "gpt"], [:], "--llm-provider (RPGBOT_LLM_PROVIDER)"),
        (["serve"], ["RPGBOT_LLM_BASE_URL": "ftp://models"], "--llm-base-url (RPGBOT_LLM_BASE_URL)"),
        (["serve", "--llm-chat-dialect", "xml"], [:], "--llm-chat-dialect (RPGBOT_LLM_CHAT_DIALECT)"),
        (["serve", "--llm-retries", "99"], [:], "--llm-retries (RPGBOT_LLM_RETRIES)"),
        (["serve", "--llm-grammar", "gbnf"], [:], "--llm-grammar (RPGBOT_LLM_GRAMMAR)"),
        (["serve"], ["RPGBOT_LLM_CONTEXT_TOKENS": "100"], "--llm-context-tokens (RPGBOT_LLM_CONTEXT_TOKENS)"),
        (["serve"], ["RPGBOT_LLM_HEADERS": "no colon here"], "--llm-headers (RPGBOT_LLM_HEADERS)"),
        (["serve", "--llm-timeout", "soon"], [:], "--llm-timeout (RPGBOT_LLM_TIMEOUT)"),
        (["serve", "--generation-rate", "0"], [:], "--generation-rate (RPGBOT_GENERATION_RATE)"),
    ] as [([String], [String: String], String)])
    func badSettingsExitWithStatus2AndANamedSetting(arguments: [String], environment: [String: String], named: String) async throws {
        let result = try await ChildProcess.runRPGBot(arguments, environment: environment)
        #expect(result.status == 2)
        #expect(result.stderr.contains(named), "stderr: \(result.stderr)")
        #expect(result.stderr.hasPrefix("rpgbot: "))
        // One message, no stack trace, and nothing started.
        #expect(!result.stderr.contains("Stack"))
        #expect(!result.stderr.contains("Fatal error"))
        #expect(result.stdout.isEmpty)
    }

    @Test func serveHelpListsEverySettingWithEnvironmentAndDefault() async throws {
        let result = try await ChildProcess.runRPGBot(["serve", "--help"])
        #expect(result.status == 0)
        for setting in Setting.all {
            if let flag = setting.flag { #expect(result.stdout.contains("--\(flag) <"), "help lacks --\(flag)") }
            #expect(result.stdout.contains(setting.environment), "help lacks \(setting.environment)")
            #expect(result.stdout.contains("Default: \(setting.defaultValue)."), "help lacks the default of \(setting.environment)")
        }
    }

    @Test("every flag is read: a bad value of each names its setting", arguments: Setting.all.filter { $0.flag != nil && !["host", "otel-service-name", "llm-model", "embedding-model", "tts-model", "image-model", "content-dir", "model-dir", "profiles", "data-dir"].contains($0.flag!) })
    func everyFlagIsParsed(_ setting: Setting) async throws {
        // On port 0, in case a bad value were taken: the server would start, not hang the test on 8080.
        let port = setting.flag == "port" ? [] : ["--port", "0"]
        let result = try await ChildProcess.runRPGBot(["serve", "--\(setting.flag!)=\u{7F}bad value\u{7F}"] + port, timeout: .seconds(30))
        #expect(result.status == 2, "\(setting.flag!): \(result.stderr)")
        #expect(result.stderr.contains(setting.displayName), "\(setting.flag!): \(result.stderr)")
    }

    @Test func tokenCommandSignsWithTheDataFolderSecret() async throws {
        try await withTemporaryDirectory { directory in
            let result = try await ChildProcess.runRPGBot(["token", "--sub", "alice", "--campaign", "demo", "--role", "gm", "--ttl", "12h", "--data-dir", directory.path])
            #expect(result.status == 0, "stderr: \(result.stderr)")
            let token = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let parts = token.split(separator: ".")
            #expect(parts.count == 3)
            let payload = try jsonObject(try #require(Data(base64URLEncoded: String(parts[1]))))
            #expect(payload["sub"] as? String == "alice")
            #expect(payload["campaign"] as? String == "demo")
            #expect(payload["role"] as? String == "gm")
            let expiry = try #require(payload["exp"] as? Double)
            #expect(abs(expiry - Date().addingTimeInterval(12 * 3600).timeIntervalSince1970) < 120)
            // The secret file was made once; a second token uses the same one.
            let secretPath = directory.file("jwt-secret").path
            let before = try Data(contentsOf: URL(fileURLWithPath: secretPath))
            let again = try await ChildProcess.runRPGBot(["token", "--sub", "bob", "--campaign", "*", "--role", "player", "--data-dir", directory.path])
            #expect(again.status == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: secretPath)) == before)
        }
    }

    /// `--console` prints the console's address with the token in the fragment, for the port
    /// the server listens on or the address given.
    @Test func tokenCommandPrintsAConsoleLink() async throws {
        try await withTemporaryDirectory { directory in
            let local = try await ChildProcess.runRPGBot(
                ["token", "--sub", "ann", "--campaign", "demo", "--role", "player", "--console", "--data-dir", directory.path],
                environment: ["RPGBOT_PORT": "9191", "RPGBOT_HOST": "0.0.0.0"]
            )
            #expect(local.status == 0, "stderr: \(local.stderr)")
            let link = local.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(link.hasPrefix("http://localhost:9191/console/#token="))
            let token = String(try #require(link.split(separator: "#token=").last))
            let payload = try jsonObject(try #require(Data(base64URLEncoded: String(token.split(separator: ".")[1]))))
            #expect(payload["sub"] as? String == "ann" && payload["role"] as? String == "player")

            let hosted = try await ChildProcess.runRPGBot(
                ["token", "--sub", "ann", "--campaign", "demo", "--role", "player", "--console", "--console-url", "https://rpg.example.org/", "--data-dir", directory.path]
            )
            #expect(hosted.stdout.hasPrefix("https://rpg.example.org/console/#token=ey"), "\(hosted.stdout)")
        }
    }

    @Test(arguments: [
        ["token", "--sub", "a", "--campaign", "demo", "--role", "king"],
        ["token", "--sub", "a", "--campaign", "bad id", "--role", "gm"],
        ["token", "--sub", "a", "--campaign", "demo", "--role", "gm", "--ttl", "forever"],
        ["token", "--campaign", "demo", "--role", "gm"],
        ["token", "--sub", "a", "--campaign", "demo", "--role", "gm", "--console-url", "http://localhost:8080"],
        ["token", "--sub", "a", "--campaign", "demo", "--role", "gm", "--console", "--console-url", "ftp://localhost"],
        ["token", "--sub", "a", "--campaign", "demo", "--role", "gm", "--console", "--console-url", "http://h/#x"],
    ])
    func tokenCommandRefusesBadArguments(_ arguments: [String]) async throws {
        try await withTemporaryDirectory { directory in
            let result = try await ChildProcess.runRPGBot(arguments + ["--data-dir", directory.path])
            #expect(result.status == 2, "stderr: \(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
    }
}

extension Data {
    /// Decodes base64url without padding, as JWT segments are written.
    init?(base64URLEncoded text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
