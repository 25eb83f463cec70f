import JSONValues

/// The text of a schema as a provider receives it: compact, members in the order the author
/// wrote them, and without the top-level members providers reject (`$schema`, `$id`).
///
/// Order matters: strict-mode providers and grammar-constrained local servers generate the
/// properties in schema order, so a profile that puts `narration` before `choices` gets the
/// narration written first. A parsed ``ServiceKit/JSONValue`` would lose that order.
enum SchemaText {
    struct MalformedJSON: Error {}

    /// Compacts well-formed JSON text, dropping `droppedKeys` from the top-level object.
    static func compact(_ text: String, droppingTopLevel droppedKeys: Set<String> = ["$schema", "$id"]) throws -> String {
        var scanner = Scanner(bytes: Array(text.utf8))
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        scanner.skipWhitespace()
        try scanner.copyValue(into: &output, depth: 0, dropping: droppedKeys)
        scanner.skipWhitespace()
        guard scanner.atEnd else { throw MalformedJSON() }
        return String(decoding: output, as: UTF8.self)
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        var atEnd: Bool { index >= bytes.count }

        mutating func skipWhitespace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func copyValue(into output: inout [UInt8], depth: Int, dropping: Set<String>) throws {
            guard index < bytes.count else { throw MalformedJSON() }
            switch bytes[index] {
            case UInt8(ascii: "{"): try copyObject(into: &output, depth: depth, dropping: dropping)
            case UInt8(ascii: "["): try copyArray(into: &output, depth: depth)
            case UInt8(ascii: "\""): output += try readString()
            default:
                // Numbers and literals: copied up to the next delimiter.
                let start = index
                while index < bytes.count, !",]} \n\r\t".utf8.contains(bytes[index]) { index += 1 }
                guard index > start else { throw MalformedJSON() }
                output += bytes[start..<index]
            }
        }

        mutating func copyObject(into output: inout [UInt8], depth: Int, dropping: Set<String>) throws {
            index += 1
            output.append(UInt8(ascii: "{"))
            var first = true
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; output.append(UInt8(ascii: "}")); return }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw MalformedJSON() }
                let key = try readString()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw MalformedJSON() }
                index += 1
                skipWhitespace()
                var value: [UInt8] = []
                try copyValue(into: &value, depth: depth + 1, dropping: dropping)
                let name = String(decoding: key.dropFirst().dropLast(), as: UTF8.self)
                if !(depth == 0 && dropping.contains(name)) {
                    if !first { output.append(UInt8(ascii: ",")) }
                    output += key
                    output.append(UInt8(ascii: ":"))
                    output += value
                    first = false
                }
                skipWhitespace()
                guard index < bytes.count else { throw MalformedJSON() }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "}") else { throw MalformedJSON() }
                index += 1
                output.append(UInt8(ascii: "}"))
                return
            }
        }

        mutating func copyArray(into output: inout [UInt8], depth: Int) throws {
            index += 1
            output.append(UInt8(ascii: "["))
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; output.append(UInt8(ascii: "]")); return }
            while true {
                skipWhitespace()
                try copyValue(into: &output, depth: depth + 1, dropping: [])
                skipWhitespace()
                guard index < bytes.count else { throw MalformedJSON() }
                if bytes[index] == UInt8(ascii: ",") { index += 1; output.append(UInt8(ascii: ",")); continue }
                guard bytes[index] == UInt8(ascii: "]") else { throw MalformedJSON() }
                index += 1
                output.append(UInt8(ascii: "]"))
                return
            }
        }

        /// A string literal, quotes and escapes kept as written.
        mutating func readString() throws -> ArraySlice<UInt8> {
            let start = index
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\\"): index += 2
                case UInt8(ascii: "\""):
                    index += 1
                    return bytes[start..<index]
                default: index += 1
                }
            }
            throw MalformedJSON()
        }
    }
}
