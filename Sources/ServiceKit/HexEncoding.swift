extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal, two digits per byte (digests, ids). Built from a table:
    /// `String(format: "%02x")` per byte goes through locale-aware formatting and cost more
    /// than the hashing itself.
    public var hexString: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            bytes.append(digits[Int(byte >> 4)])
            bytes.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
