import Crypto
import ServiceKit
public import Foundation

/// Artifacts by content: `<folder>/<first two hex digits>/<sha256>.<extension>`. Written to a
/// temporary file in the same folder and renamed into place, so a crash never leaves half a
/// file under a name a succeeded job points to; identical bytes are stored once.
public struct ArtifactStore: Sendable {
    public let folder: URL

    public init(folder: URL) {
        self.folder = folder
    }

    static let contentTypes = ["wav": "audio/wav", "ogg": "audio/ogg", "mp3": "audio/mpeg", "png": "image/png", "jpg": "image/jpeg"]

    /// Stores the bytes (unless already there) and returns their reference.
    public func write(_ output: MediaOutput) throws -> ArtifactReference {
        let sha = SHA256.hash(data: output.data).hexString
        let directory = folder.appendingPathComponent(String(sha.prefix(2)), isDirectory: true)
        let target = directory.appendingPathComponent("\(sha).\(output.fileExtension)")
        if !FileManager.default.fileExists(atPath: target.path) {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let temporary = directory.appendingPathComponent(".\(sha).\(UUID().uuidString).partial")
            try output.data.write(to: temporary)
            // rename(2) within one folder is atomic: the name appears with all its bytes.
            if rename(temporary.path, target.path) != 0 {
                try? FileManager.default.removeItem(at: temporary)
                throw CocoaError(.fileWriteUnknown)
            }
        }
        return ArtifactReference(sha256: sha, contentType: output.contentType, bytes: output.data.count)
    }

    /// Deletes temporary files a crash left behind (they were never renamed into place).
    public func removePartialFiles() {
        guard let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return }
        for case let url as URL in enumerator where url.lastPathComponent.hasSuffix(".partial") {
            try? FileManager.default.removeItem(at: url)
        }
    }

    /// The stored file for a SHA-256 (64 lower-case hex digits), with its content type.
    public func locate(_ sha: String) -> (url: URL, contentType: String)? {
        guard Self.isSHA256(sha) else { return nil }
        let directory = folder.appendingPathComponent(String(sha.prefix(2)), isDirectory: true)
        guard let name = (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.first(where: { $0.hasPrefix(sha + ".") }) else { return nil }
        let fileExtension = String(name.dropFirst(sha.count + 1))
        return (directory.appendingPathComponent(name), Self.contentTypes[fileExtension] ?? "application/octet-stream")
    }

    public static func isSHA256(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
