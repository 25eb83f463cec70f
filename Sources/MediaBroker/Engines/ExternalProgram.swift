import Foundation
import Subprocess
import SystemPackage

/// Runs a program with bytes on stdin and collects stdout, without blocking the concurrency
/// pool; cancelling the calling task kills the process.
///
/// Spawning goes through swift-subprocess rather than Foundation's `Process`: on Linux,
/// `Process.run()` in this toolchain's Foundation reads past a buffer while listing
/// `/proc/self/fd` and crashes the server now and then when programs are started
/// concurrently (swift-corelibs-foundation #5472, seen here under the media tests).
enum ExternalProgram {
    struct Failure: Error, CustomStringConvertible {
        let program: String
        let status: String
        let standardError: String
        var description: String { "\(program) \(status): \(standardError.prefix(300))" }
    }

    /// Output larger than this is an error rather than memory exhausted (a minute of WAV
    /// audio is about 2.6 MB).
    static let outputLimit = 256 << 20
    static let errorLimit = 64 << 10

    static func run(_ executable: URL, _ arguments: [String], input: Data = Data()) async throws -> Data {
        let result = try await Subprocess.run(
            .path(FilePath(executable.path)),
            arguments: Arguments(arguments),
            input: .data(input),
            output: .data(limit: outputLimit),
            error: .string(limit: errorLimit)
        )
        try Task.checkCancellation()
        switch result.terminationStatus {
        case .exited(0):
            return result.standardOutput
        case .exited(let code):
            throw Failure(program: executable.lastPathComponent, status: "exited with status \(code)", standardError: result.standardError ?? "")
        case .signaled(let signal):
            throw Failure(program: executable.lastPathComponent, status: "was terminated by signal \(signal)", standardError: result.standardError ?? "")
        }
    }

    /// The first executable named `name` on the PATH (or the standard Debian folders).
    static func find(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for folder in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/bin"] {
            let candidate = URL(fileURLWithPath: folder).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }
}
