public import JSONValues

/// The schema sent to the model for one request: the profile's schema with the fields that
/// must hold one of a known set of values (citations of the knowledge in the prompt, the ids of
/// the frame's combatants) turned into an `enum` of exactly those values, so that a model
/// server's constrained decoding cannot invent one. Answers are still validated against the
/// profile's published schema.
public enum SchemaNarrowing {
    /// - Parameters:
    ///   - allowed: instance path patterns (`/lore_refs/*`, `/actions/*/actor_id`; `*` is any
    ///     array index) and the values each may hold. An array whose items are narrowed holds
    ///     at most as many items as there are values (none when the list is empty).
    public static func narrowed(_ schema: JSONValue, allowed: [String: [String]]) -> JSONValue {
        var result = schema
        for (pattern, values) in allowed.sorted(by: { $0.key < $1.key }) {
            result = narrow(result, segments: JSONValue.pointerTokens(pattern), values: values, root: schema)
        }
        return result
    }

    private static func narrow(_ node: JSONValue, segments: [String], values: [String], root: JSONValue) -> JSONValue {
        guard var members = inlined(node, root: root).objectValue else { return node }
        // A nullable object or array is written as anyOf [schema, null]: narrow every branch.
        for keyword in ["anyOf", "oneOf"] {
            if case .array(let branches)? = members[keyword] {
                members[keyword] = .array(branches.map { narrow($0, segments: segments, values: values, root: root) })
                return .object(members)
            }
        }
        guard let head = segments.first else {
            let nullable = types(of: members).contains("null")
            members["enum"] = .array(values.map { .string($0) } + (nullable ? [.null] : []))
            return .object(members)
        }
        let rest = Array(segments.dropFirst())
        if head == "*" {
            guard let items = members["items"] else { return .object(members) }
            if rest.isEmpty {
                // Each value cited once at most: no more items than values.
                let most = min(members["maxItems"]?.intValue ?? values.count, values.count)
                members["maxItems"] = .number(Double(most))
                if most == 0 { return .object(members) }
            }
            members["items"] = narrow(items, segments: rest, values: values, root: root)
        } else {
            guard var properties = members["properties"]?.objectValue, let property = properties[head] else { return .object(members) }
            properties[head] = narrow(property, segments: rest, values: values, root: root)
            members["properties"] = .object(properties)
        }
        return .object(members)
    }

    /// A node with its local `$ref` replaced by what it points at (its other keywords kept), so
    /// that narrowing one use of a shared definition leaves the others alone.
    static func inlined(_ node: JSONValue, root: JSONValue) -> JSONValue {
        guard var members = node.objectValue, let reference = members["$ref"]?.stringValue, reference.hasPrefix("#"),
              let target = root.value(at: String(reference.dropFirst()))?.objectValue else { return node }
        members["$ref"] = nil
        return .object(target.merging(members) { _, own in own })
    }

    static func types(of members: [String: JSONValue]) -> Set<String> {
        switch members["type"] {
        case .string(let type)?: [type]
        case .array(let types)?: Set(types.compactMap(\.stringValue))
        default: []
        }
    }
}
