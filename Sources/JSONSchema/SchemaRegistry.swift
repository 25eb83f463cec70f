import JSONValues
import Foundation

/// Every schema resource reachable from the schemas given to it, indexed by URI: resources by
/// their `$id`, anchors by `uri#name`, and which resources declare which `$dynamicAnchor`s.
/// Documents that are referenced but not given are fetched through `retrieve`, once.
final class SchemaRegistry {
    struct Located {
        let schema: JSONValue
        /// The base URI in effect where `schema` appears, before its own `$id` applies.
        let base: String
    }

    private(set) var resources: [String: Located] = [:]
    private var anchors: [String: Located] = [:]
    private var dynamicAnchors: [String: Set<String>] = [:]
    private let retrieve: (String) -> JSONValue?

    /// Keywords whose values are subschemas, and how: single, array, or map of subschemas.
    static let singleSubschema: Set<String> = [
        "additionalProperties", "propertyNames", "items", "contains", "not", "if", "then", "else",
        "unevaluatedItems", "unevaluatedProperties",
    ]
    static let arrayOfSubschemas: Set<String> = ["allOf", "anyOf", "oneOf", "prefixItems"]
    static let mapOfSubschemas: Set<String> = ["$defs", "definitions", "properties", "patternProperties", "dependentSchemas"]

    init(retrieve: @escaping (String) -> JSONValue?) {
        self.retrieve = retrieve
    }

    /// Indexes `schema` as the document at `uri`.
    func add(_ schema: JSONValue, at uri: String) {
        let base = URIReference.stripFragment(uri)
        if resources[base] == nil {
            resources[base] = Located(schema: schema, base: base)
        }
        index(schema, base: base)
    }

    private func index(_ schema: JSONValue, base: String) {
        guard case .object(let members) = schema else { return }
        let parent = base
        var base = base
        if case .string(let id) = members["$id"] {
            base = URIReference.stripFragment(URIReference.resolve(id, against: base))
            resources[base] = Located(schema: schema, base: parent)
        }
        if case .string(let anchor) = members["$anchor"] {
            anchors["\(base)#\(anchor)"] = Located(schema: schema, base: parent)
        }
        if case .string(let anchor) = members["$dynamicAnchor"] {
            anchors["\(base)#\(anchor)"] = Located(schema: schema, base: parent)
            dynamicAnchors[base, default: []].insert(anchor)
        }
        for (keyword, value) in members {
            if Self.singleSubschema.contains(keyword) {
                index(value, base: base)
            } else if Self.arrayOfSubschemas.contains(keyword), case .array(let values) = value {
                for value in values { index(value, base: base) }
            } else if Self.mapOfSubschemas.contains(keyword), case .object(let map) = value {
                for value in map.values { index(value, base: base) }
            }
        }
    }

    /// The subschema an absolute URI (with or without fragment) names.
    func locate(_ uri: String) -> Located? {
        let resource = URIReference.stripFragment(uri)
        if resources[resource] == nil, let document = retrieve(resource) {
            add(document, at: resource)
        }
        guard let root = resources[resource] else { return nil }
        guard let fragment = URIReference.fragment(uri), !fragment.isEmpty else {
            return root
        }
        if fragment.hasPrefix("/") {
            return walk(pointer: fragment, from: root.schema, base: root.base)
        }
        return anchors["\(resource)#\(fragment)"]
    }

    /// Whether the resource at `uri` declares `$dynamicAnchor: name`.
    func hasDynamicAnchor(_ name: String, in resource: String) -> Bool {
        dynamicAnchors[resource]?.contains(name) == true
    }

    /// Follows a JSON Pointer, tracking `$id`s passed on the way for the base URI.
    private func walk(pointer: String, from root: JSONValue, base: String) -> Located? {
        var current = root
        var base = base
        for token in JSONValue.pointerTokens(pointer) {
            // The base for what lies inside a schema includes that schema's own `$id`.
            if case .object(let members) = current, case .string(let id) = members["$id"] {
                base = URIReference.stripFragment(URIReference.resolve(id, against: base))
            }
            guard let next = current.child(token) else { return nil }
            current = next
        }
        return Located(schema: current, base: base)
    }
}
