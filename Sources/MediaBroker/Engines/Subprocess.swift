import Foundation

/// Runs a program with bytes on stdin and collects stdout, without blocking the concurrency
/// pool; cancelling the calling task terminates the process.
enum Subprocess {
    struct Failure: Error, CustomStringConvertible {
        let program: String
        let status: Int32
        let standardError: String
        var description: String { "\(program) exited with status \(status): \(standardError.prefix(300))" }
    }

    static func run(_ executable: URL, _ arguments: [String], input: Data = Data()) async throws -> Data {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        let exited = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { process in
            exited.continuation.yield(process.terminationStatus)
            exited.continuation.finish()
        }
        try process.run()
        // Output is read on its own threads so a large answer never fills the pipe and stalls.
        async let output = Task.detached { stdout.fileHandleForReading.readDataToEndOfFile() }.value
        async let errors = Task.detached { stderr.fileHandleForReading.readDataToEndOfFile() }.value
        try? stdin.fileHandleForWriting.write(contentsOf: input)
        try? stdin.fileHandleForWriting.close()
        let status = await withTaskCancellationHandler {
            var status: Int32 = -1
            for await code in exited.stream { status = code }
            return status
        } onCancel: {
            if process.isRunning { process.terminate() }
        }
        let data = await output
        let errorText = String(decoding: await errors, as: UTF8.self)
        try Task.checkCancellation()
        guard status == 0 else { throw Failure(program: executable.lastPathComponent, status: status, standardError: errorText) }
        return data
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
