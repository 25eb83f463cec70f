import JSONValues
import ArgumentParser
import Foundation
import JSONSchema
import ServiceKit

/// `rpgbot bench json-schema`: how fast a schema compiles and validates an instance.
struct JSONSchemaBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "json-schema",
        abstract: "Measure JSON Schema compile time and validations per second on one core."
    )

    @Option(help: "The schema file (JSON).")
    var schema: String

    @Option(help: "An instance file (JSON) to validate repeatedly.")
    var instance: String

    @Option(help: "Seconds to validate for.")
    var duration: Double = 5

    func validate() throws {
        guard duration > 0 else { throw ValidationError("--duration must be positive.") }
    }

    func run() async throws {
        let schemaValue = try load(schema)
        let instanceValue = try load(instance)

        var compileTimes: [Duration] = []
        var compiled: JSONSchema?
        for _ in 0..<50 {
            let start = ContinuousClock.now
            compiled = JSONSchema(schemaValue)
            compileTimes.append(ContinuousClock.now - start)
        }
        guard let compiled else { return }
        let errors = compiled.validate(instanceValue)

        var count = 0
        let deadline = ContinuousClock.now + .milliseconds(Int64(duration * 1000))
        let start = ContinuousClock.now
        while ContinuousClock.now < deadline {
            for _ in 0..<100 { _ = compiled.validate(instanceValue) }
            count += 100
        }
        let elapsed = ContinuousClock.now - start
        let seconds = elapsed.inSeconds
        compileTimes.sort()
        print("json-schema benchmark: \(schema) against \(instance)")
        print("  instance is \(errors.isEmpty ? "valid" : "invalid (\(errors.count) errors)")")
        print("  compile time:          median \(format(compileTimes[compileTimes.count / 2]))")
        print(String(format: "  validations:           %d in %.1f s = %.0f/s, %.1f µs each (one task)", count, seconds, Double(count) / seconds, seconds / Double(count) * 1e6))
    }

    private func load(_ path: String) throws -> JSONValue {
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw ValidationError("cannot read \(path) as JSON: \(error.localizedDescription)")
        }
    }

    private func format(_ duration: Duration) -> String {
        let microseconds = duration.inSeconds * 1e6
        return String(format: "%.1f µs", microseconds)
    }
}
