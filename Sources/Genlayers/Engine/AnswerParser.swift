import JSONValues
import Foundation
import ServiceKit

/// Reads a model's answer as JSON, forgiving two habits of models that do not change what the
/// answer means: a Markdown code fence around the JSON, and raw control characters (a real
/// line break) inside string literals, which strict JSON forbids and grammar-constrained local
/// servers let through. Everything else must be well-formed; the schema check follows.
enum AnswerParser {
    struct Failure: Error {
        let reason: String
    }

    static func parse(_ answer: String) throws(Failure) -> JSONValue {
        let text = stripCodeFence(answer)
        if let value = try? JSONValue.parse(text) { return value }
        let repaired = escapeControlCharactersInStrings(text)
        if repaired != text, let value = try? JSONValue.parse(repaired) { return value }
        throw Failure(reason: problem(in: text))
    }

    /// Models sometimes wrap JSON in a Markdown fence even in JSON mode.
    static func stripCodeFence(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.hasPrefix("```"), trimmed.hasSuffix("```"), trimmed.count > 6 else { return trimmed }
        var body = trimmed.dropFirst(3).dropLast(3)
        if let newline = body.firstIndex(of: "\n") { body = body[body.index(after: newline)...] }
        return String(body)
    }

    /// U+0000–U+001F inside string literals, written as their JSON escapes.
    static func escapeControlCharactersInStrings(_ text: String) -> String {
        var output = String.UnicodeScalarView()
        var inString = false
        var escaped = false
        for scalar in text.unicodeScalars {
            if inString {
                if escaped {
                    escaped = false
                } else if scalar == "\\" {
                    escaped = true
                } else if scalar == "\"" {
                    inString = false
                } else if scalar.value < 0x20 {
                    let escape: String =
                        switch scalar {
                        case "\n": "\\n"
                        case "\r": "\\r"
                        case "\t": "\\t"
                        default: String(format: "\\u%04x", scalar.value)
                        }
                    output.append(contentsOf: escape.unicodeScalars)
                    continue
                }
            } else if scalar == "\"" {
                inString = true
            }
            output.append(scalar)
        }
        return String(output)
    }

    /// Foundation's parser names the place ("Unexpected character around line 1, column 12"),
    /// which helps a model more than "not a JSON value".
    static func problem(in text: String) -> String {
        if text.isEmpty { return "the answer is empty" }
        do {
            _ = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            return "malformed JSON"
        } catch {
            return (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "malformed JSON"
        }
    }
}
