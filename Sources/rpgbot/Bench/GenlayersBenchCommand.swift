import JSONValues
import ArgumentParser
import Foundation
import Genlayers
import JSONSchema
import Logging
import RPGBotApp
import ServiceKit

/// `rpgbot bench genlayers`: the generation layer's own costs: validating a scene-sized
/// output, compiling its schema, and a whole generation with the offline provider (prompt
/// rendering, the offline fill, parsing and validation: everything but a model).
struct GenlayersBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "genlayers",
        abstract: "Measure validations per second, schema compile time and the engine's overhead per generation."
    )

    @Option(help: ArgumentHelp("The profiles file.", valueName: "path"))
    var profiles: String = "profiles/profiles.yaml"

    @Option(help: ArgumentHelp("The profile measured.", valueName: "name"))
    var profile: String = "scene"

    @Option(help: ArgumentHelp("An instance of the profile's schema to validate.", valueName: "path"))
    var instance: String = "profiles/examples/scene.example.json"

    @Option(help: "Seconds for the validation loop.")
    var duration: Double = 5

    @Option(help: "Generations to time with the offline provider.")
    var generations: Int = 5000

    func validate() throws {
        guard duration > 0, generations > 0 else { throw ValidationError("--duration and --generations must be positive.") }
    }

    func run() async throws {
        let catalog: ProfileCatalog
        do {
            catalog = try ProfileCatalog.load(from: URL(fileURLWithPath: profiles), knownProviders: GenerationEngine.providerNames)
        } catch {
            throw StartupError(message: "\(error)", exitCode: RPGBotCommand.usageExitCode)
        }
        guard let measured = catalog[profile] else {
            throw StartupError(message: "no profile named '\(profile)' in \(profiles)", exitCode: RPGBotCommand.usageExitCode)
        }
        guard let data = FileManager.default.contents(atPath: instance), let example = try? JSONValue.parse(String(decoding: data, as: UTF8.self)) else {
            throw StartupError(message: "cannot read \(instance) as JSON", exitCode: RPGBotCommand.usageExitCode)
        }
        print("genlayers benchmark: profile \(profile) (\(measured.schemaPath)), instance \(instance), one task")

        // Compile: building the validator and its first validation (references resolve lazily).
        var compileTimes: [Duration] = []
        for _ in 0..<200 {
            let start = ContinuousClock.now
            let schema = JSONSchema(measured.schemaDocument)
            _ = schema.validate(example)
            compileTimes.append(ContinuousClock.now - start)
        }
        compileTimes.sort()
        print("  schema compile + first validation: median \(Self.format(compileTimes[compileTimes.count / 2])), p99 \(Self.format(compileTimes[compileTimes.count * 99 / 100]))")

        let errors = measured.schema.validate(example)
        print("  instance is \(errors.isEmpty ? "valid" : "INVALID (\(errors.count) errors)")")
        var count = 0
        let deadline = ContinuousClock.now + .milliseconds(Int64(duration * 1000))
        let start = ContinuousClock.now
        while ContinuousClock.now < deadline {
            for _ in 0..<100 { _ = measured.schema.validate(example) }
            count += 100
        }
        let seconds = (ContinuousClock.now - start).inSeconds
        print(String(format: "  validations: %d in %.1f s = %.0f/s, %.1f µs each (target: 20,000/s, under 50 µs)", count, seconds, Double(count) / seconds, seconds / Double(count) * 1e6))

        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let engine = GenerationEngine(catalog: catalog, providers: [OfflineProvider()], settings: GenlayersSettings(), logger: logger)
        let input: JSONValue = .object([
            "location": .string("The Rusty Anchor tavern"),
            "intent": .string("we push the door open and look for the smuggler"),
            "party": .array([.object(["name": .string("Ada"), "class": .string("wizard")]), .object(["name": .string("Bram"), "class": .string("fighter")])]),
            "npcs": .array([.object(["id": .string("npc.maren"), "name": .string("Maren")]), .object(["id": .string("npc.old-tom"), "name": .string("Old Tom")])]),
        ])
        let request = GenerationRequest(profile: profile, input: measured.inputSchema == nil ? .object([:]) : input, provider: OfflineProvider.providerName)
        for _ in 0..<100 { _ = try await engine.generate(request) }
        var latencies: [Duration] = []
        latencies.reserveCapacity(generations)
        let loopStart = ContinuousClock.now
        for _ in 0..<generations {
            let started = ContinuousClock.now
            _ = try await engine.generate(request)
            latencies.append(ContinuousClock.now - started)
        }
        let total = (ContinuousClock.now - loopStart).inSeconds
        latencies.sort()
        print(String(format: "  offline generations: %d in %.1f s = %.0f/s", generations, total, Double(generations) / total))
        print("  engine overhead per generation: p50 \(Self.format(latencies[latencies.count / 2])), p99 \(Self.format(latencies[latencies.count * 99 / 100])), max \(Self.format(latencies[latencies.count - 1])) (target: p99 under 2 ms)")
    }

    static func format(_ duration: Duration) -> String {
        let microseconds = duration.inSeconds * 1e6
        return microseconds >= 1000 ? String(format: "%.2f ms", microseconds / 1000) : String(format: "%.1f µs", microseconds)
    }
}
