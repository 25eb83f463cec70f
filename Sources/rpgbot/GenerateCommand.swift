import CapabilityKit
import JSONValues
import ArgumentParser
import Foundation
import Gateway
import Genlayers
import Logging
import RPGBotApp
import ServiceKit

/// `rpgbot generate`: runs one structured generation in-process and prints the result.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate structured JSON with a profile and print the result.",
        discussion: """
            The provider settings (RPGBOT_LLM_PROVIDER, RPGBOT_LLM_BASE_URL, RPGBOT_LLM_API_KEY,
            RPGBOT_LLM_MODEL, …) are read from the environment as for `rpgbot serve`.
            Exit status: 0 with valid output, 1 when the generation failed (refusal, no valid
            output after the retries, provider error), 2 for bad arguments, profiles or input.
            """
    )

    @Argument(help: "The profile to generate with (see --list).")
    var profile: String?

    @Flag(help: "List the profiles and exit.")
    var list = false

    @Option(help: ArgumentHelp("The input: JSON text, or @file to read it from a file.", valueName: "json|@file"))
    var input: String = "{}"

    @Option(help: ArgumentHelp("Background context: JSON text, or @file.", valueName: "json|@file"))
    var context: String = "{}"

    @Option(help: ArgumentHelp("Override the provider: \(GenerationEngine.providerNames.sorted().joined(separator: ", ")).", valueName: "name"))
    var provider: String?

    @Option(help: ArgumentHelp("Override the model.", valueName: "name"))
    var model: String?

    @Option(help: ArgumentHelp(Setting.profiles.helpText, valueName: "path"))
    var profiles: String?

    func run() async throws {
        var flags: [String: String] = [:]
        if let profiles { flags["profiles"] = profiles }
        let generation: GenerationConfiguration
        do {
            generation = try ConfigurationLoader(flags: flags).generation()
        } catch {
            throw StartupError(message: error.description, exitCode: RPGBotCommand.usageExitCode)
        }
        let catalog: ProfileCatalog
        do {
            var given = generation
            given.profilesPathGiven = true
            var quiet = Logger(label: "rpgbot.generate")
            quiet.logLevel = .warning
            catalog = try GatewayCapability.loadProfiles(given, logger: quiet)
        } catch {
            throw StartupError(message: "\(error)", exitCode: RPGBotCommand.usageExitCode)
        }
        if list {
            for profile in catalog.sorted {
                print("\(profile.name)\t\(profile.description)")
            }
            return
        }
        guard let profile else {
            throw StartupError(message: "name a profile (rpgbot generate --list shows them)", exitCode: RPGBotCommand.usageExitCode)
        }
        guard catalog[profile] != nil else {
            throw StartupError(message: "no profile named '\(profile)'; known: \(catalog.sorted.map(\.name).joined(separator: ", "))", exitCode: RPGBotCommand.usageExitCode)
        }
        if let provider, !GenerationEngine.providerNames.contains(provider) {
            throw StartupError(message: "unknown provider '\(provider)'; known: \(GenerationEngine.providerNames.sorted().joined(separator: ", "))", exitCode: RPGBotCommand.usageExitCode)
        }
        let inputValue = try Self.readJSON(input, what: "--input")
        let contextValue = try Self.readJSON(context, what: "--context")
        var logger = Logger(label: "rpgbot.genlayers")
        logger.logLevel = .error
        let engine = GenerationEngine(
            catalog: catalog,
            providers: GenerationEngine.standardProviders(generation.engine.providerSettings),
            settings: generation.engine,
            logger: logger
        )
        do {
            let result = try await engine.generate(GenerationRequest(profile: profile, input: inputValue, context: contextValue, provider: provider, model: model))
            print(Self.pretty(GenerationRoutes.encode(result)))
        } catch let failure as GenerationFailure {
            if case .invalidInput = failure {
                throw StartupError(message: failure.description, exitCode: RPGBotCommand.usageExitCode)
            }
            let problem = GenerationRoutes.problem(for: failure).problem
            print(Self.pretty((try? JSONValue.parse(String(decoding: JSONEncoder().encode(problem), as: UTF8.self))) ?? .null))
            throw StartupError(message: failure.description, exitCode: 1)
        }
    }

    /// JSON text, or `@path` for a file's content.
    static func readJSON(_ argument: String, what: String) throws -> JSONValue {
        var text = argument
        if argument.hasPrefix("@") {
            let path = String(argument.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else {
                throw StartupError(message: "\(what): cannot read \(path)", exitCode: RPGBotCommand.usageExitCode)
            }
            text = String(decoding: data, as: UTF8.self)
        }
        guard let value = try? JSONValue.parse(text) else {
            throw StartupError(message: "\(what) is not valid JSON", exitCode: RPGBotCommand.usageExitCode)
        }
        guard value.objectValue != nil else {
            throw StartupError(message: "\(what) must be a JSON object", exitCode: RPGBotCommand.usageExitCode)
        }
        return value
    }

    static func pretty(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? value.canonicalText
    }
}
