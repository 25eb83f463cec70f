import JSONValues
import Foundation
import ServiceKit
import Synchronization

/// The offline provider: no model at all. It fills the profile's schema deterministically from
/// the profile's offline template and the request's input and context, so the backend runs
/// end to end without an LLM (development, tests, demos, and the benchmark of the backend's
/// own cost). Its prose is the template's, not invented: it is a fallback, not a game master.
///
/// The same request always gives the same answer. What the template does not cover is
/// filled from the schema: `const`, an `enum` value chosen by a hash of the input, minimum
/// numbers, the fewest items allowed, and strings taken from same-named input fields.
public struct OfflineProvider: LanguageModelProvider {
    public static let providerName = "offline"
    public static let modelName = "offline-template"
    public var name: String { Self.providerName }
    public var defaultModel: String { Self.modelName }
    private let templates = TemplateCache()

    public init() {}

    public func complete(_ request: ModelRequest) async throws(ProviderError) -> ModelReply {
        let structured = request.structured
        var filler = SchemaFiller(
            root: structured.schema,
            values: ["input": structured.input, "context": structured.context],
            seed: structured.input.canonicalText,
            templates: templates
        )
        let output = filler.fill(structured.schema, template: structured.offlineTemplate, path: "")
        let text = output.canonicalText
        // Token counts are not measured without a model: reported as zero.
        return ModelReply(content: .text(text), usage: TokenUsage(), model: Self.modelName)
    }
}

/// Compiled Mustache templates by source text, shared across requests.
final class TemplateCache: Sendable {
    private let templates = Mutex<[String: PromptTemplate]>([:])

    func template(_ text: String) -> PromptTemplate? {
        if let cached = templates.withLock({ $0[text] }) { return cached }
        guard let compiled = try? PromptTemplate(text) else { return nil }
        templates.withLock { $0[text] = compiled }
        return compiled
    }
}
