import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// oteltap, the OTLP/HTTP receiver from PyPI, started for one test.
public enum OTelTap {
    /// Starts oteltap on a free loopback port and returns once it accepts connections. The
    /// port is free when chosen but another process may take it before oteltap binds it; that
    /// start fails at once and is retried on another port.
    public static func start(awaitSpan pattern: String, attempts: Int = 5) async throws -> (receiver: ChildProcess, port: Int) {
        guard let executable = toolURL("oteltap") else { throw TestSetupError("oteltap is not installed") }
        var failures: [String] = []
        for _ in 0..<attempts {
            let port = try freeLoopbackPort()
            let receiver = try await ChildProcess(executable: executable, arguments: ["--port", String(port), "--await-span", pattern])
            let deadline = ContinuousClock.now + .seconds(30)
            while receiver.isRunning, ContinuousClock.now < deadline {
                if acceptsConnections(port: port) { return (receiver, port) }
                try await Task.sleep(for: .milliseconds(20))
            }
            failures.append("port \(port): \(receiver.isRunning ? "not listening after 30 s" : receiver.standardError)")
            _ = try? await receiver.stop(signal: SIGKILL)
        }
        throw TestSetupError("oteltap did not start:\n\(failures.joined(separator: "\n"))")
    }

    /// Whether a TCP connection to the loopback `port` succeeds.
    static func acceptsConnections(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return connected == 0
    }
}
