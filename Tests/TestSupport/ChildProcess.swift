public import Foundation
import Subprocess
import Synchronization
import SystemPackage

/// A child process whose stdout is collected line by line and stderr as text, both written to
/// files and read as they grow, so a chatty child never blocks on a full pipe. ``ChildProcess/rpgbot(_:environment:standardInput:currentDirectory:)``
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

    private struct State {
        var status: Int32?
        /// Bytes of the stdout file already split into lines.
        var outputRead = 0
        var partialLine = ""
        var lines: [String] = []
    }

    /// The state the launching task updates: a class, so the task can hold it before `self`
    /// exists.
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared = Shared()
    private let folder: URL
    private let outputFile: URL
    private let errorFile: URL
    private let executableName: String
    public let processIdentifier: Int32

    /// Starts `rpgbot` with `arguments`; the environment is this process's (minus RPGBOT_* and
    /// OTEL_* so tests are hermetic) plus `environment`.
    public static func rpgbot(_ arguments: [String], environment: [String: String] = [:], standardInput: String? = nil, currentDirectory: URL? = nil) async throws -> ChildProcess {
        try await ChildProcess(executable: executableURL, arguments: arguments, environment: environment, standardInput: standardInput, currentDirectory: currentDirectory)
    }

    /// Starts `executable`; the environment is this process's (minus RPGBOT_*, OTEL_* and
    /// ENABLE_METRICS, so tests are hermetic) plus `environment`. stdout and stderr go to files
    /// read as they grow, so a chatty child never blocks on a full pipe. Started through
    /// swift-subprocess: Foundation's `Process.run()` crashes now and then on Linux.
    /// - Parameters:
    ///   - standardInput: text fed to the process's stdin (then closed); none by default.
    ///   - currentDirectory: the working folder; this process's by default.
    public init(executable: URL, arguments: [String], environment: [String: String] = [:], standardInput: String? = nil, currentDirectory: URL? = nil) async throws {
        var base = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("RPGBOT_") && !key.hasPrefix("OTEL_") && key != "ENABLE_METRICS"
        }
        base.merge(environment) { _, new in new }
        var variables: [Environment.Key: String] = [:]
        for (key, value) in base { variables[Environment.Key(stringLiteral: key)] = value }
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("rpgbot-child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        outputFile = folder.appendingPathComponent("stdout")
        errorFile = folder.appendingPathComponent("stderr")
        executableName = executable.lastPathComponent
        let output = try FileDescriptor.open(FilePath(outputFile.path), .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
        let errors = try FileDescriptor.open(FilePath(errorFile.path), .writeOnly, options: [.create, .truncate], permissions: .ownerReadWrite)
        let started = AsyncStream<Result<Int32, any Error>>.makeStream()
        let shared = self.shared
        let input = Data((standardInput ?? "").utf8)
        Task.detached {
            var status: Int32 = -1
            do {
                let result = try await Subprocess.run(
                    .path(FilePath(executable.path)), arguments: Arguments(arguments), environment: .custom(variables),
                    workingDirectory: currentDirectory.map { FilePath($0.path) },
                    input: .data(input),
                    output: .fileDescriptor(output, closeAfterSpawningProcess: true),
                    error: .fileDescriptor(errors, closeAfterSpawningProcess: true)
                ) { execution in
                    started.continuation.yield(.success(execution.processIdentifier.value))
                }
                switch result.terminationStatus {
                case .exited(let code): status = code
                case .signaled(let signal): status = signal
                }
            } catch {
                started.continuation.yield(.failure(error))
            }
            shared.state.withLock { $0.status = status }
            started.continuation.finish()
        }
        var launched: Result<Int32, any Error> = .failure(TestSetupError("\(executable.lastPathComponent) did not start"))
        for await outcome in started.stream {
            launched = outcome
            break
        }
        processIdentifier = try launched.get()
    }

    /// Reads what the child wrote to stdout since the last look.
    private func readOutput() {
        guard let handle = try? FileHandle(forReadingFrom: outputFile) else { return }
        defer { try? handle.close() }
        shared.state.withLock { state in
            try? handle.seek(toOffset: UInt64(state.outputRead))
            guard let data = try? handle.readToEnd(), !data.isEmpty else { return }
            state.outputRead += data.count
            state.partialLine += String(decoding: data, as: UTF8.self)
            var lines = state.partialLine.components(separatedBy: "\n")
            state.partialLine = lines.removeLast()
            state.lines.append(contentsOf: lines)
        }
    }

    /// The complete stdout lines so far.
    public var lines: [String] {
        readOutput()
        return shared.state.withLock { $0.lines }
    }

    public var standardError: String {
        (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
    }

    public var isRunning: Bool { shared.state.withLock { $0.status == nil } }

    /// The exit status, or the signal that ended the process; nil while it runs.
    public var terminationStatus: Int32? { shared.state.withLock { $0.status } }

    /// Waits until a stdout line satisfies `predicate`, or fails after `timeout`.
    @discardableResult
    public func waitForLine(timeout: Duration = .seconds(30), _ predicate: (String) -> Bool) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = lines.first(where: predicate) { return line }
            if !isRunning {
                if let line = lines.first(where: predicate) { return line }
                throw TestSetupError("\(executableName) exited (\(terminationStatus ?? -1)) before the expected line; stderr: \(standardError); stdout: \(lines.suffix(5))")
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
        while isRunning {
            if ContinuousClock.now > deadline {
                kill(processIdentifier, SIGKILL)
                throw TestSetupError("\(executableName) did not exit in time")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // The files hold everything now: keep an unterminated last line too.
        readOutput()
        shared.state.withLock { state in
            if !state.partialLine.isEmpty {
                state.lines.append(state.partialLine)
                state.partialLine = ""
            }
        }
        return terminationStatus ?? -1
    }

    /// Sends `signal` (SIGTERM by default) and waits for the exit status.
    public func stop(signal: Int32 = SIGTERM, timeout: Duration = .seconds(30)) async throws -> Int32 {
        if isRunning {
            kill(processIdentifier, signal)
        }
        return try await waitForExit(timeout: timeout)
    }

    deinit {
        if shared.state.withLock({ $0.status == nil }) {
            kill(processIdentifier, SIGKILL)
        }
        try? FileManager.default.removeItem(at: folder)
    }

    /// Runs `rpgbot` to completion and returns its exit status, stdout and stderr.
    public static func runRPGBot(_ arguments: [String], environment: [String: String] = [:], standardInput: String? = nil, currentDirectory: URL? = nil, timeout: Duration = .seconds(60)) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try await ChildProcess.rpgbot(arguments, environment: environment, standardInput: standardInput, currentDirectory: currentDirectory)
        let status = try await process.waitForExit(timeout: timeout)
        return (status, process.lines.joined(separator: "\n"), process.standardError)
    }

    /// Runs any program to completion and returns its exit status, stdout and stderr.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try await ChildProcess(executable: URL(fileURLWithPath: executable), arguments: arguments, environment: environment)
        let status = try await process.waitForExit(timeout: timeout)
        return (status, process.lines.joined(separator: "\n"), process.standardError)
    }
}
