import JSONValues
import JSONSchema
import ServiceKit
import Testing

@Suite struct ValidatorTests {
    @Test func errorsCarryInstanceAndSchemaLocations() throws {
        let schema = try JSONSchema(parsing: """
            {"type": "object", "required": ["name", "party"],
             "properties": {"party": {"type": "array", "items": {"$ref": "#/$defs/member"}}},
             "$defs": {"member": {"type": "object", "properties": {"hp": {"type": "integer", "minimum": 0}}}}}
            """)
        let errors = schema.validate(try JSONValue.parse(#"{"party": [{"hp": 3}, {"hp": -2}, {"hp": "lots"}]}"#))
        #expect(errors.contains { $0.instanceLocation == "" && $0.schemaLocation == "#/required" && $0.message.contains("name") })
        #expect(errors.contains { $0.instanceLocation == "/party/1/hp" && $0.schemaLocation == "#/$defs/member/properties/hp/minimum" })
        #expect(errors.contains { $0.instanceLocation == "/party/2/hp" && $0.message.contains("integer") && $0.message.contains("string") })
        #expect(errors.count == 3)
    }

    @Test func anAlternativeThatGotFurtherReportsItsOwnErrors() throws {
        let schema = try JSONSchema(parsing: ##"""
            {"properties": {"check": {"anyOf": [{"$ref": "#/$defs/check"}, {"type": "null"}]}},
             "$defs": {"check": {"type": "object", "properties": {"dc": {"type": "integer", "maximum": 30}}}}}
            """##)
        // The object branch got past the type: its error is the one to fix.
        #expect(schema.validate(try JSONValue.parse(#"{"check": {"dc": 45}}"#)).map(\.description) == ["/check/dc: must be at most 30 [#/$defs/check/properties/dc/maximum]"])
        // Neither branch got further than the value itself: the summary names both.
        let summary = schema.validate(try JSONValue.parse(#"{"check": 7}"#))
        #expect(summary.count == 1)
        #expect(summary.first?.instanceLocation == "/check")
        #expect(summary.first?.schemaLocation == "#/properties/check/anyOf")
        #expect(summary.first?.message.contains("must match at least one of the 2 alternatives") == true)
    }

    @Test func booleansAreNotNumbers() throws {
        let schema = try JSONSchema(parsing: #"{"enum": [1, 0]}"#)
        #expect(schema.isValid(try JSONValue.parse("1")))
        #expect(schema.isValid(try JSONValue.parse("1.0")))
        #expect(!schema.isValid(try JSONValue.parse("true")))
        #expect(!schema.isValid(try JSONValue.parse("false")))
    }

    @Test func stringLengthCountsCodePoints() throws {
        let schema = try JSONSchema(parsing: #"{"maxLength": 2}"#)
        #expect(schema.isValid(.string("💩💩")))
        #expect(!schema.isValid(.string("abc")))
    }

    @Test func formatIsAnAnnotationUnlessAsserted() throws {
        let text = #"{"format": "date"}"#
        #expect(try JSONSchema(parsing: text).isValid(.string("not a date")))
        let asserting = try JSONSchema(parsing: text, formatAssertion: true)
        #expect(!asserting.isValid(.string("not a date")))
        #expect(asserting.isValid(.string("2026-11-30")))
    }

    @Test func theMetaschemaIsBuiltIn() throws {
        let schema = try JSONSchema(parsing: #"{"$ref": "https://json-schema.org/draft/2020-12/schema"}"#)
        #expect(schema.isValid(try JSONValue.parse(#"{"type": "string", "minLength": 1}"#)))
        #expect(!schema.isValid(try JSONValue.parse(#"{"minLength": -1}"#)))
    }

    @Test func aReferenceCycleWithoutProgressIsAnErrorNotACrash() throws {
        let schema = try JSONSchema(parsing: ##"{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}"##)
        let errors = schema.validate(.number(1))
        #expect(errors.contains { $0.message.contains("cycle") })
    }
}
