import JSONValues
import ArgumentParser
import Foundation
import JSONSchema
import ServiceKit

/// `rpgbot validate`: checks documents against a JSON Schema 2020-12, for content designers
/// and scripts.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Validate JSON documents against a JSON Schema (draft 2020-12).",
        discussion: """
            Without instances only the schema is checked (against the 2020-12 meta-schema).
            $refs to file: URIs and to files beside the schema are read from disk; --ref-dir maps
            other URL prefixes to local folders. Exit status: 0 when every instance is valid,
            1 when any is invalid, 2 for an unreadable or invalid schema.
            """
    )

    @Argument(help: "The schema file.")
    var schema: String

    @Argument(help: "Instance files to validate.")
    var instances: [String] = []

    @Flag(help: "Read one instance per line from standard input and print one JSON line per instance.")
    var jsonl = false

    @Option(name: .customLong("ref-dir"), help: ArgumentHelp("Resolve $refs under URL_PREFIX from DIR (repeatable).", valueName: "URL_PREFIX=DIR"))
    var refDirectories: [String] = []

    @Flag(help: "Check `format` values (email, date-time, …) instead of only annotating them.")
    var formatAssertion = false

    func run() throws {
        var mappings: [(prefix: String, directory: URL)] = []
        for mapping in refDirectories {
            guard let equals = mapping.firstIndex(of: "="), equals != mapping.startIndex else {
                throw StartupError(message: "--ref-dir \(mapping): expected URL_PREFIX=DIR", exitCode: RPGBotCommand.usageExitCode)
            }
            mappings.append((String(mapping[..<equals]), URL(fileURLWithPath: String(mapping[mapping.index(after: equals)...]))))
        }
        let schemaURL = URL(fileURLWithPath: schema).standardizedFileURL
        guard let data = FileManager.default.contents(atPath: schemaURL.path) else {
            throw StartupError(message: "cannot read the schema \(schema)", exitCode: RPGBotCommand.usageExitCode)
        }
        guard let document = try? JSONValue.parse(String(decoding: data, as: UTF8.self)) else {
            throw StartupError(message: "the schema \(schema) is not valid JSON", exitCode: RPGBotCommand.usageExitCode)
        }
        let metaErrors = JSONSchema.metaschema.validate(document)
        guard metaErrors.isEmpty else {
            for error in metaErrors { writeStandardError("\(schema): \(error)\n") }
            throw StartupError(message: "the schema \(schema) is not a valid JSON Schema 2020-12", exitCode: RPGBotCommand.usageExitCode)
        }
        let prefixes = mappings
        let compiled = JSONSchema(document, uri: schemaURL.absoluteString, formatAssertion: formatAssertion) { uri in
            Self.retrieve(uri, mappings: prefixes)
        }

        var anyInvalid = false
        if jsonl {
            while let line = readLine(strippingNewline: true) {
                if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                let errors: [JSONValue]
                if let instance = try? JSONValue.parse(line) {
                    errors = compiled.validate(instance).map { Self.encode(instance: $0.instanceLocation, schema: $0.schemaLocation, message: $0.message) }
                } else {
                    errors = [.object(["instance_location": .string(""), "schema_location": .string(""), "message": .string("the line is not valid JSON")])]
                }
                anyInvalid = anyInvalid || !errors.isEmpty
                print(JSONValue.object(["valid": .bool(errors.isEmpty), "errors": .array(errors)]).canonicalText)
            }
        }
        for path in instances {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): cannot be read")
                anyInvalid = true
                continue
            }
            guard let instance = try? JSONValue.parse(String(decoding: data, as: UTF8.self)) else {
                print("\(path): invalid: not valid JSON")
                anyInvalid = true
                continue
            }
            let errors = compiled.validate(instance)
            if errors.isEmpty {
                print("\(path): valid")
            } else {
                anyInvalid = true
                print("\(path): invalid (\(errors.count) error\(errors.count == 1 ? "" : "s"))")
                for error in errors { print("  \(error)") }
            }
        }
        if !jsonl && instances.isEmpty {
            print("\(schema): a valid JSON Schema 2020-12")
        }
        if anyInvalid { throw ExitCode(1) }
    }

    static func encode(instance: String, schema: String, message: String) -> JSONValue {
        .object([
            "instance_location": .string(instance),
            "schema_location": .string(schema),
            "message": .string(message),
        ])
    }

    /// Local files for `file:` URIs and for URIs under a mapped prefix.
    static func retrieve(_ uri: String, mappings: [(prefix: String, directory: URL)]) -> JSONValue? {
        var path: String?
        for mapping in mappings where uri.hasPrefix(mapping.prefix) {
            path = mapping.directory.appendingPathComponent(String(uri.dropFirst(mapping.prefix.count))).path
            break
        }
        if path == nil, let url = URL(string: uri), url.isFileURL {
            path = url.path
        }
        guard let path, let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONValue.parse(String(decoding: data, as: UTF8.self))
    }
}
