import JSONValues
import Foundation
import ServiceKit

/// Builds a value for a schema from a template (Mustache strings inside any JSON shape) and
/// the request's values; see ``OfflineProvider``.
///
/// Template forms:
/// - `"{{input.location}} at dusk"` — rendered text;
/// - `"{{input.party}}"` — a lone tag takes the referenced value as it is (a number, an array);
/// - `{"$each": "input.npcs", "item": {...}}` — one element per element of the referenced
///   array, the element visible as `item` (`{{item.name}}`); with `"empty": [...]`, what to
///   give when the array is missing or empty.
struct SchemaFiller {
    let root: JSONValue
    var values: [String: JSONValue]
    let seed: String
    let templates: TemplateCache

    /// Most items or characters added to reach a schema's minimum.
    static let largestPadding = 10_000
    private static let loneTag = try! NSRegularExpression(pattern: #"^\{\{\{?\s*([A-Za-z0-9_.$-]+)\s*\}?\}\}$"#)

    mutating func fill(_ schema: JSONValue, template: JSONValue?, path: String) -> JSONValue {
        let schema = resolve(schema)
        guard case .object(let keywords) = schema else {
            return template.map { render($0) } ?? .null
        }
        if let constant = keywords["const"] { return constant }
        // An explicit null in the template means "none", where the schema allows it.
        if template == .null, allowsNull(keywords) { return .null }
        if let template, template != .null {
            if let value = fromTemplate(template, schema: keywords, path: path) { return value }
        }
        return fromSchema(keywords, path: path)
    }

    // MARK: - From the template

    private mutating func fromTemplate(_ template: JSONValue, schema: [String: JSONValue], path: String) -> JSONValue? {
        if case .object(let members) = template, case .string(let source)? = members["$each"] {
            let found = lookup(source).flatMap(Self.array) ?? []
            if found.isEmpty, let empty = members["empty"] {
                return fill(.object(schema), template: empty, path: path)
            }
            let elements = found
            let itemSchema = schema["items"] ?? .bool(true)
            let saved = values["item"]
            defer { values["item"] = saved }
            var items: [JSONValue] = []
            let maximum = max(0, schema["maxItems"]?.intValue ?? elements.count)
            for (index, element) in elements.prefix(maximum).enumerated() {
                values["item"] = element
                items.append(fill(itemSchema, template: members["item"], path: "\(path)/\(index)"))
            }
            return padArray(items, schema: schema, path: path)
        }
        let types = Self.types(schema)
        if let alternatives = (schema["anyOf"] ?? schema["oneOf"]).flatMap(Self.array) {
            // The first branch that accepts what the template gives.
            let rendered = render(template)
            for branch in alternatives {
                let branchSchema = resolve(branch)
                guard let keywords = branchSchema.objectValue else { continue }
                if Self.accepts(keywords, rendered) { return fill(branchSchema, template: template, path: path) }
            }
            return nil
        }
        switch template {
        case .object(let members) where types.isEmpty || types.contains("object"):
            return object(schema, template: members, path: path)
        case .array(let elements) where types.isEmpty || types.contains("array"):
            let itemSchema = schema["items"] ?? .bool(true)
            var items: [JSONValue] = []
            for (index, element) in elements.enumerated() {
                items.append(fill(itemSchema, template: element, path: "\(path)/\(index)"))
            }
            return padArray(items, schema: schema, path: path)
        default:
            let value = render(template)
            return Self.coerce(value, to: types)
        }
    }

    /// Renders strings through Mustache; a lone tag yields the referenced value itself.
    mutating func render(_ template: JSONValue) -> JSONValue {
        switch template {
        case .string(let text):
            let range = NSRange(text.startIndex..., in: text)
            if let match = Self.loneTag.firstMatch(in: text, range: range), let name = Range(match.range(at: 1), in: text) {
                return lookup(String(text[name])) ?? .null
            }
            guard text.contains("{{"), let compiled = templates.template(text) else { return .string(text) }
            return .string(compiled.render(values))
        case .array(let elements): return .array(elements.map { render($0) })
        case .object(let members): return .object(members.mapValues { render($0) })
        default: return template
        }
    }

    func lookup(_ dotted: String) -> JSONValue? {
        var parts = dotted.split(separator: ".").map(String.init)
        guard !parts.isEmpty, var current = values[parts.removeFirst()] else { return nil }
        for part in parts {
            guard let next = current.child(part) else { return nil }
            current = next
        }
        return current
    }

    // MARK: - From the schema

    private mutating func fromSchema(_ schema: [String: JSONValue], path: String) -> JSONValue {
        if let options = schema["enum"].flatMap(Self.array), !options.isEmpty {
            return options[pick(options.count, path: path)]
        }
        if let alternatives = (schema["anyOf"] ?? schema["oneOf"]).flatMap(Self.array) {
            // Prefer a branch that is not null: an empty answer helps nobody.
            let branch = alternatives.first { resolve($0).objectValue?["type"] != .string("null") } ?? alternatives.first
            if let branch { return fill(branch, template: nil, path: path) }
        }
        if let all = schema["allOf"].flatMap(Self.array), let first = all.first {
            return fill(first, template: nil, path: path)
        }
        let types = Self.types(schema)
        if types.contains("object") || (types.isEmpty && schema["properties"] != nil) {
            return object(schema, template: [:], path: path)
        }
        if types.contains("array") {
            return padArray([], schema: schema, path: path)
        }
        if types.contains("string") {
            return .string(text(for: schema, path: path))
        }
        if types.contains("integer") || types.contains("number") {
            return .number(number(for: schema, integer: !types.contains("number")))
        }
        if types.contains("boolean") { return .bool(false) }
        return .null
    }

    private mutating func object(_ schema: [String: JSONValue], template: [String: JSONValue], path: String) -> JSONValue {
        let properties = schema["properties"]?.objectValue ?? [:]
        let required = Set(schema["required"].flatMap(Self.array)?.compactMap(\.stringValue) ?? [])
        var result: [String: JSONValue] = [:]
        for (name, propertySchema) in properties where required.contains(name) || template[name] != nil {
            result[name] = fill(propertySchema, template: template[name], path: "\(path)/\(name)")
        }
        return .object(result)
    }

    private mutating func padArray(_ items: [JSONValue], schema: [String: JSONValue], path: String) -> JSONValue {
        var items = items
        // Bounded: a schema asking for more is answered with fewer, and validation says so.
        let minimum = min(schema["minItems"]?.intValue ?? 0, Self.largestPadding)
        let itemSchema = schema["items"] ?? .bool(true)
        while items.count < minimum {
            items.append(fill(itemSchema, template: nil, path: "\(path)/\(items.count)"))
        }
        if let maximum = schema["maxItems"]?.numberValue, items.count > Int(maximum) {
            items = Array(items.prefix(Int(maximum)))
        }
        return .array(items)
    }

    /// A same-named string from the input if there is one, else a label naming the field.
    private func text(for schema: [String: JSONValue], path: String) -> String {
        let name = path.split(separator: "/").last(where: { Int($0) == nil }).map(String.init) ?? "text"
        var text: String
        if case .string(let value)? = values["input"]?.objectValue?[name] {
            text = value
        } else if let index = path.split(separator: "/").last.flatMap({ Int($0) }) {
            text = "\(name.replacingOccurrences(of: "_", with: " ")) \(index + 1)"
        } else {
            text = name.replacingOccurrences(of: "_", with: " ")
        }
        let minimum = min(schema["minLength"]?.intValue ?? 0, Self.largestPadding)
        while text.unicodeScalars.count < minimum { text += "." }
        if let maximum = schema["maxLength"]?.intValue, maximum >= 0, text.unicodeScalars.count > maximum {
            text = String(String.UnicodeScalarView(text.unicodeScalars.prefix(maximum)))
        }
        return text
    }

    private func number(for schema: [String: JSONValue], integer: Bool) -> Double {
        var value = schema["minimum"]?.numberValue ?? 0
        if let exclusive = schema["exclusiveMinimum"]?.numberValue, value <= exclusive { value = integer ? exclusive.rounded(.down) + 1 : exclusive + 1 }
        if let maximum = schema["maximum"]?.numberValue, value > maximum { value = maximum }
        if let step = schema["multipleOf"]?.numberValue, step > 0 { value = (value / step).rounded(.up) * step }
        return integer ? value.rounded(.up) : value
    }

    /// A stable choice among `count` options for this input and place.
    private func pick(_ count: Int, path: String) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in (seed + path).utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return Int(hash % UInt64(count))
    }

    // MARK: - Helpers

    /// Follows local `$ref`s (`#/$defs/check`).
    private func resolve(_ schema: JSONValue) -> JSONValue {
        var current = schema
        var hops = 0
        while case .string(let reference)? = current.objectValue?["$ref"], reference.hasPrefix("#"), hops < 32 {
            hops += 1
            guard let target = root.value(at: String(reference.dropFirst())) else { return current }
            current = target
        }
        return current
    }

    private func allowsNull(_ schema: [String: JSONValue]) -> Bool {
        if Self.types(schema).contains("null") { return true }
        let branches = (schema["anyOf"] ?? schema["oneOf"]).flatMap(Self.array) ?? []
        return branches.contains { resolve($0).objectValue.map { Self.types($0).contains("null") } ?? false }
    }

    static func types(_ schema: [String: JSONValue]) -> Set<String> {
        switch schema["type"] {
        case .string(let type)?: [type]
        case .array(let types)?: Set(types.compactMap(\.stringValue))
        default: []
        }
    }

    static func array(_ value: JSONValue) -> [JSONValue]? {
        if case .array(let elements) = value { return elements }
        return nil
    }

    /// Whether a rendered template value fits a branch's declared type.
    static func accepts(_ schema: [String: JSONValue], _ value: JSONValue) -> Bool {
        let types = Self.types(schema)
        if types.isEmpty { return true }
        switch value {
        case .null: return types.contains("null")
        case .bool: return types.contains("boolean")
        case .number(let number): return types.contains("number") || (types.contains("integer") && number == number.rounded())
        case .string: return types.contains("string") || types.contains("integer") || types.contains("number")
        case .array: return types.contains("array")
        case .object: return types.contains("object")
        }
    }

    /// Text rendered for a numeric or nullable field becomes that type.
    static func coerce(_ value: JSONValue, to types: Set<String>) -> JSONValue {
        guard case .string(let text) = value else { return value }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if types.contains("string") {
            return trimmed.isEmpty && types.contains("null") ? .null : value
        }
        if types.contains("integer") || types.contains("number"), let number = Double(trimmed) { return .number(number) }
        if types.contains("boolean") { return .bool(trimmed == "true") }
        if types.contains("null"), trimmed.isEmpty { return .null }
        return value
    }
}
