import JSONValues
import ServiceKit
import Testing
@testable import Genlayers

@Suite("Schema text sent to providers")
struct SchemaTextTests {
    @Test("keeps member order and drops $schema and $id at the top only")
    func keepsOrder() throws {
        let text = """
            {
              "$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": "https://example.com/x",
              "type": "object",
              "properties": { "narration": {"type": "string", "description": "a \\"quoted\\" word"}, "choices": {"type": "array", "items": {"$id": "kept"}} },
              "required": ["narration", "choices"]
            }
            """
        let compact = try SchemaText.compact(text)
        #expect(compact == #"{"type":"object","properties":{"narration":{"type":"string","description":"a \"quoted\" word"},"choices":{"type":"array","items":{"$id":"kept"}}},"required":["narration","choices"]}"#)
    }

    @Test("rejects malformed text")
    func rejectsMalformed() {
        #expect(throws: SchemaText.MalformedJSON.self) { try SchemaText.compact(#"{"a": [1, 2}"#) }
        #expect(throws: SchemaText.MalformedJSON.self) { try SchemaText.compact(#"{"a": 1} trailing"#) }
    }
}

@Suite("Reading a model's answer")
struct AnswerParserTests {
    @Test("code fences and raw line breaks in strings are forgiven; anything else is not")
    func lenientButNotLoose() throws {
        #expect(try AnswerParser.parse("```json\n{\"a\": 1}\n```") == .object(["a": .number(1)]))
        #expect(try AnswerParser.parse("{\"line\": \"two\nlines\\n\tand a tab\"}") == .object(["line": .string("two\nlines\n\tand a tab")]))
        #expect(throws: AnswerParser.Failure.self) { try AnswerParser.parse(#"{"a": }"#) }
        #expect(throws: AnswerParser.Failure.self) { try AnswerParser.parse("Sure! {\"a\": 1}") }
        #expect(throws: AnswerParser.Failure.self) { try AnswerParser.parse("") }
        // Valid pairs and ordinary escapes stay; lone surrogates and short escapes become U+FFFD.
        #expect(AnswerParser.replaceBadUnicodeEscapes(#"{"a":"\ud83d\ude00 \n \u00e9"}"#) == #"{"a":"\ud83d\ude00 \n \u00e9"}"#)
        #expect(AnswerParser.replaceBadUnicodeEscapes(#"{"a":"\ude00 \ud83dx \u12"}"#) == #"{"a":"\ufffd \ufffdx \ufffd12"}"#)
    }
}
