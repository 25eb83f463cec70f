public import JSONValues

/// Which JSON Schema keywords a model server's constrained decoding enforces, and the rewrite
/// that turns a schema into an equivalent one the server enforces as far as it can.
///
/// A keyword the grammar compiler ignores is a keyword the model is free to break: llama-cpp-python
/// drops `minimum`/`maximum`, so a 135M model writes `"dc": 35` under `"maximum": 30`. The rewrite
/// says the same thing in keywords the server honours (a small integer range becomes an `enum`),
/// leaves out what the server rejects (OpenAI's strict mode refuses `maxLength`), and works
/// around how converters read a node (an `enum` next to a type list is lost by llama.cpp's
/// converters). The answer is always validated against the profile's own schema; what the
/// rewrite cannot make enforceable is repaired or re-asked.
public enum GrammarDialect: String, Sendable, CaseIterable {
    /// OpenAI strict mode (Responses and Chat Completions).
    case openAI = "openai"
    /// llama.cpp's C++ server (`llama-server`) and Ollama, which share its schema converter.
    case llamaCpp = "llama-cpp"
    /// llama-cpp-python's server (`response_format: {"type": "json_object", "schema": …}`).
    case llamaCppPython = "llama-cpp-python"
    /// vLLM with its default structured-output backend (xgrammar).
    case vllm
    /// Any other server: the schema is sent as it is.
    case asIs = "as-is"

    /// What the dialect's grammar compiler does with the keywords the profiles use.
    public struct Capabilities: Sendable, Equatable {
        /// `minimum`/`maximum` on integers become grammar.
        public var integerBounds: Bool
        /// `minLength`/`maxLength` on plain strings become grammar.
        public var stringLength: Bool
        /// `minLength`/`maxLength` may be sent at all (strict mode rejects them).
        public var acceptsStringLength: Bool
        /// A node with a type list (`["string", "null"]`) keeps its other keywords; when false
        /// the converter reads only the types, so the node is rewritten as `anyOf` branches.
        public var keywordsBesideTypeList: Bool
        /// The most string-length characters (the sum of every `maxLength`) the grammar
        /// compiler takes; nil when unbounded. llama-cpp-python expands `maxLength: n` into n
        /// nested optional groups, and the grammar parser refuses a grammar with 2,000 in all —
        /// its server then dies. Longer bounds are scaled down to fit: shorter is still valid.
        public var stringLengthBudget: Int? = nil
    }

    public var capabilities: Capabilities {
        switch self {
        case .openAI: Capabilities(integerBounds: true, stringLength: false, acceptsStringLength: false, keywordsBesideTypeList: true)
        case .llamaCpp: Capabilities(integerBounds: true, stringLength: true, acceptsStringLength: true, keywordsBesideTypeList: false)
        case .llamaCppPython: Capabilities(integerBounds: false, stringLength: true, acceptsStringLength: true, keywordsBesideTypeList: false, stringLengthBudget: 1500)
        // xgrammar documents string lengths and type lists but not integer bounds across the
        // versions vLLM ships; an enum is enforced by every version.
        case .vllm: Capabilities(integerBounds: false, stringLength: true, acceptsStringLength: true, keywordsBesideTypeList: true)
        case .asIs: Capabilities(integerBounds: true, stringLength: true, acceptsStringLength: true, keywordsBesideTypeList: true)
        }
    }

    /// The widest integer range written out as an `enum`; a wider one is left to validation
    /// and repair (a long alternation slows grammar compilation for little gain).
    public static let largestEnumeratedRange = 64

    /// The schema rewritten for this dialect (see the type's description).
    public func enforceable(_ schema: JSONValue) -> JSONValue {
        guard self != .asIs else { return schema }
        let rewritten = rewrite(schema)
        guard let budget = capabilities.stringLengthBudget else { return rewritten }
        let total = Self.stringLengths(in: rewritten)
        guard total > budget else { return rewritten }
        return Self.scaleStringLengths(rewritten, by: Double(budget) / Double(total))
    }

    /// The shortest bound scaling leaves a string.
    static let shortestScaledLength = 16

    /// The keywords whose values are subschemas, by kind.
    static let schemaMaps = ["properties", "$defs", "definitions"]
    static let schemaValues = ["items", "additionalProperties", "not"]
    static let schemaLists = ["anyOf", "oneOf", "allOf", "prefixItems"]

    /// Applies `transform` to every subschema of `node`, then to `node`.
    static func mapSchemas(_ node: JSONValue, _ transform: (inout [String: JSONValue]) -> Void) -> JSONValue {
        guard var members = node.objectValue else { return node }
        for keyword in schemaMaps {
            if case .object(let children)? = members[keyword] { members[keyword] = .object(children.mapValues { mapSchemas($0, transform) }) }
        }
        for keyword in schemaValues {
            if let child = members[keyword], child.objectValue != nil { members[keyword] = mapSchemas(child, transform) }
        }
        for keyword in schemaLists {
            if case .array(let branches)? = members[keyword] { members[keyword] = .array(branches.map { mapSchemas($0, transform) }) }
        }
        transform(&members)
        return .object(members)
    }

    /// The sum of every `maxLength` a grammar compiler expands (not those beside an `enum`).
    static func stringLengths(in schema: JSONValue) -> Int {
        var total = 0
        _ = mapSchemas(schema) { members in
            if members["enum"] == nil, members["const"] == nil, let length = members["maxLength"]?.intValue { total += length }
        }
        return total
    }

    static func scaleStringLengths(_ schema: JSONValue, by factor: Double) -> JSONValue {
        mapSchemas(schema) { members in
            guard members["enum"] == nil, members["const"] == nil, let length = members["maxLength"]?.intValue else { return }
            let minimum = members["minLength"]?.intValue ?? 0
            members["maxLength"] = .number(Double(max(Int(Double(length) * factor), shortestScaledLength, minimum)))
        }
    }

    private func rewrite(_ node: JSONValue) -> JSONValue {
        let capabilities = self.capabilities
        return Self.mapSchemas(node) { members in
            if !capabilities.acceptsStringLength {
                members["minLength"] = nil
                members["maxLength"] = nil
            }
            if !capabilities.integerBounds { Self.enumerateIntegerRange(&members) }
            if !capabilities.keywordsBesideTypeList { members = Self.splitTypeList(members) }
        }
    }

    /// `{"type": "integer", "minimum": 5, "maximum": 30}` → `{"type": "integer", "enum": [5, …, 30]}`.
    static func enumerateIntegerRange(_ members: inout [String: JSONValue]) {
        let types = SchemaNarrowing.types(of: members)
        guard types.contains("integer"), types.isSubset(of: ["integer", "null"]), members["enum"] == nil, members["const"] == nil else { return }
        var low = members["minimum"]?.numberValue.map { Int($0.rounded(.up)) }
        var high = members["maximum"]?.numberValue.map { Int($0.rounded(.down)) }
        if let exclusive = members["exclusiveMinimum"]?.numberValue { low = max(low ?? Int.min, Int(exclusive.rounded(.down)) + 1) }
        if let exclusive = members["exclusiveMaximum"]?.numberValue { high = min(high ?? Int.max, Int(exclusive.rounded(.up)) - 1) }
        guard let low, let high, low <= high, high - low < largestEnumeratedRange else { return }
        let multiple = members["multipleOf"]?.numberValue
        let values = (low...high).filter { value in multiple.map { Double(value).truncatingRemainder(dividingBy: $0) == 0 } ?? true }
        guard !values.isEmpty else { return }
        members["enum"] = .array(values.map { .number(Double($0)) } + (types.contains("null") ? [.null] : []))
        for keyword in ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"] { members[keyword] = nil }
    }

    /// A node with a type list and keywords for one of the types, as `anyOf` branches; with an
    /// `enum` the type list is dropped instead (the values say everything).
    static func splitTypeList(_ original: [String: JSONValue]) -> [String: JSONValue] {
        var members = original
        guard case .array(let typeList)? = members["type"], typeList.count > 1 else { return members }
        if members["enum"] != nil || members["const"] != nil {
            members["type"] = nil
            return members
        }
        let annotations: Set<String> = ["type", "description", "title", "default", "examples", "$comment"]
        let constraints = members.filter { !annotations.contains($0.key) }
        guard !constraints.isEmpty else { return members }
        var branches: [JSONValue] = []
        for type in typeList.compactMap(\.stringValue) {
            var branch: [String: JSONValue] = ["type": .string(type)]
            for (keyword, value) in constraints where Self.keyword(keyword, appliesTo: type) { branch[keyword] = value }
            branches.append(.object(branch))
        }
        var rewritten = members.filter { annotations.contains($0.key) && $0.key != "type" }
        rewritten["anyOf"] = .array(branches)
        return rewritten
    }

    static func keyword(_ keyword: String, appliesTo type: String) -> Bool {
        switch keyword {
        case "minLength", "maxLength", "pattern", "format": type == "string"
        case "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf": type == "integer" || type == "number"
        case "items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains": type == "array"
        case "properties", "required", "additionalProperties", "minProperties", "maxProperties", "propertyNames": type == "object"
        default: type != "null"
        }
    }

    /// The dialect a provider's settings imply when none is configured: OpenAI's own API and
    /// the Responses dialect get strict mode; `json_object` is llama-cpp-python's form.
    public static func inferred(baseURL: String, chatDialect: ChatDialect?) -> GrammarDialect {
        if baseURL.contains("api.openai.com") || chatDialect == nil { return .openAI }
        return chatDialect == .jsonObject ? .llamaCppPython : .asIs
    }
}
