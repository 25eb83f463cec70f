import Crypto
import ServiceKit

/// Lower-case hex SHA-256 of UTF-8 text.
enum SHA256Hex {
    static func digest(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).hexString
    }
}
