public import JSONValues
public import JSONSchema
public import ServiceKit

/// One kind of structured generation, as `profiles.yaml` declares it: the output schema
/// (compiled once), the prompts, and how to call the model.
public struct GenerationProfile: Sendable {
    /// `^[A-Za-z0-9_-]{1,64}$`: also the schema's name on the wire.
    public let name: String
    public let description: String
    /// The output schema document and its compiled validator.
    public let schemaDocument: JSONValue
    public let schema: JSONSchema
    /// The schema as providers receive it: compact, in the author's member order.
    public let schemaText: String
    /// Where the schema came from (reported in errors and by the profile listing).
    public let schemaPath: String
    /// Checks the request's `input`, when the profile declares an input schema.
    public let inputSchema: JSONSchema?
    public let systemPrompt: PromptTemplate
    public let userPrompt: PromptTemplate
    /// A provider name that overrides the configured default.
    public let provider: String?
    public let model: String?
    /// Omitted from requests when nil: reasoning models reject `temperature`.
    public let temperature: Double?
    /// The answer's token budget: `max_output_tokens` as configured, or sized from the schema.
    public let maxOutputTokens: Int
    /// Whether ``maxOutputTokens`` was sized from the schema (`max_output_tokens` left out):
    /// then each request's budget is sized from the schema sent for it, which narrowing makes
    /// smaller.
    public let sizesOutputFromSchema: Bool
    /// Re-asks after an invalid answer, on top of the first attempt.
    public let maxRetries: Int
    /// Whether the schema is sent with `strict: true` (and checked against the strict-mode rules).
    public let strict: Bool
    /// The offline provider's template (see ``OfflineProvider``).
    public let offlineTemplate: JSONValue?
    /// Whether mechanical faults are repaired instead of re-asked (``OutputRepair``).
    public let repair: Bool
    /// Each schema object's member order, by JSON Pointer: a rewritten schema is sent with the
    /// author's order, which grammar-constrained servers generate in.
    let schemaMemberOrder: [String: [String]]

    /// Public for tests and embedding; `ProfileCatalog` builds profiles from `profiles.yaml`.
    public init(name: String, description: String, schemaDocument: JSONValue, schemaText: String, schemaPath: String = "(inline)", inputSchema: JSONSchema? = nil, systemPrompt: PromptTemplate, userPrompt: PromptTemplate, provider: String? = nil, model: String? = nil, temperature: Double? = nil, maxOutputTokens: Int? = nil, maxRetries: Int = 2, strict: Bool = true, offlineTemplate: JSONValue? = nil, repair: Bool = false) {
        self.name = name
        self.description = description
        self.schemaDocument = schemaDocument
        self.schema = JSONSchema(schemaDocument, uri: "https://rpgbot.invalid/profiles/\(name).schema.json")
        self.schemaText = schemaText
        self.schemaPath = schemaPath
        self.inputSchema = inputSchema
        self.systemPrompt = systemPrompt
        self.userPrompt = userPrompt
        self.provider = provider
        self.model = model
        self.temperature = temperature
        self.maxOutputTokens = maxOutputTokens ?? OutputBudget.tokens(for: schemaDocument)
        self.sizesOutputFromSchema = maxOutputTokens == nil
        self.maxRetries = maxRetries
        self.strict = strict
        self.offlineTemplate = offlineTemplate
        self.repair = repair
        self.schemaMemberOrder = SchemaText.memberOrder(of: schemaText)
    }
}
