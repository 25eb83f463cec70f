public import Foundation
public import NIOCore

/// Parses JSON text into Foundation values for assertions on documents whose exact Swift
/// shape the test does not want to declare.
public func jsonObject(_ data: Data) throws -> [String: Any] {
    guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw TestSetupError("not a JSON object: \(String(decoding: data, as: UTF8.self))")
    }
    return object
}

public func jsonObject(_ text: String) throws -> [String: Any] {
    try jsonObject(Data(text.utf8))
}

/// Finds a free loopback TCP port by binding port 0 and closing the socket.
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSetupError("socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw TestSetupError("bind failed") }
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw TestSetupError("getsockname failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Runs an external tool from PATH to completion and returns its exit status and output.
public func runTool(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (status: Int32, stdout: String, stderr: String) {
    guard let url = toolURL(executable) else { throw TestSetupError("\(executable) is not installed") }
    let process = try await ChildProcess(executable: url, arguments: arguments)
    let status = try await process.waitForExit(timeout: timeout)
    return (status, process.lines.joined(separator: "\n"), process.standardError)
}

/// The full path of an executable on PATH.
public func toolURL(_ name: String) -> URL? {
    let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
    return paths.map { URL(fileURLWithPath: "\($0)/\(name)") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}

/// Whether an executable is on PATH.
public func toolExists(_ name: String) -> Bool {
    toolURL(name) != nil
}

/// Parses a response body as a JSON object.
public func jsonObject(_ buffer: ByteBuffer) throws -> [String: Any] {
    try jsonObject(Data(buffer.readableBytesView))
}
