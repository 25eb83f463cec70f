import JSONValues
import Foundation

/// A schema compiled for evaluation: every keyword read once into a typed field, subschemas
/// compiled into child nodes, patterns compiled, and the node's own location precomputed, so
/// validating an instance does no dictionary probing and no string building until it fails.
final class SchemaNode {
    /// `uri#/pointer` of this schema, the prefix of its keywords' error locations.
    let location: String
    /// The base URI inside this schema (after its own `$id`).
    var base = ""
    /// The schema resource this node belongs to, for the dynamic scope.
    var resource = ""
    var isResourceRoot = false
    var boolean: Bool?
    /// Whether the validation vocabulary applies here (a resource's `$schema` may leave it out).
    var validationVocabulary: Bool?

    var reference: String?
    var dynamicReference: String?
    var dynamicAnchor: String?
    var resolvedReference: SchemaNode?
    var resolvedDynamicReference: SchemaNode?

    var allOf: [SchemaNode] = []
    var anyOf: [SchemaNode] = []
    var oneOf: [SchemaNode] = []
    var not: SchemaNode?
    var ifSchema: SchemaNode?
    var thenSchema: SchemaNode?
    var elseSchema: SchemaNode?

    var types: [String]?
    var enumValues: [JSONValue]?
    var constValue: JSONValue?
    var maximum: Double?
    var exclusiveMaximum: Double?
    var minimum: Double?
    var exclusiveMinimum: Double?
    var multipleOf: Double?
    var maxLength: Double?
    var minLength: Double?
    var pattern: (source: String, expression: NSRegularExpression?)?
    var format: String?
    var maxItems: Double?
    var minItems: Double?
    var uniqueItems = false
    var maxProperties: Double?
    var minProperties: Double?
    var required: [String] = []
    var dependentRequired: [(String, [String])] = []

    var properties: [String: SchemaNode] = [:]
    var patternProperties: [(source: String, expression: NSRegularExpression?, schema: SchemaNode)] = []
    var additionalProperties: SchemaNode?
    var propertyNames: SchemaNode?
    var dependentSchemas: [(String, SchemaNode)] = []
    var prefixItems: [SchemaNode] = []
    var items: SchemaNode?
    var contains: SchemaNode?
    var minContains: Double?
    var maxContains: Double?
    var unevaluatedItems: SchemaNode?
    var unevaluatedProperties: SchemaNode?

    init(location: String) {
        self.location = location
    }
}

/// Compiles schema JSON into ``SchemaNode``s, sharing nodes by location so references and
/// recursion compile once.
final class SchemaCompiler {
    let registry: SchemaRegistry
    private var nodes: [String: SchemaNode] = [:]

    init(registry: SchemaRegistry) {
        self.registry = registry
    }

    /// The node for `schema`, found at `location`, with `parentBase` in effect around it.
    func node(for schema: JSONValue, location: String, parentBase: String, resource: String, vocabulary: Bool = true) -> SchemaNode {
        if let existing = nodes[location] { return existing }
        let node = SchemaNode(location: location)
        node.validationVocabulary = vocabulary
        nodes[location] = node
        compile(schema, into: node, parentBase: parentBase, resource: resource)
        return node
    }

    /// The node a (resolved, absolute) reference names; nil when it cannot be found.
    func node(forReference uri: String) -> SchemaNode? {
        if let existing = nodes[uri] { return existing }
        guard let located = registry.locate(uri) else { return nil }
        let resource = URIReference.stripFragment(located.base)
        let node = self.node(for: located.schema, location: Self.canonicalLocation(uri), parentBase: located.base, resource: resource)
        nodes[uri] = node
        return node
    }

    static func canonicalLocation(_ uri: String) -> String {
        uri.contains("#") ? uri : uri + "#"
    }

    private func child(_ value: JSONValue, _ node: SchemaNode, _ tokens: String...) -> SchemaNode {
        var location = node.location
        for token in tokens {
            location += "/" + JSONValue.escapePointerToken(token)
        }
        return self.node(for: value, location: location, parentBase: node.base, resource: node.resource, vocabulary: node.validationVocabulary ?? true)
    }

    private func compile(_ schema: JSONValue, into node: SchemaNode, parentBase: String, resource: String) {
        node.base = parentBase
        node.resource = resource
        switch schema {
        case .bool(let value):
            node.boolean = value
            return
        case .object(let keywords):
            compileKeywords(keywords, into: node)
        default:
            node.boolean = true
        }
    }

    private func compileKeywords(_ keywords: [String: JSONValue], into node: SchemaNode) {
        if case .string(let id) = keywords["$id"] {
            node.base = URIReference.stripFragment(URIReference.resolve(id, against: node.base))
            node.resource = node.base
            node.isResourceRoot = true
            if case .string(let metaschema) = keywords["$schema"] {
                node.validationVocabulary = validationVocabulary(metaschema: metaschema)
            }
        }
        if case .string(let anchor) = keywords["$dynamicAnchor"] { node.dynamicAnchor = anchor }
        if case .string(let reference) = keywords["$ref"] { node.reference = URIReference.resolve(reference, against: node.base) }
        if case .string(let reference) = keywords["$dynamicRef"] { node.dynamicReference = URIReference.resolve(reference, against: node.base) }
        for (keyword, value) in keywords {
            switch keyword {
            case "allOf": node.allOf = array(value, keyword, node)
            case "anyOf": node.anyOf = array(value, keyword, node)
            case "oneOf": node.oneOf = array(value, keyword, node)
            case "not": node.not = child(value, node, keyword)
            case "if": node.ifSchema = child(value, node, keyword)
            case "then": node.thenSchema = child(value, node, keyword)
            case "else": node.elseSchema = child(value, node, keyword)
            case "type":
                switch value {
                case .string(let name): node.types = [name]
                case .array(let names): node.types = names.compactMap(\.stringValue)
                default: break
                }
            case "enum": if case .array(let values) = value { node.enumValues = values }
            case "const": node.constValue = value
            case "maximum": node.maximum = value.numberValue
            case "exclusiveMaximum": node.exclusiveMaximum = value.numberValue
            case "minimum": node.minimum = value.numberValue
            case "exclusiveMinimum": node.exclusiveMinimum = value.numberValue
            case "multipleOf": node.multipleOf = value.numberValue.flatMap { $0 > 0 ? $0 : nil }
            case "maxLength": node.maxLength = value.numberValue
            case "minLength": node.minLength = value.numberValue
            case "pattern": if case .string(let source) = value { node.pattern = (source, try? NSRegularExpression(pattern: source)) }
            case "format": node.format = value.stringValue
            case "maxItems": node.maxItems = value.numberValue
            case "minItems": node.minItems = value.numberValue
            case "uniqueItems": node.uniqueItems = value == .bool(true)
            case "maxProperties": node.maxProperties = value.numberValue
            case "minProperties": node.minProperties = value.numberValue
            case "required": if case .array(let names) = value { node.required = names.compactMap(\.stringValue) }
            case "dependentRequired":
                if case .object(let map) = value {
                    node.dependentRequired = map.compactMap { key, value in
                        guard case .array(let names) = value else { return nil }
                        return (key, names.compactMap(\.stringValue))
                    }
                }
            case "properties":
                if case .object(let map) = value {
                    for (name, schema) in map { node.properties[name] = child(schema, node, keyword, name) }
                }
            case "patternProperties":
                if case .object(let map) = value {
                    node.patternProperties = map.map { source, schema in
                        (source, try? NSRegularExpression(pattern: source), child(schema, node, keyword, source))
                    }
                }
            case "additionalProperties": node.additionalProperties = child(value, node, keyword)
            case "propertyNames": node.propertyNames = child(value, node, keyword)
            case "dependentSchemas":
                if case .object(let map) = value {
                    node.dependentSchemas = map.map { name, schema in (name, child(schema, node, keyword, name)) }
                }
            case "prefixItems": node.prefixItems = array(value, keyword, node)
            case "items": node.items = child(value, node, keyword)
            case "contains": node.contains = child(value, node, keyword)
            case "minContains": node.minContains = value.numberValue
            case "maxContains": node.maxContains = value.numberValue
            case "unevaluatedItems": node.unevaluatedItems = child(value, node, keyword)
            case "unevaluatedProperties": node.unevaluatedProperties = child(value, node, keyword)
            default: break
            }
        }
    }

    private func array(_ value: JSONValue, _ keyword: String, _ node: SchemaNode) -> [SchemaNode] {
        guard case .array(let schemas) = value else { return [] }
        return schemas.enumerated().map { index, schema in child(schema, node, keyword, String(index)) }
    }

    private func validationVocabulary(metaschema: String) -> Bool {
        guard let located = registry.locate(URIReference.normalize(metaschema)),
              case .object(let members) = located.schema,
              case .object(let vocabularies) = members["$vocabulary"] else { return true }
        return vocabularies[Evaluator.validationVocabularyURI] != nil
    }
}
