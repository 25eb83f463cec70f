import Foundation
import ServiceKit

/// Applies a schema to an instance (JSON Schema draft 2020-12), collecting errors and the
/// annotations that `unevaluatedProperties` and `unevaluatedItems` depend on.
final class Evaluator {
    struct Scope {
        /// Base URI for resolving references in the current schema.
        var base: String
        /// Schema resources entered, outermost first: the dynamic scope of `$dynamicRef`.
        var dynamic: [String]
        /// Whether the validation vocabulary applies (a meta-schema may leave it out).
        var validationVocabulary: Bool
        var schemaPath: String
        var depth: Int
    }

    /// What one schema evaluation produced.
    struct Outcome {
        var errors: [ValidationError] = []
        var evaluatedProperties: Set<String> = []
        var evaluatedItems: Set<Int> = []
        var allItemsEvaluated = false

        var isValid: Bool { errors.isEmpty }

        mutating func absorbAnnotations(_ other: Outcome) {
            evaluatedProperties.formUnion(other.evaluatedProperties)
            evaluatedItems.formUnion(other.evaluatedItems)
            allItemsEvaluated = allItemsEvaluated || other.allItemsEvaluated
        }

        mutating func fail(_ instance: String, _ schema: String, _ message: String) {
            errors.append(ValidationError(instanceLocation: instance, schemaLocation: schema, message: message))
        }
    }

    let registry: SchemaRegistry
    let formatAssertion: Bool
    static let maximumDepth = 200
    static let validationVocabularyURI = "https://json-schema.org/draft/2020-12/vocab/validation"

    init(registry: SchemaRegistry, formatAssertion: Bool) {
        self.registry = registry
        self.formatAssertion = formatAssertion
    }

    func evaluate(_ schema: JSONValue, _ instance: JSONValue, at path: String, scope: Scope) -> Outcome {
        var outcome = Outcome()
        switch schema {
        case .bool(true):
            return outcome
        case .bool(false):
            outcome.fail(path, scope.schemaPath, "no value is allowed here")
            return outcome
        case .object(let keywords):
            guard scope.depth < Self.maximumDepth else {
                outcome.fail(path, scope.schemaPath, "schema references nest too deeply (a reference cycle)")
                return outcome
            }
            var scope = scope
            scope.depth += 1
            if case .string(let id) = keywords["$id"] {
                scope.base = URIReference.stripFragment(URIReference.resolve(id, against: scope.base))
                if scope.dynamic.last != scope.base { scope.dynamic.append(scope.base) }
                if case .string(let metaschema) = keywords["$schema"] {
                    scope.validationVocabulary = validationVocabularyEnabled(metaschema: metaschema)
                }
            } else if scope.dynamic.isEmpty {
                scope.dynamic.append(scope.base)
            }
            evaluateKeywords(keywords, instance, at: path, scope: scope, into: &outcome)
            if !outcome.isValid {
                outcome.evaluatedProperties = []
                outcome.evaluatedItems = []
                outcome.allItemsEvaluated = false
            }
            return outcome
        default:
            // Not a schema: nothing to apply.
            return outcome
        }
    }

    private func validationVocabularyEnabled(metaschema: String) -> Bool {
        guard let located = registry.locate(URIReference.normalize(metaschema)),
              case .object(let members) = located.schema,
              case .object(let vocabularies) = members["$vocabulary"] else { return true }
        return vocabularies[Self.validationVocabularyURI] != nil
    }

    private func sub(_ scope: Scope, _ keyword: String) -> Scope {
        var scope = scope
        scope.schemaPath += "/" + escape(keyword)
        return scope
    }

    private func escape(_ token: String) -> String {
        token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    private func child(_ path: String, _ token: String) -> String {
        path + "/" + escape(token)
    }

    // MARK: - Keywords

    private func evaluateKeywords(_ keywords: [String: JSONValue], _ instance: JSONValue, at path: String, scope: Scope, into outcome: inout Outcome) {
        if case .string(let reference) = keywords["$ref"] {
            let target = URIReference.resolve(reference, against: scope.base)
            if let located = registry.locate(target) {
                var next = sub(scope, "$ref")
                next.base = located.base
                // The resource of the target joins the dynamic scope even when entered below its
                // root (a target with its own `$id` is its own resource and joins in `evaluate`).
                if !Self.hasID(located.schema), next.dynamic.last != located.base { next.dynamic.append(located.base) }
                let result = evaluate(located.schema, instance, at: path, scope: next)
                outcome.errors += result.errors
                outcome.absorbAnnotations(result)
            } else {
                outcome.fail(path, scope.schemaPath + "/$ref", "cannot resolve the reference \(reference)")
            }
        }
        if case .string(let reference) = keywords["$dynamicRef"] {
            let target = URIReference.resolve(reference, against: scope.base)
            if var located = registry.locate(target) {
                if let name = URIReference.fragment(target), !name.isEmpty, !name.hasPrefix("/"),
                   case .object(let members) = located.schema, members["$dynamicAnchor"] == .string(name) {
                    for resource in scope.dynamic where registry.hasDynamicAnchor(name, in: resource) {
                        if let dynamic = registry.locate("\(resource)#\(name)") { located = dynamic }
                        break
                    }
                }
                var next = sub(scope, "$dynamicRef")
                next.base = located.base
                if !Self.hasID(located.schema), next.dynamic.last != located.base { next.dynamic.append(located.base) }
                let result = evaluate(located.schema, instance, at: path, scope: next)
                outcome.errors += result.errors
                outcome.absorbAnnotations(result)
            } else {
                outcome.fail(path, scope.schemaPath + "/$dynamicRef", "cannot resolve the reference \(reference)")
            }
        }
        applyCombinators(keywords, instance, at: path, scope: scope, into: &outcome)
        if scope.validationVocabulary {
            applyValidation(keywords, instance, at: path, scope: scope, into: &outcome)
        }
        switch instance {
        case .object(let members):
            applyObject(keywords, members, at: path, scope: scope, into: &outcome)
        case .array(let values):
            applyArray(keywords, values, at: path, scope: scope, into: &outcome)
        default:
            break
        }
    }

    private func applyCombinators(_ keywords: [String: JSONValue], _ instance: JSONValue, at path: String, scope: Scope, into outcome: inout Outcome) {
        if case .array(let schemas) = keywords["allOf"] {
            for (index, schema) in schemas.enumerated() {
                let result = evaluate(schema, instance, at: path, scope: sub(sub(scope, "allOf"), String(index)))
                outcome.errors += result.errors
                outcome.absorbAnnotations(result)
            }
        }
        if case .array(let schemas) = keywords["anyOf"] {
            var matched = false
            var failures: [ValidationError] = []
            for (index, schema) in schemas.enumerated() {
                let result = evaluate(schema, instance, at: path, scope: sub(sub(scope, "anyOf"), String(index)))
                if result.isValid {
                    matched = true
                    outcome.absorbAnnotations(result)
                } else {
                    failures += result.errors
                }
            }
            if !matched {
                outcome.fail(path, scope.schemaPath + "/anyOf", "must match at least one of the \(schemas.count) alternatives (\(failures.prefix(3).map(\.message).joined(separator: "; ")))")
            }
        }
        if case .array(let schemas) = keywords["oneOf"] {
            var valid: [Int] = []
            var annotations = Outcome()
            for (index, schema) in schemas.enumerated() {
                let result = evaluate(schema, instance, at: path, scope: sub(sub(scope, "oneOf"), String(index)))
                if result.isValid {
                    valid.append(index)
                    annotations = result
                }
            }
            if valid.count == 1 {
                outcome.absorbAnnotations(annotations)
            } else {
                let detail = valid.isEmpty ? "none matched" : "alternatives \(valid.map(String.init).joined(separator: ", ")) all matched"
                outcome.fail(path, scope.schemaPath + "/oneOf", "must match exactly one of the \(schemas.count) alternatives; \(detail)")
            }
        }
        if let schema = keywords["not"] {
            if evaluate(schema, instance, at: path, scope: sub(scope, "not")).isValid {
                outcome.fail(path, scope.schemaPath + "/not", "must not match the schema under not")
            }
        }
        if let condition = keywords["if"] {
            let test = evaluate(condition, instance, at: path, scope: sub(scope, "if"))
            if test.isValid {
                outcome.absorbAnnotations(test)
                if let then = keywords["then"] {
                    let result = evaluate(then, instance, at: path, scope: sub(scope, "then"))
                    outcome.errors += result.errors
                    outcome.absorbAnnotations(result)
                }
            } else if let otherwise = keywords["else"] {
                let result = evaluate(otherwise, instance, at: path, scope: sub(scope, "else"))
                outcome.errors += result.errors
                outcome.absorbAnnotations(result)
            }
        }
    }

    // MARK: Validation vocabulary

    private func applyValidation(_ keywords: [String: JSONValue], _ instance: JSONValue, at path: String, scope: Scope, into outcome: inout Outcome) {
        let here = scope.schemaPath
        if let type = keywords["type"] {
            let allowed: [String] =
                switch type {
                case .string(let name): [name]
                case .array(let names): names.compactMap(\.stringValue)
                default: []
                }
            if !allowed.contains(where: { Self.matches(instance, type: $0) }) {
                outcome.fail(path, here + "/type", "must be of type \(allowed.joined(separator: " or ")), not \(Self.typeName(instance))")
            }
        }
        if case .array(let options) = keywords["enum"], !options.contains(where: { Self.equal($0, instance) }) {
            outcome.fail(path, here + "/enum", "must be one of \(options.map(\.canonicalText).joined(separator: ", "))")
        }
        if let constant = keywords["const"], !Self.equal(constant, instance) {
            outcome.fail(path, here + "/const", "must equal \(constant.canonicalText)")
        }
        switch instance {
        case .number(let value):
            applyNumeric(keywords, value, at: path, here: here, into: &outcome)
        case .string(let text):
            let length = text.unicodeScalars.count
            if let limit = keywords["maxLength"]?.numberValue, Double(length) > limit {
                outcome.fail(path, here + "/maxLength", "must be at most \(Int(limit)) characters (is \(length))")
            }
            if let limit = keywords["minLength"]?.numberValue, Double(length) < limit {
                outcome.fail(path, here + "/minLength", "must be at least \(Int(limit)) characters (is \(length))")
            }
            if case .string(let pattern) = keywords["pattern"], !PatternCache.shared.matches(pattern, text) {
                outcome.fail(path, here + "/pattern", "must match the pattern \(pattern)")
            }
            if formatAssertion, case .string(let format) = keywords["format"], let valid = FormatChecker.check(format, text), !valid {
                outcome.fail(path, here + "/format", "must be a valid \(format)")
            }
        case .array(let values):
            if let limit = keywords["maxItems"]?.numberValue, Double(values.count) > limit {
                outcome.fail(path, here + "/maxItems", "must have at most \(Int(limit)) items (has \(values.count))")
            }
            if let limit = keywords["minItems"]?.numberValue, Double(values.count) < limit {
                outcome.fail(path, here + "/minItems", "must have at least \(Int(limit)) items (has \(values.count))")
            }
            if keywords["uniqueItems"] == .bool(true) {
                outer: for i in values.indices {
                    for j in values.indices where j > i && Self.equal(values[i], values[j]) {
                        outcome.fail(path, here + "/uniqueItems", "items \(i) and \(j) are equal; items must be unique")
                        break outer
                    }
                }
            }
        case .object(let members):
            if let limit = keywords["maxProperties"]?.numberValue, Double(members.count) > limit {
                outcome.fail(path, here + "/maxProperties", "must have at most \(Int(limit)) properties (has \(members.count))")
            }
            if let limit = keywords["minProperties"]?.numberValue, Double(members.count) < limit {
                outcome.fail(path, here + "/minProperties", "must have at least \(Int(limit)) properties (has \(members.count))")
            }
            if case .array(let required) = keywords["required"] {
                for case .string(let name) in required where members[name] == nil {
                    outcome.fail(path, here + "/required", "is missing the required property \(name)")
                }
            }
            if case .object(let dependencies) = keywords["dependentRequired"] {
                for (property, needed) in dependencies where members[property] != nil {
                    guard case .array(let names) = needed else { continue }
                    for case .string(let name) in names where members[name] == nil {
                        outcome.fail(path, here + "/dependentRequired", "has \(property), so it must also have \(name)")
                    }
                }
            }
        default:
            break
        }
    }

    private func applyNumeric(_ keywords: [String: JSONValue], _ value: Double, at path: String, here: String, into outcome: inout Outcome) {
        if let limit = keywords["maximum"]?.numberValue, value > limit {
            outcome.fail(path, here + "/maximum", "must be at most \(JSONValue.number(limit).canonicalText)")
        }
        if let limit = keywords["exclusiveMaximum"]?.numberValue, value >= limit {
            outcome.fail(path, here + "/exclusiveMaximum", "must be less than \(JSONValue.number(limit).canonicalText)")
        }
        if let limit = keywords["minimum"]?.numberValue, value < limit {
            outcome.fail(path, here + "/minimum", "must be at least \(JSONValue.number(limit).canonicalText)")
        }
        if let limit = keywords["exclusiveMinimum"]?.numberValue, value <= limit {
            outcome.fail(path, here + "/exclusiveMinimum", "must be greater than \(JSONValue.number(limit).canonicalText)")
        }
        if let divisor = keywords["multipleOf"]?.numberValue, divisor > 0, !Self.isMultiple(value, of: divisor) {
            outcome.fail(path, here + "/multipleOf", "must be a multiple of \(JSONValue.number(divisor).canonicalText)")
        }
    }

    static func isMultiple(_ value: Double, of divisor: Double) -> Bool {
        let quotient = value / divisor
        guard quotient.isFinite else { return false }
        let rounded = quotient.rounded()
        return abs(quotient - rounded) <= max(1e-9, abs(quotient) * 1e-12)
    }

    // MARK: Applicators on objects and arrays

    private func applyObject(_ keywords: [String: JSONValue], _ members: [String: JSONValue], at path: String, scope: Scope, into outcome: inout Outcome) {
        var evaluated: Set<String> = []
        if case .object(let properties) = keywords["properties"] {
            for (name, schema) in properties {
                guard let value = members[name] else { continue }
                let result = evaluate(schema, value, at: child(path, name), scope: sub(sub(scope, "properties"), name))
                outcome.errors += result.errors
                evaluated.insert(name)
            }
        }
        if case .object(let patterns) = keywords["patternProperties"] {
            for (pattern, schema) in patterns {
                for (name, value) in members where PatternCache.shared.matches(pattern, name) {
                    let result = evaluate(schema, value, at: child(path, name), scope: sub(sub(scope, "patternProperties"), pattern))
                    outcome.errors += result.errors
                    evaluated.insert(name)
                }
            }
        }
        if let schema = keywords["additionalProperties"] {
            for (name, value) in members where !evaluated.contains(name) {
                let result = evaluate(schema, value, at: child(path, name), scope: sub(scope, "additionalProperties"))
                if !result.isValid, case .bool(false) = schema {
                    outcome.fail(child(path, name), scope.schemaPath + "/additionalProperties", "is not an allowed property")
                } else {
                    outcome.errors += result.errors
                }
                evaluated.insert(name)
            }
        }
        if let schema = keywords["propertyNames"] {
            for name in members.keys {
                let result = evaluate(schema, .string(name), at: child(path, name), scope: sub(scope, "propertyNames"))
                if !result.isValid {
                    outcome.fail(child(path, name), scope.schemaPath + "/propertyNames", "the property name \(name) is not allowed: \(result.errors.first?.message ?? "")")
                }
            }
        }
        if case .object(let dependencies) = keywords["dependentSchemas"] {
            for (property, schema) in dependencies where members[property] != nil {
                let result = evaluate(schema, .object(members), at: path, scope: sub(sub(scope, "dependentSchemas"), property))
                outcome.errors += result.errors
                outcome.absorbAnnotations(result)
            }
        }
        outcome.evaluatedProperties.formUnion(evaluated)
        if let schema = keywords["unevaluatedProperties"] {
            for (name, value) in members where !outcome.evaluatedProperties.contains(name) {
                let result = evaluate(schema, value, at: child(path, name), scope: sub(scope, "unevaluatedProperties"))
                if !result.isValid, case .bool(false) = schema {
                    outcome.fail(child(path, name), scope.schemaPath + "/unevaluatedProperties", "is not an allowed property")
                } else {
                    outcome.errors += result.errors
                }
            }
            outcome.evaluatedProperties.formUnion(members.keys)
        }
    }

    private func applyArray(_ keywords: [String: JSONValue], _ values: [JSONValue], at path: String, scope: Scope, into outcome: inout Outcome) {
        var prefixCount = 0
        if case .array(let prefix) = keywords["prefixItems"] {
            prefixCount = min(prefix.count, values.count)
            for index in 0..<prefixCount {
                let result = evaluate(prefix[index], values[index], at: child(path, String(index)), scope: sub(sub(scope, "prefixItems"), String(index)))
                outcome.errors += result.errors
                outcome.evaluatedItems.insert(index)
            }
        }
        if let schema = keywords["items"] {
            for index in prefixCount..<values.count {
                let result = evaluate(schema, values[index], at: child(path, String(index)), scope: sub(scope, "items"))
                if !result.isValid, case .bool(false) = schema {
                    outcome.fail(child(path, String(index)), scope.schemaPath + "/items", "no item is allowed beyond the first \(prefixCount)")
                } else {
                    outcome.errors += result.errors
                }
            }
            if values.count > prefixCount { outcome.allItemsEvaluated = true }
        }
        if let schema = keywords["contains"] {
            var matches = 0
            for (index, value) in values.enumerated() where evaluate(schema, value, at: child(path, String(index)), scope: sub(scope, "contains")).isValid {
                matches += 1
                outcome.evaluatedItems.insert(index)
            }
            let minimum = scope.validationVocabulary ? (keywords["minContains"]?.numberValue ?? 1) : 1
            if Double(matches) < minimum {
                outcome.fail(path, scope.schemaPath + (keywords["minContains"] == nil ? "/contains" : "/minContains"), "must contain at least \(Int(minimum)) matching item(s) (has \(matches))")
            }
            if scope.validationVocabulary, let maximum = keywords["maxContains"]?.numberValue, Double(matches) > maximum {
                outcome.fail(path, scope.schemaPath + "/maxContains", "must contain at most \(Int(maximum)) matching item(s) (has \(matches))")
            }
        }
        if let schema = keywords["unevaluatedItems"] {
            if !outcome.allItemsEvaluated {
                for index in values.indices where !outcome.evaluatedItems.contains(index) {
                    let result = evaluate(schema, values[index], at: child(path, String(index)), scope: sub(scope, "unevaluatedItems"))
                    if !result.isValid, case .bool(false) = schema {
                        outcome.fail(child(path, String(index)), scope.schemaPath + "/unevaluatedItems", "is not an allowed item")
                    } else {
                        outcome.errors += result.errors
                    }
                }
            }
            if !values.isEmpty { outcome.allItemsEvaluated = true }
        }
    }

    // MARK: Helpers

    static func hasID(_ schema: JSONValue) -> Bool {
        if case .object(let members) = schema, case .string = members["$id"] { return true }
        return false
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("object", .object), ("array", .array), ("string", .string), ("number", .number):
            true
        case ("integer", .number(let number)):
            number.isFinite && number == number.rounded()
        default:
            false
        }
    }

    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .number(let number): number == number.rounded() ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// JSON equality: numbers by value (1 equals 1.0), objects regardless of key order, and
    /// strings by code points (Swift's `==` would equate canonically equivalent strings).
    static func equal(_ lhs: JSONValue, _ rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)):
            return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { equal($0, $1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.allSatisfy { key, value in
                guard let other = b.first(where: { $0.key.unicodeScalars.elementsEqual(key.unicodeScalars) })?.value else { return false }
                return equal(value, other)
            }
        default:
            return lhs == rhs
        }
    }
}
