import Crypto

/// Lower-case hex SHA-256 of UTF-8 text.
enum SHA256Hex {
    static func digest(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
