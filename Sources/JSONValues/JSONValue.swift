import Foundation

/// Any JSON value, kept as parsed: payloads the server stores and forwards without a Swift
/// shape of their own. Its canonical text (sorted keys, no spaces) is stable, so two payloads
/// can be compared by their canonical form.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            // Decoded before numbers: Foundation would otherwise read `true` as 1.
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JSON value")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Compact JSON with object keys sorted: equal values have equal text.
    public var canonicalText: String {
        var output = ""
        appendCanonical(to: &output)
        return output
    }

    func appendCanonical(to output: inout String) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .number(let value): output += Self.format(value)
        case .string(let value): Self.appendQuoted(value, to: &output)
        case .array(let values): Self.appendCanonicalArray(values, to: &output) { $0.appendCanonical(to: &$1) }
        case .object(let members): Self.appendCanonicalObject(members, to: &output) { $0.appendCanonical(to: &$1) }
        }
    }

    /// `[a,b]`, each element written by `element`: shared by the canonical forms of
    /// ``JSONValue`` and ``ExactJSON``.
    static func appendCanonicalArray<Element>(_ values: [Element], to output: inout String, element: (Element, inout String) -> Void) {
        output += "["
        for (index, value) in values.enumerated() {
            if index > 0 { output += "," }
            element(value, &output)
        }
        output += "]"
    }

    /// `{"a":…,"b":…}` with keys sorted, each value written by `value`.
    static func appendCanonicalObject<Value>(_ members: [String: Value], to output: inout String, value: (Value, inout String) -> Void) {
        output += "{"
        for (index, key) in members.keys.sorted().enumerated() {
            if index > 0 { output += "," }
            appendQuoted(key, to: &output)
            output += ":"
            value(members[key]!, &output)
        }
        output += "}"
    }

    /// Integers print without a fraction; others with the shortest round-tripping form.
    static func format(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 1e15 {
            return String(Int64(value))
        }
        return value.isFinite ? "\(value)" : "null"
    }

    /// `text` as a JSON string literal, quotes included.
    public static func quoted(_ text: String) -> String {
        var output = ""
        appendQuoted(text, to: &output)
        return output
    }

    static func appendQuoted(_ text: String, to output: inout String) {
        output += "\""
        // Most strings need no escape at all: copied whole, not scalar by scalar.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            output += text
            output += "\""
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }

    /// Parses JSON text.
    public static func parse(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    public var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The reference tokens of a JSON Pointer, unescaped (`/a~1b/0` → `["a/b", "0"]`; `""` → `[]`).
    public static func pointerTokens(_ pointer: String) -> [String] {
        pointer.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    /// One reference token escaped for a JSON Pointer (`a/b` → `a~1b`).
    public static func escapePointerToken(_ token: String) -> String {
        token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    /// The value a JSON Pointer names, or nil.
    public func value(at pointer: String) -> JSONValue? {
        var current = self
        for token in Self.pointerTokens(pointer) {
            guard let next = current.child(token) else { return nil }
            current = next
        }
        return current
    }

    /// One step down: an object's member, or an array's element at a decimal index (a JSON
    /// Pointer's reference token, already unescaped).
    public func child(_ token: String) -> JSONValue? {
        switch self {
        case .object(let members): return members[token]
        case .array(let values):
            guard let index = Int(token), values.indices.contains(index) else { return nil }
            return values[index]
        default: return nil
        }
    }

    /// The number as an `Int` when it is a whole number that fits; nil for a fraction or a
    /// number out of range, which `Int(_:)` would trap on (`1e308` in a request body).
    public var intValue: Int? {
        numberValue.flatMap { Int(exactly: $0) }
    }

    /// Nesting depth: 1 for scalars.
    public var depth: Int {
        switch self {
        case .array(let values): 1 + (values.map(\.depth).max() ?? 0)
        case .object(let members): 1 + (members.values.map(\.depth).max() ?? 0)
        default: 1
        }
    }
}
