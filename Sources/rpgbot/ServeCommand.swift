import CapabilityKit
import ArgumentParser
import Observability
import Logging
import RPGBotApp

import Foundation

/// `rpgbot serve`: runs the HTTP server with the selected capability services.
///
/// Its flags are the settings of ``Setting/all``, read from that one declaration: the parser
/// below, the help and the README's table (checked by a test) all come from it.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the backend: every selected service in one process on one port.",
        usage: "rpgbot serve [--SETTING VALUE ...]",
        discussion: "Settings are listed by rpgbot serve --help."
    )

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Settings, as --flag value or --flag=value (listed below).", valueName: "settings"))
    var arguments: [String] = []

    /// `rpgbot serve --help`: every setting of ``Setting/all`` with its flag, what it accepts,
    /// its environment variable and its default. Written here rather than by ArgumentParser,
    /// which knows only options declared one by one.
    static func help(width: Int = 100) -> String {
        var text = """
            OVERVIEW: \(configuration.abstract)

            USAGE: rpgbot serve [--SETTING VALUE ...]

            Each setting is read from its flag (--flag value or --flag=value), else its environment
            variable, else the default. A bad value stops start-up with exit status 2.

            SETTINGS:

            """
        for setting in Setting.all {
            text += "  " + (setting.flag.map { "--\($0) <\(setting.valueName)>" } ?? "\(setting.environment) (environment only)") + "\n"
            for line in wrap("\(setting.summary) Accepts \(setting.accepted).", width: width - 8) { text += "        \(line)\n" }
            text += "        Env: \(setting.environment). Default: \(setting.defaultValue).\n"
        }
        text += "\nOther standard OTEL_* variables (headers, sampler, batch sizes) reach the OpenTelemetry exporter.\n"
        return text
    }

    /// Words of `text` in lines of at most `width` characters.
    static func wrap(_ text: String, width: Int) -> [String] {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { lines.append(line) }
        return lines
    }

    /// The flags given, keyed by setting flag name, for ``ConfigurationLoader``.
    var givenFlags: [String: String] {
        get throws { try Self.flags(from: arguments) }
    }

    /// Reads `--flag value` and `--flag=value` pairs of the settings that have flags; anything
    /// else is refused by name.
    static func flags(from arguments: [String]) throws -> [String: String] {
        let known = Set(Setting.all.compactMap(\.flag))
        var flags: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("--") else {
                throw ValidationError("Unexpected argument '\(argument)'; settings are given as --flag value (rpgbot serve --help lists them).")
            }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard known.contains(name) else {
                throw ValidationError("Unknown option '--\(name)'; rpgbot serve --help lists the settings.")
            }
            if value == nil {
                index += 1
                guard index < arguments.count else { throw ValidationError("Missing value for '--\(name)'.") }
                value = arguments[index]
            }
            flags[name] = value
            index += 1
        }
        return flags
    }

    func validate() throws {
        _ = try givenFlags
    }

    func run() async throws {
        let flags = try givenFlags
        let configuration: RPGBotConfiguration
        do {
            configuration = try ConfigurationLoader(flags: flags).load()
        } catch {
            throw StartupError(message: error.description, exitCode: RPGBotCommand.usageExitCode)
        }
        let telemetry: Telemetry
        do {
            telemetry = try Observability.bootstrap(service: "rpgbot", settings: configuration.observability)
        } catch {
            throw StartupError(message: "cannot start telemetry: \(error)", exitCode: 1)
        }
        let server: RPGBotServer
        do {
            server = try await RPGBotServer.prepare(configuration: configuration, telemetry: telemetry)
        } catch {
            telemetry.logger.critical("start-up failed", metadata: ["error": "\(error)"])
            throw StartupError(message: "start-up failed: \(error)", exitCode: 1)
        }
        do {
            try await server.run()
        } catch {
            telemetry.logger.critical("server stopped with an error", metadata: ["error": "\(error)"])
            throw StartupError(message: "server stopped: \(error)", exitCode: 1)
        }
    }
}
