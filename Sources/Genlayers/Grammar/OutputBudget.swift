public import JSONValues

/// `max_tokens` sized from the schema: the longest answer the schema allows, in tokens, with
/// room to spare — every string at its `maxLength`, every array at its `maxItems`, the JSON
/// punctuation and keys included. A profile that bounds its strings and lists gets a budget
/// that fits its longest valid answer and no more, so a rambling model is cut off early
/// instead of spending a minute of a small machine on text that will be thrown away.
public enum OutputBudget {
    /// Characters per token assumed for the estimate: English prose runs at about four per
    /// token in common tokenizers, JSON punctuation and short keys at fewer.
    static let charactersPerToken = 3.0
    /// What a string without `maxLength` is counted as.
    static let unboundedStringCharacters = 600
    /// What an array without `maxItems` is counted as.
    static let unboundedArrayItems = 8
    /// Added on top of the estimate.
    static let spare = 1.25
    /// The estimate never goes below or above these.
    static let range = 64...16_000

    /// The token budget for answers valid against `schema`.
    public static func tokens(for schema: JSONValue) -> Int {
        let characters = Self.characters(schema, root: schema, depth: 0)
        let tokens = Int((Double(characters) / charactersPerToken * spare).rounded(.up))
        return min(max(tokens, range.lowerBound), range.upperBound)
    }

    static func characters(_ node: JSONValue, root: JSONValue, depth: Int) -> Int {
        guard depth < 24, let members = node.objectValue else { return 16 }
        if let reference = members["$ref"]?.stringValue, reference.hasPrefix("#"), let target = root.value(at: String(reference.dropFirst())) {
            return characters(target, root: root, depth: depth + 1)
        }
        if case .array(let values)? = members["enum"] {
            return values.map { $0.canonicalText.count }.max() ?? 4
        }
        if let constant = members["const"] { return constant.canonicalText.count }
        for keyword in ["anyOf", "oneOf"] {
            if case .array(let branches)? = members[keyword] {
                return branches.map { characters($0, root: root, depth: depth + 1) }.max() ?? 16
            }
        }
        let types = SchemaNarrowing.types(of: members)
        let candidates = types.isEmpty ? [members["properties"] != nil ? "object" : members["items"] != nil ? "array" : "string"] : Array(types)
        return candidates.map { characters(of: $0, members, root: root, depth: depth) }.max() ?? 16
    }

    private static func characters(of type: String, _ members: [String: JSONValue], root: JSONValue, depth: Int) -> Int {
        switch type {
        case "object":
            let properties = members["properties"]?.objectValue ?? [:]
            return 2 + properties.reduce(0) { sum, property in
                sum + property.key.count + 4 + characters(property.value, root: root, depth: depth + 1)
            }
        case "array":
            let items = members["maxItems"]?.intValue ?? unboundedArrayItems
            let item = members["items"].map { characters($0, root: root, depth: depth + 1) } ?? 16
            return 2 + items * (item + 1)
        case "string":
            return 2 + (members["maxLength"]?.intValue ?? unboundedStringCharacters)
        case "integer", "number": return 12
        case "boolean": return 5
        default: return 4
        }
    }
}
