import JSONValues
public import Foundation
import JSONSchema
import ServiceKit
import Yams

/// The generation profiles, loaded from `profiles.yaml` and checked before anything runs:
/// every schema against the 2020-12 meta-schema (and the strict-mode rules when the profile is
/// strict), every template parsed, every number in range.
public struct ProfileCatalog: Sendable {
    public let profiles: [String: GenerationProfile]
    /// Where the profiles were read from, or nil for profiles built in code.
    public let source: URL?

    public init(profiles: [GenerationProfile], source: URL? = nil) {
        self.profiles = Dictionary(profiles.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.source = source
    }

    /// Profiles sorted by name.
    public var sorted: [GenerationProfile] {
        profiles.values.sorted { $0.name < $1.name }
    }

    public subscript(name: String) -> GenerationProfile? { profiles[name] }

    /// Loads `profiles.yaml`; schema files are resolved relative to its folder.
    ///
    /// - Parameter knownProviders: provider names a profile may name.
    public static func load(from url: URL, knownProviders: Set<String>) throws(ProfileError) -> ProfileCatalog {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw ProfileError(file: url.path, profile: nil, message: "cannot be read: \(error.localizedDescription)")
        }
        let file: ProfileFile
        do {
            file = try YAMLDecoder().decode(ProfileFile.self, from: text)
        } catch {
            throw ProfileError(file: url.path, profile: nil, message: "is not a valid profiles file: \(Self.describe(error))")
        }
        let folder = url.deletingLastPathComponent()
        var profiles: [GenerationProfile] = []
        for (name, entry) in file.profiles.sorted(by: { $0.key < $1.key }) {
            do {
                profiles.append(try entry.profile(named: name, folder: folder, knownProviders: knownProviders))
            } catch {
                throw ProfileError(file: url.path, profile: name, message: error.message)
            }
        }
        return ProfileCatalog(profiles: profiles, source: url)
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.keyNotFound(let key, let context) = error {
            return "missing \(Self.path(context.codingPath + [key]))"
        }
        if case DecodingError.typeMismatch(_, let context) = error {
            return "\(Self.path(context.codingPath)): \(context.debugDescription)"
        }
        if case DecodingError.dataCorrupted(let context) = error {
            return "\(Self.path(context.codingPath)): \(context.debugDescription)"
        }
        return "\(error)"
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

/// A profile that cannot be used, with the file and profile it is in.
public struct ProfileError: Error, Sendable, CustomStringConvertible {
    public let file: String
    public let profile: String?
    public let message: String

    public var description: String {
        if let profile { "\(file): profile '\(profile)': \(message)" } else { "\(file) \(message)" }
    }
}

/// The shape of `profiles.yaml`.
struct ProfileFile: Decodable {
    let profiles: [String: Entry]

    struct Entry: Decodable {
        let description: String
        let schema: String
        let inputSchema: String?
        let system: String
        let user: String
        let provider: String?
        let model: String?
        let temperature: Double?
        let maxOutputTokens: Int?
        let maxRetries: Int?
        let strict: Bool?
        let offlineTemplate: JSONValue?
        let repair: Bool?

        enum CodingKeys: String, CodingKey {
            case description, schema, system, user, provider, model, temperature, strict, repair
            case inputSchema = "input_schema"
            case maxOutputTokens = "max_output_tokens"
            case maxRetries = "max_retries"
            case offlineTemplate = "offline_template"
        }

        struct Problem: Error { let message: String }

        func profile(named name: String, folder: URL, knownProviders: Set<String>) throws(Problem) -> GenerationProfile {
            guard name.range(of: #"^[A-Za-z0-9_-]{1,64}$"#, options: .regularExpression) != nil else {
                throw Problem(message: "the name must be 1–64 letters, digits, _ or -")
            }
            let strict = self.strict ?? true
            let (document, text) = try Self.loadSchema(schema, folder: folder, role: "schema")
            if strict {
                let violations = StrictModeRules.violations(of: document)
                if !violations.isEmpty {
                    throw Problem(message: "schema \(schema) breaks OpenAI strict mode (set strict: false to allow it): " + violations.prefix(5).joined(separator: "; "))
                }
            }
            var input: JSONSchema?
            if let inputSchema {
                let (document, _) = try Self.loadSchema(inputSchema, folder: folder, role: "input_schema")
                input = JSONSchema(document, uri: folder.appendingPathComponent(inputSchema).standardizedFileURL.absoluteString)
            }
            if let provider, !knownProviders.contains(provider) {
                throw Problem(message: "unknown provider '\(provider)'; known: \(knownProviders.sorted().joined(separator: ", "))")
            }
            if let temperature, !(0...2).contains(temperature) {
                throw Problem(message: "temperature must be between 0 and 2")
            }
            if let maxOutputTokens, !(16...200_000).contains(maxOutputTokens) { throw Problem(message: "max_output_tokens must be 16–200000 (or left out to size it from the schema)") }
            let maxRetries = self.maxRetries ?? 2
            guard (0...10).contains(maxRetries) else { throw Problem(message: "max_retries must be 0–10") }
            let systemPrompt: PromptTemplate
            let userPrompt: PromptTemplate
            do {
                systemPrompt = try PromptTemplate(system)
            } catch {
                throw Problem(message: "the system template does not parse: \(error)")
            }
            do {
                userPrompt = try PromptTemplate(user)
            } catch {
                throw Problem(message: "the user template does not parse: \(error)")
            }
            return GenerationProfile(
                name: name, description: description, schemaDocument: document, schemaText: text, schemaPath: schema,
                inputSchema: input, systemPrompt: systemPrompt, userPrompt: userPrompt, provider: provider, model: model,
                temperature: temperature, maxOutputTokens: maxOutputTokens, maxRetries: maxRetries, strict: strict,
                offlineTemplate: offlineTemplate, repair: repair ?? false
            )
        }

        /// Reads a schema file, checks it against the meta-schema, and returns it parsed and
        /// as provider text.
        static func loadSchema(_ path: String, folder: URL, role: String) throws(Problem) -> (JSONValue, String) {
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : folder.appendingPathComponent(path)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw Problem(message: "\(role) \(path) cannot be read (looked at \(url.path))")
            }
            let document: JSONValue
            let compact: String
            do {
                document = try JSONValue.parse(text)
                compact = try SchemaText.compact(text)
            } catch {
                throw Problem(message: "\(role) \(path) is not valid JSON")
            }
            let errors = JSONSchema.metaschema.validate(document)
            if !errors.isEmpty {
                throw Problem(message: "\(role) \(path) is not a valid JSON Schema 2020-12: " + errors.prefix(3).map(\.description).joined(separator: "; "))
            }
            return (document, compact)
        }
    }
}
