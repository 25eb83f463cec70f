import Foundation
public import JSONSchema
public import JSONValues

/// Mechanical fixes of an answer whose only faults are mechanical: a number outside its
/// schema's range is clamped, a string over its `maxLength` is cut at a word boundary, a value
/// at a constrained path that is not among the allowed ones (a citation of knowledge not given)
/// is dropped from its list. Anything else — a wrong enum value, a missing field — needs the
/// model, so then nothing is repaired and the model is asked again.
public enum OutputRepair {
    /// One change, for the attempt log and the metrics.
    public struct Repair: Sendable, Equatable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            case clamped
            case shortened
            case dropped
            /// A `\\u` escape that names no character, replaced by U+FFFD (pointer: the answer).
            case escapeReplaced = "escape_replaced"
        }

        public let kind: Kind
        public let pointer: String

        public var description: String { "\(pointer): \(kind.rawValue)" }
    }

    /// The repaired output, or nil when some error is not mechanical.
    /// - Parameters:
    ///   - schema: the profile's schema document, for the bounds named by `schemaLocation`.
    ///   - allowed: instance path patterns and their allowed values (see ``SchemaNarrowing``).
    public static func repair(_ output: JSONValue, errors: [ValidationError], schema: JSONValue, allowed: [String: [String]]) -> (output: JSONValue, repairs: [Repair])? {
        guard !errors.isEmpty else { return nil }
        var repaired = output
        var repairs: [Repair] = []
        var drops: [String] = []
        for error in errors {
            let pointer = error.instanceLocation
            guard let value = output.value(at: pointer) else { return nil }
            if let pattern = allowed.keys.first(where: { matches(pointer, $0) }), let text = value.stringValue, !(allowed[pattern] ?? []).contains(text) {
                // Only a list item can go; a single field needs an answer.
                guard JSONValue.pointerTokens(pointer).last.flatMap(Int.init) != nil else { return nil }
                drops.append(pointer)
                continue
            }
            guard let hash = error.schemaLocation.firstIndex(of: "#") else { return nil }
            let keywordPointer = String(error.schemaLocation[error.schemaLocation.index(after: hash)...])
            let keyword = JSONValue.pointerTokens(keywordPointer).last ?? ""
            guard let bound = schema.value(at: keywordPointer)?.numberValue else { return nil }
            switch (keyword, value) {
            case ("maximum", .number(let number)) where number > bound, ("minimum", .number(let number)) where number < bound:
                repaired = replacing(pointer, in: repaired, with: .number(bound))
                repairs.append(Repair(kind: .clamped, pointer: pointer))
            case ("maxLength", .string(let text)) where text.count > Int(bound):
                repaired = replacing(pointer, in: repaired, with: .string(shortened(text, to: Int(bound))))
                repairs.append(Repair(kind: .shortened, pointer: pointer))
            default:
                return nil
            }
        }
        // Later items first, so that earlier indices still point where they did.
        for pointer in drops.sorted(by: { index(of: $0) > index(of: $1) }) {
            repaired = removing(pointer, from: repaired)
            repairs.append(Repair(kind: .dropped, pointer: pointer))
        }
        return (repaired, repairs.sorted { $0.pointer < $1.pointer })
    }

    /// Whether an instance pointer matches a pattern whose `*` segments stand for any index.
    static func matches(_ pointer: String, _ pattern: String) -> Bool {
        let (have, want) = (JSONValue.pointerTokens(pointer), JSONValue.pointerTokens(pattern))
        guard have.count == want.count else { return false }
        return zip(have, want).allSatisfy { $1 == "*" ? Int($0) != nil : $0 == $1 }
    }

    /// At most `limit` characters, cut after the last whole word when there is one.
    static func shortened(_ text: String, to limit: Int) -> String {
        let prefix = String(text.prefix(limit))
        guard let space = prefix.lastIndex(where: \.isWhitespace), prefix.distance(from: prefix.startIndex, to: space) >= limit / 2 else { return prefix }
        return String(prefix[..<space]).trimmingCharacters(in: .whitespaces)
    }

    private static func index(of pointer: String) -> Int { JSONValue.pointerTokens(pointer).last.flatMap(Int.init) ?? 0 }

    static func replacing(_ pointer: String, in document: JSONValue, with value: JSONValue) -> JSONValue {
        update(document, JSONValue.pointerTokens(pointer)[...]) { _ in value }
    }

    static func removing(_ pointer: String, from document: JSONValue) -> JSONValue {
        var segments = JSONValue.pointerTokens(pointer)
        guard let last = segments.popLast(), let index = Int(last) else { return document }
        return update(document, segments[...]) { list in
            guard case .array(var items) = list, items.indices.contains(index) else { return list }
            items.remove(at: index)
            return .array(items)
        }
    }

    private static func update(_ node: JSONValue, _ segments: ArraySlice<String>, _ change: (JSONValue) -> JSONValue) -> JSONValue {
        guard let head = segments.first else { return change(node) }
        switch node {
        case .object(var members):
            guard let child = members[head] else { return node }
            members[head] = update(child, segments.dropFirst(), change)
            return .object(members)
        case .array(var items):
            guard let index = Int(head), items.indices.contains(index) else { return node }
            items[index] = update(items[index], segments.dropFirst(), change)
            return .array(items)
        default:
            return node
        }
    }
}
