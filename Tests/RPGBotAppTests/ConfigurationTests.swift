import CapabilityKit
import Foundation
import Logging
import Memory37
import PartySync
import Observability
import Persistence
import RPGBotApp
import Testing

@Suite struct ConfigurationPrecedenceTests {
    @Test func defaultsApplyWhenNothingIsGiven() throws {
        let configuration = try ConfigurationLoader(flags: [:], environment: [:]).load()
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8080)
        #expect(configuration.dataDirectory.path.hasSuffix("/data"))
        #expect(configuration.databaseURL == .sqlite(path: configuration.dataDirectory.appendingPathComponent("rpgbot.sqlite").path))
        #expect(configuration.observability.logLevel == .info)
        #expect(configuration.observability.logFormat == .json)
        #expect(configuration.observability.metricsEnabled == false)
        #expect(configuration.observability.traceExporter == .none)
        #expect(configuration.maxBodySize == 1 << 20)
        #expect(configuration.jwtSecret == nil)
    }

    @Test func environmentOverridesDefaults() throws {
        let configuration = try ConfigurationLoader(flags: [:], environment: [
            "RPGBOT_PORT": "9001", "RPGBOT_HOST": "0.0.0.0", "RPGBOT_DATA_DIR": "/srv/rpgbot",
            "RPGBOT_LOG_LEVEL": "debug", "RPGBOT_LOG_FORMAT": "text", "ENABLE_METRICS": "true",
            "RPGBOT_MAX_BODY_SIZE": "4MiB", "RPGBOT_SHUTDOWN_TIMEOUT": "5s",
            "RPGBOT_JWT_SECRET": String(repeating: "s", count: 40),
        ]).load()
        #expect(configuration.port == 9001)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.dataDirectory.path == "/srv/rpgbot")
        #expect(configuration.databaseURL == .sqlite(path: "/srv/rpgbot/rpgbot.sqlite"))
        #expect(configuration.observability.logLevel == .debug)
        #expect(configuration.observability.logFormat == .text)
        #expect(configuration.observability.metricsEnabled)
        #expect(configuration.maxBodySize == 4 << 20)
        #expect(configuration.shutdownTimeout == .seconds(5))
        #expect(configuration.jwtSecret?.count == 40)
    }

    @Test func flagsOverrideEnvironment() throws {
        let configuration = try ConfigurationLoader(
            flags: ["port": "7000", "log-level": "error", "database-url": "sqlite:///tmp/x.sqlite", "enable-metrics": "false"],
            environment: ["RPGBOT_PORT": "9001", "RPGBOT_LOG_LEVEL": "debug", "RPGBOT_DATABASE_URL": "postgres://u@h/d", "ENABLE_METRICS": "true"]
        ).load()
        #expect(configuration.port == 7000)
        #expect(configuration.observability.logLevel == .error)
        #expect(configuration.databaseURL == .sqlite(path: "/tmp/x.sqlite"))
        #expect(configuration.observability.metricsEnabled == false)
    }

    @Test func emptyEnvironmentValuesMeanUnset() throws {
        let configuration = try ConfigurationLoader(flags: [:], environment: ["RPGBOT_PORT": "", "RPGBOT_LOG_LEVEL": ""]).load()
        #expect(configuration.port == 8080)
        #expect(configuration.observability.logLevel == .info)
    }

    @Test func otlpEndpointTurnsOnTheOTLPExporter() throws {
        let configuration = try ConfigurationLoader(flags: [:], environment: [
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SERVICE_NAME": "rpgbot-eu", "OTEL_BSP_SCHEDULE_DELAY": "100",
        ]).load()
        #expect(configuration.observability.traceExporter == .otlp)
        #expect(configuration.observability.otelServiceName == "rpgbot-eu")
        #expect(configuration.observability.otelEnvironment["OTEL_BSP_SCHEDULE_DELAY"] == "100")
        let off = try ConfigurationLoader(flags: ["otel-traces-exporter": "none"], environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"]).load()
        #expect(off.observability.traceExporter == .none)
    }

    @Test func postgresURLIsParsed() throws {
        let configuration = try ConfigurationLoader(flags: [:], environment: ["RPGBOT_DATABASE_URL": "postgres://rpg:pw@127.0.0.1:5433/rpgbot?sslmode=disable"]).load()
        #expect(configuration.databaseURL == .postgres(.init(host: "127.0.0.1", port: 5433, username: "rpg", password: "pw", database: "rpgbot", tlsMode: .disable)))
    }

    @Test(arguments: ["500ms", "30s", "2m", "12h", "7d", "90"])
    func durationsParse(_ text: String) {
        #expect(ConfigurationLoader.parseDuration(text) != nil)
    }
}

@Suite struct ConfigurationErrorTests {
    /// Every kind of bad value names its setting (flag and environment variable) and what is accepted.
    @Test(arguments: [
        (["port": "abc"], [String: String](), Setting.port),
        (["port": "70000"], [:], Setting.port),
        ([:], ["RPGBOT_PORT": "-1"], Setting.port),
        (["log-level": "loud"], [:], Setting.logLevel),
        ([:], ["RPGBOT_LOG_FORMAT": "xml"], Setting.logFormat),
        (["database-url": "mysql://x@y/z"], [:], Setting.databaseURL),
        ([:], ["RPGBOT_DATABASE_URL": "postgres://nohost"], Setting.databaseURL),
        (["enable-metrics": "maybe"], [:], Setting.metrics),
        (["max-body-size": "lots"], [:], Setting.maxBodySize),
        (["max-body-size": "0"], [:], Setting.maxBodySize),
        (["shutdown-timeout": "soon"], [:], Setting.shutdownTimeout),
        (["services": "party-sync,nonexistent"], [:], Setting.services),
        (["host": "  "], [:], Setting.host),
        ([:], ["RPGBOT_JWT_SECRET": "short"], Setting.jwtSecret),
        (["otel-traces-exporter": "jaeger"], [:], Setting.otelTracesExporter),
        (["otel-endpoint": "not a url"], [:], Setting.otelEndpoint),
        ([:], ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"], Setting.otelProtocol),
        (["knowledge-search": "cloud"], [:], Setting.knowledgeSearch),
        ([:], ["RPGBOT_WS_CLOSE_TIMEOUT": "later"], Setting.wsCloseTimeout),
        (["database-wait": "forever"], [:], Setting.databaseWait),
        ([:], ["RPGBOT_HTTP_IDLE_TIMEOUT": "0"], Setting.httpIdleTimeout),
        (["max-connections": "0"], [:], Setting.maxConnections),
        ([:], ["RPGBOT_KNOWLEDGE_STORE_TIMEOUT": "soon"], Setting.knowledgeStoreTimeout),
        (["knowledge-store-timeout": "0"], [:], Setting.knowledgeStoreTimeout),
    ] as [([String: String], [String: String], Setting)])
    func badValueStopsWithANamedSetting(flags: [String: String], environment: [String: String], setting: Setting) {
        do {
            _ = try ConfigurationLoader(flags: flags, environment: environment).load()
            Issue.record("expected \(setting.environment) to be refused")
        } catch {
            #expect(error.setting == setting)
            #expect(error.description.contains(setting.environment))
            #expect(error.description.contains("accepted:"))
            if let flag = setting.flag {
                #expect(error.description.contains("--\(flag)"))
            }
        }
    }

    @Test func secretsAreNeverEchoed() {
        do {
            _ = try ConfigurationLoader(flags: [:], environment: ["RPGBOT_JWT_SECRET": "tooshort-secret"]).load()
            Issue.record("expected a short secret to be refused")
        } catch {
            #expect(!error.description.contains("tooshort-secret"))
        }
    }

    @Test func everySettingHasHelpWithItsEnvironmentNameAndDefault() {
        for setting in Setting.all {
            #expect(setting.helpText.contains(setting.environment))
            #expect(setting.helpText.contains("Default: \(setting.defaultValue)"))
        }
        #expect(Set(Setting.all.map(\.environment)).count == Setting.all.count)
    }
}

@Suite struct DocumentationTests {
    /// The rows of the README's settings tables (`| flag | environment | default | accepts |`),
    /// by environment variable, with the backticks taken off.
    static func readmeSettings() throws -> [String: (flag: String, defaultValue: String)] {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("README.md")
        var rows: [String: (flag: String, defaultValue: String)] = [:]
        for line in try String(contentsOf: readme, encoding: .utf8).components(separatedBy: "\n") where line.hasPrefix("| ") {
            // `\|` is a pipe inside a cell.
            let cells = line.replacingOccurrences(of: "\\|", with: "\u{1}").split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast().map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 4, cells[1].hasPrefix("`"), cells[1].hasSuffix("`"), cells[0] == "—" || cells[0].hasPrefix("`--") else { continue }
            rows[cells[1].replacingOccurrences(of: "`", with: "")] = (cells[0].replacingOccurrences(of: "`", with: ""), cells[2].replacingOccurrences(of: "`", with: ""))
        }
        return rows
    }

    /// The README's settings tables are the operator's reference: one row per setting, with
    /// its flag and its default as the server declares them, and no row for a setting that
    /// does not exist.
    @Test func readmeTablesMatchTheDeclaredSettings() throws {
        let rows = try Self.readmeSettings()
        for setting in Setting.all {
            guard let row = rows[setting.environment] else {
                Issue.record("README lacks \(setting.environment)")
                continue
            }
            #expect(row.flag == (setting.flag.map { "--" + $0 } ?? "—"), "\(setting.environment): README says \(row.flag)")
            #expect(row.defaultValue == setting.defaultValue, "\(setting.environment): README says \(row.defaultValue), the server \(setting.defaultValue)")
        }
        #expect(Set(rows.keys) == Set(Setting.all.map(\.environment)), "README rows without a setting: \(Set(rows.keys).subtracting(Setting.all.map(\.environment)))")
    }
}
