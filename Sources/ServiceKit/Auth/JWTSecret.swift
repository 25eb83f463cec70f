public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the token-signing secret comes from: `RPGBOT_JWT_SECRET`, or a file generated once
/// in the data folder so that tokens survive restarts of the embedded default.
public enum JWTSecret {
    /// Minimum secret length in bytes; HS256 keys shorter than the hash are weak.
    public static let minimumLength = 32
    public static let fileName = "jwt-secret"

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(path: String, reason: String)
        case tooShort(path: String)
        case cannotCreate(path: String, reason: String)

        public var description: String {
            switch self {
            case .unreadable(let path, let reason): "cannot read the JWT secret file \(path): \(reason)"
            case .tooShort(let path): "the JWT secret in \(path) is shorter than \(JWTSecret.minimumLength) bytes"
            case .cannotCreate(let path, let reason): "cannot create the JWT secret file \(path): \(reason)"
            }
        }
    }

    /// Reads `<directory>/jwt-secret`, creating it with 32 random bytes (base64, mode 0600) if it
    /// does not exist. The secret is written whole to a private temporary file and published
    /// with `link`, which is atomic and fails if the name exists: two processes starting at
    /// once agree on one secret, and neither ever reads a file the other is still writing.
    public static func loadOrCreate(in directory: URL) throws -> [UInt8] {
        let path = directory.appendingPathComponent(fileName).path
        if let existing = try read(path: path) {
            return existing
        }
        var generator = SystemRandomNumberGenerator()
        let secret = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let text = Data(secret).base64EncodedString() + "\n"
        let temporary = "\(path).\(getpid()).\(UInt64.random(in: .min ... .max, using: &generator)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw Failure.cannotCreate(path: path, reason: String(cString: strerror(errno))) }
        defer { unlink(temporary) }
        let written = text.utf8CString.withUnsafeBufferPointer { buffer in
            write(fd, buffer.baseAddress, buffer.count - 1)
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == text.utf8.count, synced else {
            throw Failure.cannotCreate(path: path, reason: String(cString: strerror(errno)))
        }
        guard link(temporary, path) == 0 else {
            let code = errno
            // Another process published its secret first: use that one.
            if code == EEXIST, let existing = try read(path: path) {
                return existing
            }
            throw Failure.cannotCreate(path: path, reason: String(cString: strerror(code)))
        }
        return secret
    }

    private static func read(path: String) throws -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw Failure.unreadable(path: path, reason: "\(error.localizedDescription)")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return nil }
        let bytes = Data(base64Encoded: text).map { [UInt8]($0) } ?? Array(text.utf8)
        guard bytes.count >= minimumLength else { throw Failure.tooShort(path: path) }
        return bytes
    }
}
