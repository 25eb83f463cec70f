import JSONValues
import ServiceKit

/// Writes a JSON object member by member, in order, where some members are JSON text kept as
/// written (a profile's schema): the request bodies sent to providers.
struct JSONObjectWriter {
    private var text = "{"
    private var empty = true

    mutating func add(_ key: String, _ value: JSONValue) {
        addRaw(key, value.canonicalText)
    }

    mutating func add(_ key: String, _ value: String) {
        addRaw(key, JSONValue.quoted(value))
    }

    mutating func add(_ key: String, _ value: Int) {
        addRaw(key, String(value))
    }

    mutating func add(_ key: String, _ value: Bool) {
        addRaw(key, value ? "true" : "false")
    }

    /// `json` must be well-formed JSON text.
    mutating func addRaw(_ key: String, _ json: String) {
        if !empty { text += "," }
        text += JSONValue.quoted(key) + ":" + json
        empty = false
    }

    var result: String { text + "}" }

    static func object(_ build: (inout JSONObjectWriter) -> Void) -> String {
        var writer = JSONObjectWriter()
        build(&writer)
        return writer.result
    }
}
