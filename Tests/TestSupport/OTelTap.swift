import Foundation

/// oteltap, the OTLP/HTTP receiver from PyPI, started for one test.
public enum OTelTap {
    /// Starts oteltap on a free loopback port and returns once it says it is listening. The
    /// port is free when chosen but another process (a test server binding port 0) may take
    /// it before oteltap binds it; that start fails at once and is retried on another port.
    public static func start(awaitSpan pattern: String, attempts: Int = 5) async throws -> (receiver: ChildProcess, port: Int) {
        guard let executable = toolURL("oteltap") else { throw TestSetupError("oteltap is not installed") }
        var failures: [String] = []
        for _ in 0..<attempts {
            let port = try freeLoopbackPort()
            let receiver = try await ChildProcess(executable: executable, arguments: ["--port", String(port), "--await-span", pattern])
            let deadline = ContinuousClock.now + .seconds(30)
            while receiver.isRunning, ContinuousClock.now < deadline {
                // Printed only once its receiver is bound (`async with` has entered).
                if receiver.lines.contains(where: { $0.hasPrefix("Listening for OTLP/HTTP telemetry") }) { return (receiver, port) }
                try await Task.sleep(for: .milliseconds(20))
            }
            failures.append("port \(port): \(receiver.isRunning ? "not listening after 30 s" : receiver.standardError.suffix(300))")
            _ = try? await receiver.stop(signal: SIGKILL)
        }
        throw TestSetupError("oteltap did not start:\n\(failures.joined(separator: "\n"))")
    }
}
