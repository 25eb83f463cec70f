import Foundation
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
        for name in ["--host", "--port", "--data-dir", "--services", "--database-url", "--log-level", "--log-format",
                     "--enable-metrics", "--max-body-size", "--shutdown-timeout", "--otel-endpoint", "--otel-service-name"] {
            #expect(result.stdout.contains(name), "help lacks \(name)")
        }
        for variable in ["RPGBOT_HOST", "RPGBOT_PORT", "RPGBOT_DATA_DIR", "RPGBOT_SERVICES", "RPGBOT_DATABASE_URL", "RPGBOT_JWT_SECRET",
                         "RPGBOT_LOG_LEVEL", "RPGBOT_LOG_FORMAT", "ENABLE_METRICS", "RPGBOT_MAX_BODY_SIZE", "RPGBOT_SHUTDOWN_TIMEOUT",
                         "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_SERVICE_NAME"] {
            #expect(result.stdout.contains(variable), "help lacks \(variable)")
        }
        #expect(result.stdout.contains("Default: 8080"))
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

    @Test(arguments: [
        ["token", "--sub", "a", "--campaign", "demo", "--role", "king"],
        ["token", "--sub", "a", "--campaign", "bad id", "--role", "gm"],
        ["token", "--sub", "a", "--campaign", "demo", "--role", "gm", "--ttl", "forever"],
        ["token", "--campaign", "demo", "--role", "gm"],
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
