/// One reason an instance does not satisfy a schema, precise enough for a model to fix it.
public struct ValidationError: Sendable, Equatable, CustomStringConvertible {
    /// JSON Pointer to the offending part of the instance (`""` for the whole).
    public let instanceLocation: String
    /// JSON Pointer to the keyword that failed, through the `$ref`s followed.
    public let schemaLocation: String
    public let message: String

    public var description: String {
        "\(instanceLocation.isEmpty ? "(root)" : instanceLocation): \(message) [\(schemaLocation)]"
    }
}
