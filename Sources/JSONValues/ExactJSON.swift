/// A JSON value parsed without loss: numbers keep the literal text they were written with.
///
/// ``JSONValue`` reads numbers as `Double`, which changes `9007199254740993` into
/// `9007199254740992` and refuses `1e-400`; a hub that stores and forwards payloads must hand
/// back exactly what it was given. This parser checks the text against RFC 8259 (numbers by
/// the grammar, not by what a `Double` can hold) and keeps each number's literal, so
/// ``canonicalText`` differs from the input only in whitespace and the order of object keys.
public enum ExactJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's literal, as written (it matches the JSON number grammar).
    case number(String)
    case string(String)
    case array([ExactJSON])
    /// Members in the order written; a repeated key keeps its last value, as ``JSONValue`` does.
    case object([String: ExactJSON])

    /// Why a text is not one JSON value, and where.
    public struct SyntaxError: Error, Equatable, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// Nesting deeper than this is refused (the parser recurses once per level).
    public static let maximumDepth = 256

    /// Parses UTF-8 text holding exactly one JSON value (whitespace around it allowed).
    public static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(SyntaxError) -> ExactJSON {
        let array = Array(bytes)
        var parser = Parser(bytes: array)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == array.count else { throw SyntaxError(offset: parser.position, reason: "unexpected text after the value") }
        return value
    }

    public static func parse(_ text: String) throws(SyntaxError) -> ExactJSON {
        try parse(text.utf8)
    }

    /// Compact JSON with object keys sorted and numbers as written: equal values have equal
    /// text, and nothing of the value is lost.
    public var canonicalText: String {
        var output = ""
        appendCanonical(to: &output)
        return output
    }

    func appendCanonical(to output: inout String) {
        switch self {
        case .null: output += "null"
        case .bool(let value): output += value ? "true" : "false"
        case .number(let literal): output += literal
        case .string(let value): JSONValue.appendQuoted(value, to: &output)
        case .array(let values): JSONValue.appendCanonicalArray(values, to: &output) { $0.appendCanonical(to: &$1) }
        case .object(let members): JSONValue.appendCanonicalObject(members, to: &output) { $0.appendCanonical(to: &$1) }
        }
    }

    /// The value with numbers as `Double`s (lossy: for reading settings out of a frame).
    public var jsonValue: JSONValue {
        switch self {
        case .null: .null
        case .bool(let value): .bool(value)
        case .number(let literal): Double(literal).map(JSONValue.number) ?? .null
        case .string(let value): .string(value)
        case .array(let values): .array(values.map(\.jsonValue))
        case .object(let members): .object(members.mapValues(\.jsonValue))
        }
    }

    public var objectValue: [String: ExactJSON]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The number when it is a whole number written without fraction or exponent that fits
    /// 64 bits; nil otherwise (`2.5`, `1e3`, `99999999999999999999`).
    public var int64Value: Int64? {
        if case .number(let literal) = self { return Int64(literal) }
        return nil
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0

        mutating func skipWhitespace() {
            while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x0A || bytes[position] == 0x0D || bytes[position] == 0x09 {
                position += 1
            }
        }

        func fail(_ reason: String) -> SyntaxError { SyntaxError(offset: position, reason: reason) }

        mutating func value(depth: Int) throws(SyntaxError) -> ExactJSON {
            guard position < bytes.count else { throw fail("unexpected end of text") }
            switch bytes[position] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw fail("unexpected character")
            }
        }

        mutating func literal(_ word: String) throws(SyntaxError) {
            let expected = Array(word.utf8)
            guard position + expected.count <= bytes.count else { throw fail("unexpected end of text") }
            for index in expected.indices where bytes[position + index] != expected[index] { throw fail("unexpected character") }
            position += expected.count
        }

        mutating func object(depth: Int) throws(SyntaxError) -> ExactJSON {
            guard depth <= ExactJSON.maximumDepth else { throw fail("nested too deeply") }
            position += 1
            var members: [String: ExactJSON] = [:]
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                position += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                let key = try string()
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                position += 1
                skipWhitespace()
                members[key] = try value(depth: depth)
                skipWhitespace()
                guard position < bytes.count else { throw fail("unexpected end of text") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                throw fail("expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> ExactJSON {
            guard depth <= ExactJSON.maximumDepth else { throw fail("nested too deeply") }
            position += 1
            var values: [ExactJSON] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                position += 1
                return .array(values)
            }
            while true {
                skipWhitespace()
                values.append(try value(depth: depth))
                skipWhitespace()
                guard position < bytes.count else { throw fail("unexpected end of text") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(values) }
                throw fail("expected ',' or ']'")
            }
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() throws(SyntaxError) -> String {
            let start = position
            func digit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
            func digits() throws(SyntaxError) {
                guard position < bytes.count, digit(bytes[position]) else { throw fail("expected a digit") }
                while position < bytes.count, digit(bytes[position]) { position += 1 }
            }
            if bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard position < bytes.count, digit(bytes[position]) else { throw fail("expected a digit") }
            if bytes[position] == UInt8(ascii: "0") {
                position += 1
                if position < bytes.count, digit(bytes[position]) { throw fail("leading zero") }
            } else {
                try digits()
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
                position += 1
                try digits()
            }
            if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
                position += 1
                if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
                try digits()
            }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func string() throws(SyntaxError) -> String {
            position += 1
            let start = position
            // Most strings have no escape: checked and copied whole.
            while position < bytes.count {
                let byte = bytes[position]
                if byte == UInt8(ascii: "\"") {
                    defer { position += 1 }
                    return try utf8(bytes[start..<position], at: start)
                }
                if byte == UInt8(ascii: "\\") { break }
                if byte < 0x20 { throw fail("control character in a string") }
                position += 1
            }
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: try utf8(bytes[start..<position], at: start).unicodeScalars)
            while position < bytes.count {
                let byte = bytes[position]
                switch byte {
                case UInt8(ascii: "\""):
                    position += 1
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    position += 1
                    guard position < bytes.count else { throw fail("unexpected end of text") }
                    let escape = bytes[position]
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""): scalars.append("\"")
                    case UInt8(ascii: "\\"): scalars.append("\\")
                    case UInt8(ascii: "/"): scalars.append("/")
                    case UInt8(ascii: "b"): scalars.append("\u{08}")
                    case UInt8(ascii: "f"): scalars.append("\u{0C}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "u"): scalars.append(try unicodeEscape())
                    default: throw fail("invalid escape")
                    }
                default:
                    if byte < 0x20 { throw fail("control character in a string") }
                    let runStart = position
                    while position < bytes.count, bytes[position] != UInt8(ascii: "\""), bytes[position] != UInt8(ascii: "\\"), bytes[position] >= 0x20 {
                        position += 1
                    }
                    scalars.append(contentsOf: try utf8(bytes[runStart..<position], at: runStart).unicodeScalars)
                }
            }
            throw fail("unterminated string")
        }

        /// After `\u`: four hex digits, a surrogate pair as two escapes.
        mutating func unicodeEscape() throws(SyntaxError) -> Unicode.Scalar {
            let high = try hex4()
            if (0xD800..<0xDC00).contains(high) {
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                    throw fail("lone surrogate in a \\u escape")
                }
                position += 2
                let low = try hex4()
                guard (0xDC00..<0xE000).contains(low) else { throw fail("lone surrogate in a \\u escape") }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
            }
            guard let scalar = Unicode.Scalar(high) else { throw fail("lone surrogate in a \\u escape") }
            return scalar
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            guard position + 4 <= bytes.count else { throw fail("unexpected end of text") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw fail("invalid \\u escape")
                }
                value = value << 4 | digit
                position += 1
            }
            return value
        }

        func utf8(_ slice: ArraySlice<UInt8>, at offset: Int) throws(SyntaxError) -> String {
            guard let text = String(validating: slice, as: UTF8.self) else { throw SyntaxError(offset: offset, reason: "invalid UTF-8") }
            return text
        }
    }
}
