import JSONValues
public import Foundation
import ServiceKit
import Yams

/// Reads knowledge documents from files: Markdown with YAML front matter, YAML and JSON (one
/// document, or a list under `documents:` or at the top). A folder is read recursively.
///
/// Recognised fields: `id`, `domain`, `title`, `aliases`, `visibility`, `campaign`, `expires`
/// (ISO 8601 date) or `ttl` (a duration from when it is stored), `pinned` (never expires),
/// `session`; `text` or `body` for YAML and JSON documents. Every other field
/// is kept as metadata. See docs/knowledge-content.md.
public struct DocumentLoader: Sendable {
    /// Applied when a document does not say.
    public var defaultDomain: KnowledgeDomain
    public var defaultCampaign: String?

    public init(defaultDomain: KnowledgeDomain = .lore, defaultCampaign: String? = nil) {
        self.defaultDomain = defaultDomain
        self.defaultCampaign = defaultCampaign
    }

    /// What went wrong with one file; the other files are still read.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let path: String
        public let line: Int?
        public let reason: String

        public var description: String {
            "\(path)\(line.map { ":\($0)" } ?? ""): \(reason)"
        }
    }

    public static let extensions: Set<String> = ["md", "markdown", "yaml", "yml", "json"]

    /// Every document under `url` (a file or a folder), and every file that failed.
    public func load(_ url: URL) -> (documents: [KnowledgeDocument], failures: [Failure]) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            return ([], [Failure(path: url.path, line: nil, reason: "no such file or folder")])
        }
        guard isDirectory.boolValue else {
            return load(file: url, root: url.deletingLastPathComponent())
        }
        var documents: [KnowledgeDocument] = []
        var failures: [Failure] = []
        let files = (FileManager.default.enumerator(at: url, includingPropertiesForKeys: [.isRegularFileKey])?.compactMap { $0 as? URL } ?? [])
            .filter { Self.extensions.contains($0.pathExtension.lowercased()) && !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.path < $1.path }
        for file in files {
            let result = load(file: file, root: url)
            documents += result.documents
            failures += result.failures
        }
        return (documents, failures)
    }

    func load(file: URL, root: URL) -> (documents: [KnowledgeDocument], failures: [Failure]) {
        let path = file.path
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            return ([], [Failure(path: path, line: nil, reason: "cannot be read as UTF-8 text")])
        }
        let relative = Self.relativeID(file, root: root)
        do {
            switch file.pathExtension.lowercased() {
            case "md", "markdown":
                return ([try markdown(text, defaultID: relative, path: path)], [])
            case "json":
                let value: JSONValue
                do {
                    value = try JSONValue.parse(text)
                } catch {
                    throw Failure(path: path, line: nil, reason: "not valid JSON")
                }
                return (try structured(value, defaultID: relative, path: path), [])
            default:
                return (try structured(try yaml(text, path: path, lineOffset: 0), defaultID: relative, path: path), [])
            }
        } catch let failure as Failure {
            return ([], [failure])
        } catch {
            return ([], [Failure(path: path, line: nil, reason: "\(error)")])
        }
    }

    /// `npcs/maren.md` under the root → `npcs/maren`.
    static func relativeID(_ file: URL, root: URL) -> String {
        let rootPath = root.standardizedFileURL.path
        var path = file.standardizedFileURL.deletingPathExtension().path
        if path.hasPrefix(rootPath) { path = String(path.dropFirst(rootPath.count)) }
        return path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }

    func markdown(_ text: String, defaultID: String, path: String) throws(Failure) -> KnowledgeDocument {
        var fields: [String: JSONValue] = [:]
        var body = text
        if text.hasPrefix("---\n") || text.hasPrefix("---\r\n") {
            let lines = text.components(separatedBy: "\n")
            guard let end = lines.dropFirst().firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "---" }) else {
                throw Failure(path: path, line: 1, reason: "front matter opened with --- is never closed")
            }
            let yamlText = lines[1..<end].joined(separator: "\n")
            guard case .object(let parsed) = try yaml(yamlText, path: path, lineOffset: 1) else {
                throw Failure(path: path, line: 2, reason: "front matter must be a mapping of fields")
            }
            fields = parsed
            body = lines[(end + 1)...].joined(separator: "\n")
        }
        if fields["title"] == nil, let heading = body.split(separator: "\n").first(where: { $0.hasPrefix("# ") }) {
            fields["title"] = .string(String(heading.dropFirst(2)).trimmingCharacters(in: .whitespaces))
        }
        return try document(fields, body: body, defaultID: defaultID, path: path)
    }

    func structured(_ value: JSONValue, defaultID: String, path: String) throws(Failure) -> [KnowledgeDocument] {
        var records: [JSONValue]
        switch value {
        case .array(let values): records = values
        case .object(let members):
            if case .array(let values)? = members["documents"] { records = values } else { records = [value] }
        default:
            throw Failure(path: path, line: nil, reason: "expected a document (a mapping) or a list of documents")
        }
        var documents: [KnowledgeDocument] = []
        for (index, record) in records.enumerated() {
            guard case .object(var fields) = record else {
                throw Failure(path: path, line: nil, reason: "document \(index + 1) is not a mapping")
            }
            let body = fields.removeValue(forKey: "text")?.stringValue ?? fields.removeValue(forKey: "body")?.stringValue ?? ""
            let id = records.count == 1 ? defaultID : "\(defaultID)/\(index + 1)"
            documents.append(try document(fields, body: body, defaultID: id, path: path))
        }
        return documents
    }

    func document(_ fields: [String: JSONValue], body: String, defaultID: String, path: String) throws(Failure) -> KnowledgeDocument {
        var metadata = fields
        func take(_ key: String) -> JSONValue? { metadata.removeValue(forKey: key) }
        func fail(_ reason: String) -> Failure { Failure(path: path, line: nil, reason: reason) }

        let sourceID: String
        switch take("id") {
        case nil: sourceID = defaultID
        case .string(let id)?: sourceID = id
        case .number(let number)?: sourceID = JSONValue.number(number).canonicalText
        default: throw fail("id must be a string")
        }
        guard !sourceID.isEmpty, sourceID.count <= 200, !sourceID.contains("#") else {
            throw fail("id must be 1–200 characters without #")
        }
        var domain = defaultDomain
        if let value = take("domain") {
            guard let name = value.stringValue, let parsed = KnowledgeDomain(rawValue: name.lowercased()) else {
                throw fail("domain must be one of \(KnowledgeDomain.acceptedList)")
            }
            domain = parsed
        }
        var visibility = Visibility.players
        if let value = take("visibility") {
            guard let name = value.stringValue, let parsed = Visibility(rawValue: name.lowercased()) else {
                throw fail("visibility must be players or gm")
            }
            visibility = parsed
        }
        var campaign = defaultCampaign
        if let value = take("campaign") {
            switch value {
            case .null: campaign = nil
            case .string(let id) where id == "global" || id == "*": campaign = nil
            case .string(let id) where PathIdentifier.isValid(id): campaign = id
            default: throw fail("campaign must be a campaign id (letters, digits, _ and -) or global")
            }
        }
        var aliases: [String] = []
        switch take("aliases") {
        case nil: break
        case .string(let alias)?: aliases = [alias]
        case .array(let values)?:
            aliases = values.compactMap(\.stringValue)
            guard aliases.count == values.count else { throw fail("aliases must be strings") }
        default: throw fail("aliases must be a list of strings")
        }
        var expiresAt: Date?
        if let value = take("expires") {
            guard let text = value.stringValue, let date = Self.parseDate(text) else {
                throw fail("expires must be an ISO 8601 date or date-time")
            }
            expiresAt = date
        }
        var lifetime: Double?
        if let value = take("ttl") {
            guard let text = value.stringValue, let seconds = KnowledgeLifetimes.parse(text) else {
                throw fail("ttl must be a duration such as 90s, 45m, 12h, 180d or 2w")
            }
            guard expiresAt == nil else { throw fail("give expires or ttl, not both") }
            lifetime = seconds
        }
        var pinned = false
        if let value = take("pinned") {
            guard case .bool(let flag) = value else { throw fail("pinned must be true or false") }
            pinned = flag
        }
        if let session = metadata["session"], !(session.intValue.map(KnowledgeDocument.sessionRange.contains) ?? false) {
            throw fail("session must be a whole number from \(KnowledgeDocument.sessionRange.lowerBound) to \(KnowledgeDocument.sessionRange.upperBound)")
        }
        let title = take("title")?.stringValue ?? defaultID.split(separator: "/").last.map(String.init) ?? defaultID
        guard !body.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty || !title.isEmpty else {
            throw fail("the document is empty")
        }
        return KnowledgeDocument(
            sourceID: sourceID, campaignID: campaign, domain: domain, title: title, aliases: aliases,
            visibility: visibility, metadata: metadata, body: body, expiresAt: expiresAt, lifetime: lifetime, pinned: pinned, origin: path
        )
    }

    /// An ISO 8601 date-time, or a date alone (midnight UTC).
    public static func parseDate(_ text: String) -> Date? {
        let full = ISO8601DateFormatter()
        if let date = full.date(from: text) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return day.date(from: text)
    }

    func yaml(_ text: String, path: String, lineOffset: Int) throws(Failure) -> JSONValue {
        do {
            guard let node = try Yams.compose(yaml: text) else { return .object([:]) }
            return try Self.json(node)
        } catch let error as YamlError {
            var line: Int?
            switch error {
            case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
                line = mark.line + lineOffset
            default: break
            }
            throw Failure(path: path, line: line, reason: "YAML: \(Self.describe(error))")
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(path: path, line: nil, reason: "YAML: \(error)")
        }
    }

    static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): problem
        default: "\(error)"
        }
    }

    /// YAML scalars keep their resolved types: numbers, booleans, null, strings.
    static func json(_ node: Node) throws -> JSONValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            if let value = Bool.construct(from: scalar) { return .bool(value) }
            if let value = Int.construct(from: scalar) { return .number(Double(value)) }
            if let value = Double.construct(from: scalar) { return .number(value) }
            if ["null", "Null", "NULL", "~", ""].contains(scalar.string) { return .null }
            return .string(scalar.string)
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let name) = key else { throw YamlError.representer(problem: "mapping keys must be text") }
                members[name.string] = try json(value)
            }
            return .object(members)
        case .sequence(let sequence):
            return .array(try sequence.map(json))
        case .alias:
            throw YamlError.representer(problem: "aliases are not supported")
        }
    }
}
