public import Foundation

/// Headless Firefox driven over WebDriver BiDi, the W3C protocol Firefox speaks itself on a
/// WebSocket (no geckodriver needed, and Debian ships none). Only the commands the tests use.
public final class FirefoxBiDi: @unchecked Sendable {
    let process: ChildProcess
    let socket: WebSocketTestClient
    let profile: URL
    private var nextID = 0
    /// The `log.entryAdded` events seen so far: the page's console.
    public private(set) var logEntries: [[String: Any]] = []
    /// The browsing context (tab) commands go to.
    public private(set) var context = ""

    public static var executable: URL? { toolURL("firefox-esr") ?? toolURL("firefox") }

    public static func start() async throws -> FirefoxBiDi {
        guard let executable else { throw TestSetupError("Firefox is not installed (Debian: firefox-esr)") }
        let port = try freeLoopbackPort()
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent("rpgbot-firefox-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        let process = try await ChildProcess(
            executable: executable, arguments: [
                "--headless", "--no-remote", "--profile", profile.path, "--remote-debugging-port=\(port)",
                // The test WebSocket client sends this Origin; Firefox refuses unknown ones.
                "--remote-allow-origins=ws://127.0.0.1",
            ],
            environment: ["MOZ_HEADLESS": "1"])
        var socket: WebSocketTestClient?
        for _ in 0..<300 where socket == nil {
            try await Task.sleep(for: .milliseconds(100))
            let candidate = WebSocketTestClient(url: "ws://127.0.0.1:\(port)/session", maxFrameSize: 32 << 20)
            candidate.send(json: ["id": 0, "method": "session.status", "params": [:]])
            if let answer = try? await candidate.next(timeout: .milliseconds(500)), answer["id"] as? Int == 0 { socket = candidate }
        }
        guard let socket else {
            _ = try? await process.stop(signal: SIGKILL)
            throw TestSetupError("Firefox's WebDriver BiDi did not answer: \(process.standardError.suffix(500))")
        }
        let browser = FirefoxBiDi(process: process, socket: socket, profile: profile)
        _ = try await browser.call("session.new", ["capabilities": [:]])
        _ = try await browser.call("session.subscribe", ["events": ["log.entryAdded"]])
        let tree = try await browser.call("browsingContext.getTree", [:])
        browser.context = ((tree["contexts"] as? [[String: Any]])?.first?["context"] as? String) ?? ""
        return browser
    }

    init(process: ChildProcess, socket: WebSocketTestClient, profile: URL) {
        self.process = process
        self.socket = socket
        self.profile = profile
    }

    /// Sends a command and returns its `result`; events that arrive meanwhile are kept.
    @discardableResult
    public func call(_ method: String, _ params: [String: Any], timeout: Duration = .seconds(30)) async throws -> [String: Any] {
        nextID += 1
        let id = nextID
        socket.send(json: ["id": id, "method": method, "params": params])
        let deadline = ContinuousClock.now + timeout
        while true {
            guard let frame = try await socket.next(timeout: deadline - ContinuousClock.now) else { throw TestSetupError("Firefox closed the session") }
            if frame["method"] as? String == "log.entryAdded", let entry = frame["params"] as? [String: Any] { logEntries.append(entry) }
            guard frame["id"] as? Int == id else { continue }
            if frame["type"] as? String == "error" {
                throw TestSetupError("\(method): \(frame["error"] ?? "") \(frame["message"] ?? "")")
            }
            return frame["result"] as? [String: Any] ?? [:]
        }
    }

    public func navigate(to url: String) async throws {
        try await call("browsingContext.navigate", ["context": context, "url": url, "wait": "complete"])
    }

    public func setViewport(width: Int, height: Int) async throws {
        try await call("browsingContext.setViewport", ["context": context, "viewport": ["width": width, "height": height]])
    }

    /// Evaluates an expression in the page (awaiting a promise) and returns its value when it
    /// is a string, number or boolean.
    public func evaluate(_ expression: String) async throws -> Any? {
        let answer = try await call("script.evaluate", ["expression": expression, "target": ["context": context], "awaitPromise": true])
        if answer["type"] as? String == "exception" {
            throw TestSetupError("script failed: \((answer["exceptionDetails"] as? [String: Any])?["text"] ?? answer)")
        }
        return (answer["result"] as? [String: Any])?["value"]
    }

    /// Waits until an expression is true.
    public func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ expression: String) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await evaluate(expression) as? Bool != true {
            guard ContinuousClock.now < deadline else { throw TestSetupError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    public func screenshot() async throws -> Data {
        let answer = try await call("browsingContext.captureScreenshot", ["context": context])
        guard let data = (answer["data"] as? String).flatMap({ Data(base64Encoded: $0) }) else { throw TestSetupError("no screenshot") }
        return data
    }

    public func stop() async {
        _ = try? await call("session.end", [:], timeout: .seconds(5))
        socket.close()
        _ = try? await process.stop(timeout: .seconds(10))
        try? FileManager.default.removeItem(at: profile)
    }
}
