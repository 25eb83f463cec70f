public import Foundation

/// Finds a file or folder that SwiftPM copies into a target's resource bundle, without
/// `Bundle.module` (which stops the process when the bundle is missing): next to the running
/// executable first, then in the source tree the binary was built from.
public enum BundledResource {
    /// The places `path` may be, most likely first.
    ///
    /// - Parameters:
    ///   - bundle: the bundle's folder name, `<package>_<target>.resources`.
    ///   - path: the resource inside the bundle (`openapi.json`, `console`).
    ///   - sourceFolder: the target's `Resources` folder in the source tree.
    public static func candidates(bundle: String, path: String, sourceFolder: URL) -> [URL] {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return [
            executable.deletingLastPathComponent().appendingPathComponent(bundle).appendingPathComponent(path),
            Bundle.main.bundleURL.appendingPathComponent(bundle).appendingPathComponent(path),
            Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(bundle).appendingPathComponent(path),
            sourceFolder.appendingPathComponent(path),
        ]
    }

    /// The first of ``candidates(bundle:path:sourceFolder:)`` that exists.
    public static func locate(bundle: String, path: String, sourceFolder: URL) -> URL? {
        candidates(bundle: bundle, path: path, sourceFolder: sourceFolder).first { FileManager.default.fileExists(atPath: $0.path) }
    }
}
