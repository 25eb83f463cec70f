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
        try parse(answer, replacingBadEscapes: false).value
    }

    /// - Parameter replacingBadEscapes: a `\u` escape that is no character (a lone surrogate,
    ///   fewer than four hex digits) becomes U+FFFD instead of failing the answer; whether that
    ///   happened is returned, so that it is logged as a repair.
    static func parse(_ answer: String, replacingBadEscapes: Bool) throws(Failure) -> (value: JSONValue, replacedEscapes: Bool) {
        let text = stripCodeFence(answer)
        if let value = try? JSONValue.parse(text) { return (value, false) }
        let repaired = escapeControlCharactersInStrings(text)
        if repaired != text, let value = try? JSONValue.parse(repaired) { return (value, false) }
        if replacingBadEscapes {
            let replaced = replaceBadUnicodeEscapes(repaired)
            if replaced != repaired, let value = try? JSONValue.parse(replaced) { return (value, true) }
        }
        throw Failure(reason: problem(in: text))
    }

    /// `\u` escapes that name no character, replaced by `\ufffd`: a high surrogate not followed
    /// by a low one, a low one alone, or fewer than four hex digits.
    static func replaceBadUnicodeEscapes(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var output = String.UnicodeScalarView()
        var index = 0
        func hex(at start: Int) -> UInt32? {
            guard start + 4 <= scalars.count, scalars[start..<start + 4].allSatisfy(\.properties.isASCIIHexDigit) else { return nil }
            return UInt32(String(String.UnicodeScalarView(scalars[start..<start + 4])), radix: 16)
        }
        while index < scalars.count {
            let scalar = scalars[index]
            guard scalar == "\\", index + 1 < scalars.count else {
                output.append(scalar)
                index += 1
                continue
            }
            guard scalars[index + 1] == "u" else {
                output.append(scalar)
                output.append(scalars[index + 1])
                index += 2
                continue
            }
            let replacement = "\\ufffd".unicodeScalars
            guard let code = hex(at: index + 2) else {
                output.append(contentsOf: replacement)
                index += 2
                continue
            }
            switch code {
            case 0xD800...0xDBFF:
                if index + 12 <= scalars.count, scalars[index + 6] == "\\", scalars[index + 7] == "u", let low = hex(at: index + 8), (0xDC00...0xDFFF).contains(low) {
                    output.append(contentsOf: scalars[index..<index + 12])
                    index += 12
                } else {
                    output.append(contentsOf: replacement)
                    index += 6
                }
            case 0xDC00...0xDFFF:
                output.append(contentsOf: replacement)
                index += 6
            default:
                output.append(contentsOf: scalars[index..<index + 6])
                index += 6
            }
        }
        return String(output)
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
