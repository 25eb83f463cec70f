import JSONValues
import Foundation
import ServiceKit
import Testing

@Suite("ExactJSON: RFC 8259 parsing that keeps numbers as written")
struct ExactJSONTests {
    @Test("numbers keep their literal; keys are sorted; whitespace goes")
    func canonical() throws {
        let value = try ExactJSON.parse(#" { "b" : [ 9007199254740993 , 1e-400, -0.0, 1E+2 ], "a" : { "z": true, "y": null } } "#)
        #expect(value.canonicalText == #"{"a":{"y":null,"z":true},"b":[9007199254740993,1e-400,-0.0,1E+2]}"#)
    }

    @Test("without unusual numbers the canonical text equals JSONValue's")
    func agreesWithJSONValue() throws {
        for text in [#"{"a":[1,2.5,"x\n\"y\u0001"],"b":{"c":false},"d":"日本"}"#, "[]", "{}", #""\u00e9\ud83c\udfb2/""#, "-12"] {
            #expect(try ExactJSON.parse(text).canonicalText == (try JSONValue.parse(text)).canonicalText, "\(text)")
        }
    }

    @Test("whole numbers that fit 64 bits, and nothing else, read as integers")
    func integers() throws {
        #expect(try ExactJSON.parse("9223372036854775807").int64Value == .max)
        for text in ["9223372036854775808", "2.5", "1e3", "1.0"] {
            #expect(try ExactJSON.parse(text).int64Value == nil, "\(text)")
        }
    }

    @Test("text that is not JSON by the grammar is refused", arguments: [
        "", " ", "01", "-", "1.", ".5", "+1", "1e", "1e+", "NaN", "Infinity", "[1,]", "{\"a\":1,}", "{a:1}", "{\"a\" 1}",
        "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\x41\"", "\"\\u12\"", "\"tab\there\"", "\"unterminated", "[1] [2]",
        "tru", "nul", "[", "{", "\u{FEFF}{}",
    ])
    func refused(_ text: String) {
        #expect(throws: ExactJSON.SyntaxError.self) { try ExactJSON.parse(text) }
    }

    @Test("invalid UTF-8 and nesting beyond the limit are refused; the limit itself is fine")
    func limits() throws {
        #expect(throws: ExactJSON.SyntaxError.self) { try ExactJSON.parse([0x22, 0xFF, 0x22]) }
        let deep = String(repeating: "[", count: ExactJSON.maximumDepth + 1) + String(repeating: "]", count: ExactJSON.maximumDepth + 1)
        #expect(throws: ExactJSON.SyntaxError.self) { try ExactJSON.parse(deep) }
        let fine = String(repeating: "[", count: ExactJSON.maximumDepth) + String(repeating: "]", count: ExactJSON.maximumDepth)
        #expect(try ExactJSON.parse(fine).canonicalText == fine)
    }

    @Test("every valid document of the JSON Schema test suite parses like JSONValue")
    func testSuiteDocuments() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/data/json-schema-test-suite/tests/draft2020-12")
        let files = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
        try #require(!files.isEmpty, "no test suite at \(folder.path)")
        for file in files where file.pathExtension == "json" {
            let data = try Data(contentsOf: file)
            let exact = try ExactJSON.parse(data)
            // Same structure; numbers differ only where a Double cannot hold the literal.
            #expect(exact.jsonValue == (try JSONValue.parse(String(decoding: data, as: UTF8.self))), "\(file.lastPathComponent)")
        }
    }
}
