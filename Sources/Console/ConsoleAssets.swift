import CompressNIO
import Crypto
public import Foundation
public import NIOCore
import ServiceKit

/// The console's files, read once at start-up: each with its content type, a strong `ETag`
/// derived from its bytes and, where compression pays, a gzip copy made up front, so serving
/// a file never reads the disk or compresses anything.
public struct ConsoleAssets: Sendable {
    /// One file as served.
    public struct Asset: Sendable {
        public let name: String
        public let contentType: String
        public let body: ByteBuffer
        /// The gzip representation, when it is smaller than the file.
        public let gzipped: ByteBuffer?
        /// The `ETag` of the identity representation; the gzip one appends `-gz`.
        public let etag: String

        func etag(gzipped: Bool) -> String {
            gzipped ? String(etag.dropLast()) + "-gz\"" : etag
        }
    }

    /// The files by name (`index.html`, `app.js`).
    public let files: [String: Asset]

    public init(files: [String: Asset]) {
        self.files = files
    }

    public subscript(name: String) -> Asset? { files[name] }

    static let resourceBundle = "rpgbot_Console.resources"

    /// Where the console's files are: the resource bundle next to the executable, else the
    /// source tree the binary was built from.
    public static func locate() -> URL? {
        BundledResource.locate(
            bundle: resourceBundle, path: "console",
            sourceFolder: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources")
        )
    }

    /// Reads every file of `folder` (not its subfolders: the console is one flat folder).
    public static func load(from folder: URL) throws -> ConsoleAssets {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { !$0.hasPrefix(".") }
        var files: [String: Asset] = [:]
        for name in names {
            let url = folder.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            files[name] = try asset(named: name, bytes: try Data(contentsOf: url))
        }
        return ConsoleAssets(files: files)
    }

    static func asset(named name: String, bytes: Data) throws -> Asset {
        let type = contentType(of: name)
        let body = ByteBuffer(bytes: bytes)
        var gzipped: ByteBuffer?
        if type.compressible {
            var source = body
            let compressed = try source.compress(with: .gzip())
            if compressed.readableBytes < body.readableBytes { gzipped = compressed }
        }
        let digest = SHA256.hash(data: bytes).prefix(12).hexString
        return Asset(name: name, contentType: type.name, body: body, gzipped: gzipped, etag: "\"\(digest)\"")
    }

    /// Content types by extension; text types are worth compressing, images are not.
    static func contentType(of name: String) -> (name: String, compressible: Bool) {
        switch (name as NSString).pathExtension.lowercased() {
        case "html": ("text/html; charset=utf-8", true)
        case "css": ("text/css; charset=utf-8", true)
        case "js", "mjs": ("text/javascript; charset=utf-8", true)
        case "json": ("application/json", true)
        case "svg": ("image/svg+xml", true)
        case "png": ("image/png", false)
        case "txt", "md": ("text/plain; charset=utf-8", true)
        default: ("application/octet-stream", false)
        }
    }
}
