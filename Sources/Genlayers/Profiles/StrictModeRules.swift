import JSONValues
import Foundation
import ServiceKit

/// The rules OpenAI's strict mode imposes on a schema, checked when a profile loads so a bad
/// schema stops start-up instead of failing every request: an object root, every property
/// required, `additionalProperties: false` on every object, only supported keywords, and the
/// size limits.
enum StrictModeRules {
    static let supportedKeywords: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf",
        "$ref", "$defs", "definitions", "description", "title", "pattern", "format", "multipleOf",
        "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "minItems", "maxItems",
        "$schema", "$id", "$comment", "default", "examples",
        // Not strict mode's, but never sent to it: the `openai` grammar dialect leaves them out,
        // and answers are still validated (and repaired) against them.
        "minLength", "maxLength",
    ]
    static let supportedFormats: Set<String> = ["date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"]
    static let maxNesting = 10
    static let maxProperties = 5000
    static let maxEnumValues = 1000

    /// Every rule the schema breaks, each with the JSON Pointer of the place.
    static func violations(of schema: JSONValue) -> [String] {
        var problems: [String] = []
        var propertyCount = 0
        guard case .object(let root) = schema else { return ["(root): the schema must be an object schema"] }
        if root["type"] != .string("object") {
            problems.append("(root): strict mode needs \"type\": \"object\" at the root")
        }
        if root["anyOf"] != nil {
            problems.append("(root): strict mode does not accept anyOf at the root")
        }
        check(schema, at: "", depth: 0, problems: &problems, propertyCount: &propertyCount)
        if propertyCount > maxProperties {
            problems.append("(root): \(propertyCount) properties; strict mode allows \(maxProperties)")
        }
        return problems
    }

    private static func check(_ schema: JSONValue, at pointer: String, depth: Int, problems: inout [String], propertyCount: inout Int) {
        guard case .object(let keywords) = schema else { return }
        let place = pointer.isEmpty ? "(root)" : pointer
        for keyword in keywords.keys.sorted() where !supportedKeywords.contains(keyword) {
            problems.append("\(place): strict mode does not support \"\(keyword)\"")
        }
        if case .string(let format)? = keywords["format"], !supportedFormats.contains(format) {
            problems.append("\(place): strict mode does not support format \"\(format)\"")
        }
        if case .array(let options)? = keywords["enum"], options.count > maxEnumValues {
            problems.append("\(place): \(options.count) enum values; strict mode allows \(maxEnumValues)")
        }
        let isObject: Bool = {
            switch keywords["type"] {
            case .string("object")?: true
            case .array(let types)?: types.contains(.string("object"))
            default: keywords["properties"] != nil
            }
        }()
        let objectDepth = isObject ? depth + 1 : depth
        if isObject {
            if objectDepth > maxNesting {
                problems.append("\(place): objects nest \(objectDepth) deep; strict mode allows \(maxNesting)")
            }
            if keywords["additionalProperties"] != .bool(false) {
                problems.append("\(place): strict mode needs \"additionalProperties\": false")
            }
            let properties = keywords["properties"]?.objectValue ?? [:]
            propertyCount += properties.count
            var required: Set<String> = []
            if case .array(let names)? = keywords["required"] {
                required = Set(names.compactMap(\.stringValue))
            }
            for name in properties.keys.sorted() where !required.contains(name) {
                problems.append("\(place): property \"\(name)\" must be listed in required (make it nullable with \"type\": [\"…\", \"null\"] instead)")
            }
        }
        if case .object(let properties)? = keywords["properties"] {
            for (name, subschema) in properties.sorted(by: { $0.key < $1.key }) {
                check(subschema, at: pointer + "/properties/" + JSONValue.escapePointerToken(name), depth: objectDepth, problems: &problems, propertyCount: &propertyCount)
            }
        }
        for container in ["$defs", "definitions"] {
            if case .object(let definitions)? = keywords[container] {
                for (name, subschema) in definitions.sorted(by: { $0.key < $1.key }) {
                    check(subschema, at: pointer + "/\(container)/" + JSONValue.escapePointerToken(name), depth: depth, problems: &problems, propertyCount: &propertyCount)
                }
            }
        }
        if let items = keywords["items"] {
            check(items, at: pointer + "/items", depth: objectDepth, problems: &problems, propertyCount: &propertyCount)
        }
        if case .array(let branches)? = keywords["anyOf"] {
            for (index, branch) in branches.enumerated() {
                check(branch, at: pointer + "/anyOf/\(index)", depth: objectDepth, problems: &problems, propertyCount: &propertyCount)
            }
        }
    }
}
