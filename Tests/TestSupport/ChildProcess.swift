public import Foundation
import Synchronization

/// A child process whose stdout is collected line by line and stderr as text, read as it
/// arrives so a chatty child never blocks on a full pipe. ``ChildProcess/rpgbot(_:environment:)``
/// runs the `rpgbot` executable built by `swift build` the way an operator runs it.
public final class ChildProcess: Sendable {
    /// `.build/debug/rpgbot` next to the test bundle (or `RPGBOT_BINARY`).
    public static var executableURL: URL {
        if let path = ProcessInfo.processInfo.environment["RPGBOT_BINARY"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for configuration in ["debug", "release"] {
            let candidate = packageRoot.appendingPathComponent(".build/\(configuration)/rpgbot")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return packageRoot.appendingPathComponent(".build/debug/rpgbot")
    }

    let process: Process
    let outputLines = Mutex<[String]>([])
    let errorText = Mutex<String>("")
    let partialLine = Mutex<String>("")

    /// Starts `rpgbot` with `arguments`; the environment is this process's (minus RPGBOT_* and
    /// OTEL_* so tests are hermetic) plus `environment`.
    public static func rpgbot(_ arguments: [String], environment: [String: String] = [:], standardInput: String? = nil, currentDirectory: URL? = nil) throws -> ChildProcess {
        try ChildProcess(executable: executableURL, arguments: arguments, environment: environment, standardInput: standardInput, currentDirectory: currentDirectory)
    }

    /// Starts `executable`; the environment is this process's (minus RPGBOT_*, OTEL_* and
    /// ENABLE_METRICS, so tests are hermetic) plus `environment`.
    /// - Parameters:
    ///   - standardInput: text fed to the process's stdin (then closed); none by default.
    ///   - currentDirectory: the working folder; this process's by default.
    public init(executable: URL, arguments: [String], environment: [String: String] = [:], standardInput: String? = nil, currentDirectory: URL? = nil) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var base = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("RPGBOT_") && !key.hasPrefix("OTEL_") && key != "ENABLE_METRICS"
        }
        base.merge(environment) { _, new in new }
        process.environment = base
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        let input = Pipe()
        process.standardInput = standardInput == nil ? FileHandle.nullDevice : input
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        self.process = process
        stdout.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.append(String(decoding: data, as: UTF8.self))
        }
        stderr.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.errorText.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        if let standardInput {
            input.fileHandleForWriting.write(Data(standardInput.utf8))
            try input.fileHandleForWriting.close()
        }
    }

    private func append(_ text: String) {
        let complete: [String] = partialLine.withLock { partial in
            partial += text
            var lines = partial.components(separatedBy: "\n")
            partial = lines.removeLast()
            return lines
        }
        if !complete.isEmpty {
            outputLines.withLock { $0.append(contentsOf: complete) }
        }
    }

    /// The complete stdout lines so far.
    public var lines: [String] { outputLines.withLock { $0 } }

    public var standardError: String { errorText.withLock { $0 } }

    public var isRunning: Bool { process.isRunning }

    public var processIdentifier: Int32 { process.processIdentifier }

    /// Waits until a stdout line satisfies `predicate`, or fails after `timeout`.
    @discardableResult
    public func waitForLine(timeout: Duration = .seconds(30), _ predicate: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = lines.first(where: predicate) { return line }
            if !process.isRunning {
                try await Task.sleep(for: .milliseconds(100))
                if let line = lines.first(where: predicate) { return line }
                throw TestSetupError("\(process.executableURL?.lastPathComponent ?? "child") exited (\(process.terminationStatus)) before the expected line; stderr: \(standardError); stdout: \(lines.suffix(5))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSetupError("timed out waiting for a line; stdout so far: \(lines.suffix(10))")
    }

    /// Waits for the "listening" log line of `serve` and returns the bound port.
    public func waitUntilListening(timeout: Duration = .seconds(60)) async throws -> Int {
        let line = try await waitForLine(timeout: timeout) { $0.contains("listening on") }
        guard let range = line.range(of: #"listening on [^"]*:(\d+)"#, options: .regularExpression) else {
            throw TestSetupError("no port in \(line)")
        }
        let match = line[range]
        guard let colon = match.lastIndex(of: ":"), let port = Int(match[match.index(after: colon)...]) else {
            throw TestSetupError("no port in \(line)")
        }
        return port
    }

    /// Waits for the process to exit and returns its status.
    public func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.interrupt()
                kill(process.processIdentifier, SIGKILL)
                throw TestSetupError("\(process.executableURL?.lastPathComponent ?? "child") did not exit in time")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Let the pipes deliver the last bytes, then keep an unterminated last line too.
        try await Task.sleep(for: .milliseconds(100))
        let rest = partialLine.withLock { partial in
            defer { partial = "" }
            return partial
        }
        if !rest.isEmpty {
            outputLines.withLock { $0.append(rest) }
        }
        return process.terminationStatus
    }

    /// Sends `signal` (SIGTERM by default) and waits for the exit status.
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(30)) async throws -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, signal)
        }
        return try await waitForExit(timeout: timeout)
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
    }

    /// Runs `rpgbot` to completion and returns its exit status, stdout and stderr.
    public static func runRPGBot(_ arguments: [String], environment: [String: String] = [:], standardInput: String? = nil, currentDirectory: URL? = nil, timeout: Duration = .seconds(60)) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try ChildProcess.rpgbot(arguments, environment: environment, standardInput: standardInput, currentDirectory: currentDirectory)
        let status = try await process.waitForExit(timeout: timeout)
        return (status, process.lines.joined(separator: "\n"), process.standardError)
    }
}
