import JSONValues
import Foundation

/// Applies a compiled schema to an instance (JSON Schema draft 2020-12), collecting errors and
/// the annotations that `unevaluatedProperties` and `unevaluatedItems` depend on.
final class Evaluator {
    struct Scope {
        /// Schema resources entered, outermost first: the dynamic scope of `$dynamicRef`.
        var dynamic: [String]
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
            if !other.evaluatedProperties.isEmpty { evaluatedProperties.formUnion(other.evaluatedProperties) }
            if !other.evaluatedItems.isEmpty { evaluatedItems.formUnion(other.evaluatedItems) }
            allItemsEvaluated = allItemsEvaluated || other.allItemsEvaluated
        }

        mutating func absorb(_ other: Outcome) {
            if !other.errors.isEmpty { errors += other.errors }
            absorbAnnotations(other)
        }

        mutating func fail(_ instance: @autoclosure () -> String, _ schema: String, _ message: @autoclosure () -> String) {
            errors.append(ValidationError(instanceLocation: instance(), schemaLocation: schema, message: message()))
        }
    }

    let compiler: SchemaCompiler
    let formatAssertion: Bool
    static let maximumDepth = 200
    static let validationVocabularyURI = "https://json-schema.org/draft/2020-12/vocab/validation"

    init(compiler: SchemaCompiler, formatAssertion: Bool) {
        self.compiler = compiler
        self.formatAssertion = formatAssertion
    }

    /// An instance location as a chain of tokens: going one level deeper costs one small
    /// node, not a copy of the whole path, and the pointer text is built only for an error.
    final class Path: Sendable {
        static let root = Path(parent: nil, token: "")

        let parent: Path?
        let token: String

        private init(parent: Path?, token: String) {
            self.parent = parent
            self.token = token
        }

        func child(_ token: String) -> Path { Path(parent: self, token: token) }

        var pointer: String {
            var tokens: [String] = []
            var current: Path? = self
            while let node = current, let up = node.parent {
                tokens.append(node.token)
                current = up
            }
            return tokens.reversed().map { "/" + JSONValue.escapePointerToken($0) }.joined()
        }
    }

    func evaluate(_ node: SchemaNode, _ instance: JSONValue, at path: Path, scope: Scope) -> Outcome {
        var outcome = Outcome()
        if let boolean = node.boolean {
            if !boolean { outcome.fail(path.pointer, node.location, "no value is allowed here") }
            return outcome
        }
        guard scope.depth < Self.maximumDepth else {
            outcome.fail(path.pointer, node.location, "schema references nest too deeply (a reference cycle)")
            return outcome
        }
        var scope = scope
        scope.depth += 1
        if node.isResourceRoot || scope.dynamic.isEmpty, scope.dynamic.last != node.resource {
            scope.dynamic.append(node.resource)
        }
        if let reference = node.reference {
            if node.resolvedReference == nil { node.resolvedReference = compiler.node(forReference: reference) }
            if let target = node.resolvedReference {
                outcome.absorb(evaluate(target, instance, at: path, scope: entering(target, scope)))
            } else {
                outcome.fail(path.pointer, node.location + "/$ref", "cannot resolve the reference \(reference)")
            }
        }
        if let reference = node.dynamicReference {
            if node.resolvedDynamicReference == nil { node.resolvedDynamicReference = compiler.node(forReference: reference) }
            if var target = node.resolvedDynamicReference {
                if let name = URIReference.fragment(reference), !name.isEmpty, !name.hasPrefix("/"), target.dynamicAnchor == name {
                    for resource in scope.dynamic where compiler.registry.hasDynamicAnchor(name, in: resource) {
                        if let dynamic = compiler.node(forReference: "\(resource)#\(name)") { target = dynamic }
                        break
                    }
                }
                outcome.absorb(evaluate(target, instance, at: path, scope: entering(target, scope)))
            } else {
                outcome.fail(path.pointer, node.location + "/$dynamicRef", "cannot resolve the reference \(reference)")
            }
        }
        applyCombinators(node, instance, at: path, scope: scope, into: &outcome)
        if node.validationVocabulary ?? true {
            applyValidation(node, instance, at: path, into: &outcome)
        }
        switch instance {
        case .object(let members):
            applyObject(node, members, at: path, scope: scope, into: &outcome)
        case .array(let values):
            applyArray(node, values, at: path, scope: scope, into: &outcome)
        default:
            break
        }
        if !outcome.isValid {
            outcome.evaluatedProperties = []
            outcome.evaluatedItems = []
            outcome.allItemsEvaluated = false
        }
        return outcome
    }

    /// The scope for evaluating a reference's target: its resource joins the dynamic scope
    /// even when entered below its root.
    private func entering(_ target: SchemaNode, _ scope: Scope) -> Scope {
        var scope = scope
        if !target.isResourceRoot, scope.dynamic.last != target.resource {
            scope.dynamic.append(target.resource)
        }
        return scope
    }

    /// When exactly one alternative got past this level (all its errors lie deeper in the
    /// instance), its errors say what to fix better than "matches none": `{"dc": 45}` against
    /// `anyOf: [check, null]` is "/check/dc: must be at most 30", not a summary.
    static func closestAlternative(_ failures: [[ValidationError]], at pointer: String) -> [ValidationError]? {
        let deeper = failures.filter { errors in
            !errors.isEmpty && errors.allSatisfy { $0.instanceLocation.count > pointer.count && $0.instanceLocation.hasPrefix(pointer) }
        }
        return deeper.count == 1 ? deeper[0] : nil
    }

    private func applyCombinators(_ node: SchemaNode, _ instance: JSONValue, at path: Path, scope: Scope, into outcome: inout Outcome) {
        for schema in node.allOf {
            outcome.absorb(evaluate(schema, instance, at: path, scope: scope))
        }
        if !node.anyOf.isEmpty {
            var matched = false
            var failures: [[ValidationError]] = []
            for schema in node.anyOf {
                let result = evaluate(schema, instance, at: path, scope: scope)
                if result.isValid {
                    matched = true
                    outcome.absorbAnnotations(result)
                } else {
                    failures.append(result.errors)
                }
            }
            if !matched {
                outcome.errors += Self.closestAlternative(failures, at: path.pointer) ?? [
                    ValidationError(
                        instanceLocation: path.pointer, schemaLocation: node.location + "/anyOf",
                        message: "must match at least one of the \(node.anyOf.count) alternatives (\(failures.joined().prefix(3).map(\.message).joined(separator: "; ")))"
                    )
                ]
            }
        }
        if !node.oneOf.isEmpty {
            var valid: [Int] = []
            var annotations = Outcome()
            for (index, schema) in node.oneOf.enumerated() {
                let result = evaluate(schema, instance, at: path, scope: scope)
                if result.isValid {
                    valid.append(index)
                    annotations = result
                }
            }
            if valid.count == 1 {
                outcome.absorbAnnotations(annotations)
            } else {
                let detail = valid.isEmpty ? "none matched" : "alternatives \(valid.map(String.init).joined(separator: ", ")) all matched"
                outcome.fail(path.pointer, node.location + "/oneOf", "must match exactly one of the \(node.oneOf.count) alternatives; \(detail)")
            }
        }
        if let not = node.not, evaluate(not, instance, at: path, scope: scope).isValid {
            outcome.fail(path.pointer, node.location + "/not", "must not match the schema under not")
        }
        if let condition = node.ifSchema {
            let test = evaluate(condition, instance, at: path, scope: scope)
            if test.isValid {
                outcome.absorbAnnotations(test)
                if let then = node.thenSchema { outcome.absorb(evaluate(then, instance, at: path, scope: scope)) }
            } else if let otherwise = node.elseSchema {
                outcome.absorb(evaluate(otherwise, instance, at: path, scope: scope))
            }
        }
    }

    private func applyValidation(_ node: SchemaNode, _ instance: JSONValue, at path: Path, into outcome: inout Outcome) {
        if let types = node.types, !types.contains(where: { Self.matches(instance, type: $0) }) {
            outcome.fail(path.pointer, node.location + "/type", "must be of type \(types.joined(separator: " or ")), not \(Self.typeName(instance))")
        }
        if let options = node.enumValues, !options.contains(where: { Self.equal($0, instance) }) {
            outcome.fail(path.pointer, node.location + "/enum", "must be one of \(options.map(\.canonicalText).joined(separator: ", "))")
        }
        if let constant = node.constValue, !Self.equal(constant, instance) {
            outcome.fail(path.pointer, node.location + "/const", "must equal \(constant.canonicalText)")
        }
        switch instance {
        case .number(let value):
            if let limit = node.maximum, value > limit {
                outcome.fail(path.pointer, node.location + "/maximum", "must be at most \(JSONValue.number(limit).canonicalText)")
            }
            if let limit = node.exclusiveMaximum, value >= limit {
                outcome.fail(path.pointer, node.location + "/exclusiveMaximum", "must be less than \(JSONValue.number(limit).canonicalText)")
            }
            if let limit = node.minimum, value < limit {
                outcome.fail(path.pointer, node.location + "/minimum", "must be at least \(JSONValue.number(limit).canonicalText)")
            }
            if let limit = node.exclusiveMinimum, value <= limit {
                outcome.fail(path.pointer, node.location + "/exclusiveMinimum", "must be greater than \(JSONValue.number(limit).canonicalText)")
            }
            if let divisor = node.multipleOf, !Self.isMultiple(value, of: divisor) {
                outcome.fail(path.pointer, node.location + "/multipleOf", "must be a multiple of \(JSONValue.number(divisor).canonicalText)")
            }
        case .string(let text):
            if node.maxLength != nil || node.minLength != nil {
                let length = text.unicodeScalars.count
                if let limit = node.maxLength, Double(length) > limit {
                    outcome.fail(path.pointer, node.location + "/maxLength", "must be at most \(JSONValue.number(limit).canonicalText) characters (is \(length))")
                }
                if let limit = node.minLength, Double(length) < limit {
                    outcome.fail(path.pointer, node.location + "/minLength", "must be at least \(JSONValue.number(limit).canonicalText) characters (is \(length))")
                }
            }
            if let pattern = node.pattern, !Self.search(pattern.expression, text) {
                outcome.fail(path.pointer, node.location + "/pattern", "must match the pattern \(pattern.source)")
            }
            if formatAssertion, let format = node.format, let valid = FormatChecker.check(format, text), !valid {
                outcome.fail(path.pointer, node.location + "/format", "must be a valid \(format)")
            }
        case .array(let values):
            if let limit = node.maxItems, Double(values.count) > limit {
                outcome.fail(path.pointer, node.location + "/maxItems", "must have at most \(JSONValue.number(limit).canonicalText) items (has \(values.count))")
            }
            if let limit = node.minItems, Double(values.count) < limit {
                outcome.fail(path.pointer, node.location + "/minItems", "must have at least \(JSONValue.number(limit).canonicalText) items (has \(values.count))")
            }
            if node.uniqueItems {
                outer: for i in values.indices {
                    for j in values.indices where j > i && Self.equal(values[i], values[j]) {
                        outcome.fail(path.pointer, node.location + "/uniqueItems", "items \(i) and \(j) are equal; items must be unique")
                        break outer
                    }
                }
            }
        case .object(let members):
            if let limit = node.maxProperties, Double(members.count) > limit {
                outcome.fail(path.pointer, node.location + "/maxProperties", "must have at most \(JSONValue.number(limit).canonicalText) properties (has \(members.count))")
            }
            if let limit = node.minProperties, Double(members.count) < limit {
                outcome.fail(path.pointer, node.location + "/minProperties", "must have at least \(JSONValue.number(limit).canonicalText) properties (has \(members.count))")
            }
            for name in node.required where members[name] == nil {
                outcome.fail(path.pointer, node.location + "/required", "is missing the required property \(name)")
            }
            for (property, names) in node.dependentRequired where members[property] != nil {
                for name in names where members[name] == nil {
                    outcome.fail(path.pointer, node.location + "/dependentRequired", "has \(property), so it must also have \(name)")
                }
            }
        default:
            break
        }
    }

    private func applyObject(_ node: SchemaNode, _ members: [String: JSONValue], at path: Path, scope: Scope, into outcome: inout Outcome) {
        var evaluated: Set<String> = []
        if !node.properties.isEmpty {
            for (name, schema) in node.properties {
                guard let value = members[name] else { continue }
                outcome.errors += evaluate(schema, value, at: path.child(name), scope: scope).errors
                evaluated.insert(name)
            }
        }
        for (_, expression, schema) in node.patternProperties {
            for (name, value) in members where Self.search(expression, name) {
                outcome.errors += evaluate(schema, value, at: path.child(name), scope: scope).errors
                evaluated.insert(name)
            }
        }
        if let schema = node.additionalProperties {
            for (name, value) in members where !evaluated.contains(name) && node.properties[name] == nil {
                let result = evaluate(schema, value, at: path.child(name), scope: scope)
                if !result.isValid, schema.boolean == false {
                    outcome.fail(path.child(name).pointer, node.location + "/additionalProperties", "is not an allowed property")
                } else {
                    outcome.errors += result.errors
                }
                evaluated.insert(name)
            }
        }
        if let schema = node.propertyNames {
            for name in members.keys {
                let result = evaluate(schema, .string(name), at: path.child(name), scope: scope)
                if !result.isValid {
                    outcome.fail(path.child(name).pointer, node.location + "/propertyNames", "the property name \(name) is not allowed: \(result.errors.first?.message ?? "")")
                }
            }
        }
        for (property, schema) in node.dependentSchemas where members[property] != nil {
            outcome.absorb(evaluate(schema, .object(members), at: path, scope: scope))
        }
        outcome.evaluatedProperties.formUnion(evaluated)
        if let schema = node.unevaluatedProperties {
            for (name, value) in members where !outcome.evaluatedProperties.contains(name) {
                let result = evaluate(schema, value, at: path.child(name), scope: scope)
                if !result.isValid, schema.boolean == false {
                    outcome.fail(path.child(name).pointer, node.location + "/unevaluatedProperties", "is not an allowed property")
                } else {
                    outcome.errors += result.errors
                }
            }
            outcome.evaluatedProperties.formUnion(members.keys)
        }
    }

    private func applyArray(_ node: SchemaNode, _ values: [JSONValue], at path: Path, scope: Scope, into outcome: inout Outcome) {
        let prefixCount = min(node.prefixItems.count, values.count)
        for index in 0..<prefixCount {
            outcome.errors += evaluate(node.prefixItems[index], values[index], at: path.child(String(index)), scope: scope).errors
            outcome.evaluatedItems.insert(index)
        }
        if let schema = node.items {
            for index in prefixCount..<values.count {
                let result = evaluate(schema, values[index], at: path.child(String(index)), scope: scope)
                if !result.isValid, schema.boolean == false {
                    outcome.fail(path.child(String(index)).pointer, node.location + "/items", "no item is allowed beyond the first \(prefixCount)")
                } else {
                    outcome.errors += result.errors
                }
            }
            if values.count > prefixCount { outcome.allItemsEvaluated = true }
        }
        if let schema = node.contains {
            var matches = 0
            for (index, value) in values.enumerated() where evaluate(schema, value, at: path.child(String(index)), scope: scope).isValid {
                matches += 1
                outcome.evaluatedItems.insert(index)
            }
            let vocabulary = node.validationVocabulary ?? true
            let minimum = vocabulary ? (node.minContains ?? 1) : 1
            if Double(matches) < minimum {
                outcome.fail(path.pointer, node.location + (node.minContains == nil ? "/contains" : "/minContains"), "must contain at least \(JSONValue.number(minimum).canonicalText) matching item(s) (has \(matches))")
            }
            if vocabulary, let maximum = node.maxContains, Double(matches) > maximum {
                outcome.fail(path.pointer, node.location + "/maxContains", "must contain at most \(JSONValue.number(maximum).canonicalText) matching item(s) (has \(matches))")
            }
        }
        if let schema = node.unevaluatedItems {
            if !outcome.allItemsEvaluated {
                for index in values.indices where !outcome.evaluatedItems.contains(index) {
                    let result = evaluate(schema, values[index], at: path.child(String(index)), scope: scope)
                    if !result.isValid, schema.boolean == false {
                        outcome.fail(path.child(String(index)).pointer, node.location + "/unevaluatedItems", "is not an allowed item")
                    } else {
                        outcome.errors += result.errors
                    }
                }
            }
            if !values.isEmpty { outcome.allItemsEvaluated = true }
        }
    }

    // MARK: Helpers

    static func search(_ expression: NSRegularExpression?, _ text: String) -> Bool {
        guard let expression else { return false }
        return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    static func isMultiple(_ value: Double, of divisor: Double) -> Bool {
        let quotient = value / divisor
        guard quotient.isFinite else { return false }
        let rounded = quotient.rounded()
        return abs(quotient - rounded) <= max(1e-9, abs(quotient) * 1e-12)
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
