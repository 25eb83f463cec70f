public import JSONValues
import Synchronization

/// A compiled JSON Schema (draft 2020-12): indexed once, then applied to any number of
/// instances from any task.
///
/// ```swift
/// let schema = try JSONSchema(parsing: #"{"type": "object", "required": ["name"]}"#)
/// let errors = schema.validate(try JSONValue.parse(#"{"nome": "Ada"}"#))
/// // [(root): is missing the required property name [/required]]
/// ```
public final class JSONSchema: Sendable {
    /// Where documents a schema references come from: given the absolute URI, the document.
    public typealias Retriever = @Sendable (String) -> JSONValue?

    /// The draft 2020-12 meta-schemas are always available.
    public static let builtInRetriever: Retriever = { uri in
        Metaschemas2020.documents[uri].flatMap { try? JSONValue.parse($0) }
    }

    private let formatAssertion: Bool
    /// Locations inside the schema document itself are reported as `#/…`.
    private let documentPrefix: String
    /// The compiler and the root node; compiled nodes resolve references lazily, under the lock.
    private let state: Mutex<(compiler: SchemaCompiler, root: SchemaNode)>

    /// - Parameters:
    ///   - schema: the schema document.
    ///   - uri: its URI when it has no absolute `$id` (relative references resolve against it).
    ///   - formatAssertion: check `format` values instead of only annotating them.
    ///   - retrieve: documents referenced by URI; the 2020-12 meta-schemas are built in.
    public init(_ schema: JSONValue, uri: String = "https://rpgbot.invalid/schema.json", formatAssertion: Bool = false, retrieve: @escaping Retriever = { _ in nil }) {
        self.formatAssertion = formatAssertion
        self.documentPrefix = URIReference.stripFragment(uri)
        let registry = SchemaRegistry { uri in retrieve(uri) ?? JSONSchema.builtInRetriever(uri) }
        registry.add(schema, at: uri)
        let compiler = SchemaCompiler(registry: registry)
        let base = URIReference.stripFragment(uri)
        let root = compiler.node(for: schema, location: base + "#", parentBase: base, resource: base)
        self.state = Mutex((compiler, root))
    }

    public convenience init(parsing text: String, formatAssertion: Bool = false) throws {
        self.init(try JSONValue.parse(text), formatAssertion: formatAssertion)
    }

    /// Every way `instance` fails the schema; empty when it is valid.
    public func validate(_ instance: JSONValue) -> [ValidationError] {
        state.withLock { state in
            let evaluator = Evaluator(compiler: state.compiler, formatAssertion: formatAssertion)
            let errors = evaluator.evaluate(state.root, instance, at: Evaluator.Path.root, scope: Evaluator.Scope(dynamic: [], depth: 0)).errors
            return errors.map { error in
                guard error.schemaLocation.hasPrefix(documentPrefix + "#") else { return error }
                return ValidationError(
                    instanceLocation: error.instanceLocation,
                    schemaLocation: String(error.schemaLocation.dropFirst(documentPrefix.count)),
                    message: error.message
                )
            }
        }
    }

    public func isValid(_ instance: JSONValue) -> Bool {
        validate(instance).isEmpty
    }
}

extension JSONSchema {
    /// The draft 2020-12 meta-schema, compiled: `metaschema.validate(schema)` tells whether a
    /// document is a well-formed schema.
    public static let metaschema: JSONSchema = {
        let uri = "https://json-schema.org/draft/2020-12/schema"
        // The document is embedded in this module; parsing it cannot fail.
        return JSONSchema(builtInRetriever(uri) ?? .bool(true), uri: uri)
    }()
}
