public import Hummingbird

/// Validation of the ids that appear in paths and bodies: `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`.
///
/// Ids become file names, database keys and metric labels, so anything outside this alphabet
/// is refused at the edge with a 400 problem rather than escaped later.
public enum PathIdentifier {
    public static let maximumLength = 64

    public static func isValid(_ id: some StringProtocol) -> Bool {
        let utf8 = id.utf8
        guard let first = utf8.first, utf8.count <= maximumLength, isAlphanumeric(first) else { return false }
        return utf8.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

extension Parameters {
    /// Returns the path parameter `name` after checking it is a valid id; a 400 problem otherwise.
    public func requireID(_ name: String) throws -> String {
        guard let value = self.get(name) else {
            throw APIError.badRequest("The path parameter \(name) is missing.", code: "invalid_id")
        }
        guard PathIdentifier.isValid(value) else {
            throw APIError(
                .badRequest,
                code: "invalid_id",
                detail: "\(name) must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$.",
                errors: [.init(pointer: "/path/\(name)", detail: "must be 1–64 letters, digits, '_' or '-', starting with a letter or digit")]
            )
        }
        return value
    }
}
