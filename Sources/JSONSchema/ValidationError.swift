/// One reason an instance does not satisfy a schema, precise enough for a model to fix it.
public struct ValidationError: Sendable, Equatable, CustomStringConvertible {
    /// JSON Pointer to the offending part of the instance (`""` for the whole).
    public let instanceLocation: String
    /// Where the failing keyword is: `#/pointer` inside the schema itself, or the absolute
    /// `uri#/pointer` of a referenced document.
    public let schemaLocation: String
    public let message: String

    public init(instanceLocation: String, schemaLocation: String, message: String) {
        self.instanceLocation = instanceLocation
        self.schemaLocation = schemaLocation
        self.message = message
    }

    public var description: String {
        "\(instanceLocation.isEmpty ? "(root)" : instanceLocation): \(message) [\(schemaLocation)]"
    }
}
