public import ServiceKit
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

    private let root: JSONValue
    private let rootURI: String
    private let formatAssertion: Bool
    private let registry: Mutex<SchemaRegistry>

    /// - Parameters:
    ///   - schema: the schema document.
    ///   - uri: its URI when it has no absolute `$id` (relative references resolve against it).
    ///   - formatAssertion: check `format` values instead of only annotating them.
    ///   - retrieve: documents referenced by URI; the 2020-12 meta-schemas are built in.
    public init(_ schema: JSONValue, uri: String = "https://rpgbot.invalid/schema.json", formatAssertion: Bool = false, retrieve: @escaping Retriever = { _ in nil }) {
        self.root = schema
        self.rootURI = uri
        self.formatAssertion = formatAssertion
        let registry = SchemaRegistry { uri in retrieve(uri) ?? JSONSchema.builtInRetriever(uri) }
        registry.add(schema, at: uri)
        self.registry = Mutex(registry)
    }

    public convenience init(parsing text: String, formatAssertion: Bool = false) throws {
        self.init(try JSONValue.parse(text), formatAssertion: formatAssertion)
    }

    /// Every way `instance` fails the schema; empty when it is valid.
    public func validate(_ instance: JSONValue) -> [ValidationError] {
        registry.withLock { registry in
            let evaluator = Evaluator(registry: registry, formatAssertion: formatAssertion)
            let scope = Evaluator.Scope(base: URIReference.stripFragment(rootURI), dynamic: [], validationVocabulary: true, schemaPath: "", depth: 0)
            return evaluator.evaluate(root, instance, at: "", scope: scope).errors
        }
    }

    public func isValid(_ instance: JSONValue) -> Bool {
        validate(instance).isEmpty
    }
}
