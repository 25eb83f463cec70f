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

    /// The member order of every object in well-formed JSON text, keyed by the object's JSON
    /// Pointer (`""` for the root, `/properties/location` for a nested one).
    static func memberOrder(of text: String) -> [String: [String]] {
        var scanner = Scanner(bytes: Array(text.utf8))
        scanner.order = [:]
        var output: [UInt8] = []
        scanner.skipWhitespace()
        guard (try? scanner.copyValue(into: &output, depth: 0, dropping: [])) != nil else { return [:] }
        return scanner.order ?? [:]
    }

    /// Compact text of `value` with each object's members in the order `order` records for its
    /// pointer (see ``memberOrder(of:)``); members it does not know follow, sorted.
    static func text(of value: JSONValue, order: [String: [String]]) -> String {
        var output = ""
        append(value, at: "", order: order, to: &output)
        return output
    }

    private static func append(_ value: JSONValue, at pointer: String, order: [String: [String]], to output: inout String) {
        switch value {
        case .object(let members):
            let known = (order[pointer] ?? []).filter { members[$0] != nil }
            let rest = members.keys.filter { !known.contains($0) }.sorted()
            output += "{"
            for (index, key) in (known + rest).enumerated() {
                if index > 0 { output += "," }
                output += JSONValue.quoted(key)
                output += ":"
                append(members[key]!, at: pointer + "/" + JSONValue.escapePointerToken(key), order: order, to: &output)
            }
            output += "}"
        case .array(let items):
            output += "["
            for (index, item) in items.enumerated() {
                if index > 0 { output += "," }
                append(item, at: pointer + "/\(index)", order: order, to: &output)
            }
            output += "]"
        default:
            output += value.canonicalText
        }
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        /// When not nil, collects each object's member order by pointer.
        var order: [String: [String]]?
        var path = ""

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
            var names: [String] = []
            defer { order?[path] = names }
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
                let name = String(decoding: key.dropFirst().dropLast(), as: UTF8.self)
                names.append(name)
                let parent = path
                path = parent + "/" + JSONValue.escapePointerToken(name)
                try copyValue(into: &value, depth: depth + 1, dropping: dropping)
                path = parent
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
            let parent = path
            defer { path = parent }
            var position = 0
            while true {
                skipWhitespace()
                path = parent + "/\(position)"
                position += 1
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
