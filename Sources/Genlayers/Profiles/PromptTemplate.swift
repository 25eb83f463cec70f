public import JSONValues
import Mustache
public import ServiceKit

/// A prompt template of a profile: Mustache (https://mustache.github.io), rendered as plain
/// text (nothing is HTML-escaped).
///
/// Templates see `input` and `context` (the request's JSON, so `{{input.location}}` and
/// `{{#input.party}}{{name}} {{/input.party}}` work), their compact JSON text as `input_json`
/// and `context_json`, the profile's `schema_json`, and `profile` (the profile's name).
public struct PromptTemplate: Sendable {
    public let text: String
    private let template: MustacheTemplate

    public init(_ text: String) throws {
        self.text = text
        // The pragma makes `{{x}}` insert text verbatim: prompts are not HTML.
        self.template = try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + text)
    }

    public func render(_ values: [String: JSONValue]) -> String {
        template.render(values.mapValues(Self.mustacheValue))
    }

    /// Mustache walks dictionaries, arrays and scalars; integral numbers print without `.0`.
    static func mustacheValue(_ value: JSONValue) -> Any {
        switch value {
        case .null: return Optional<String>.none as Any
        case .bool(let flag): return flag
        case .number(let number):
            if number.isFinite, number == number.rounded(), abs(number) < 1e15 { return Int(number) }
            return number
        case .string(let text): return text
        case .array(let values): return values.map(mustacheValue)
        case .object(let members): return members.mapValues(mustacheValue)
        }
    }
}
