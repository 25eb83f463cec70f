public import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
import NIOFoundationCompat

/// A W3C WebDriver client for the browser tests: Debian's `chromedriver`, started on a free
/// loopback port, driving headless Chromium. Only the commands the tests use.
public final class ChromeDriver: Sendable {
    let process: ChildProcess
    let endpoint: String

    /// Whether chromedriver and chromium are installed.
    public static var isAvailable: Bool { toolExists("chromedriver") && (toolExists("chromium") || FileManager.default.fileExists(atPath: "/usr/bin/chromium")) }

    public static func start() async throws -> ChromeDriver {
        guard let executable = toolURL("chromedriver") else { throw TestSetupError("chromedriver is not installed (Debian: chromium-driver)") }
        let port = try freeLoopbackPort()
        let process = try await ChildProcess(executable: executable, arguments: ["--port=\(port)", "--allowed-ips=127.0.0.1"])
        let driver = ChromeDriver(process: process, endpoint: "http://127.0.0.1:\(port)")
        for _ in 0..<200 {
            if let status = try? await driver.call("GET", "/status"), (status["ready"] as? Bool) == true { return driver }
            try await Task.sleep(for: .milliseconds(50))
        }
        _ = try? await process.stop()
        throw TestSetupError("chromedriver did not become ready: \(process.standardError)")
    }

    init(process: ChildProcess, endpoint: String) {
        self.process = process
        self.endpoint = endpoint
    }

    /// A new headless browser window of the given size (CSS pixels).
    public func openBrowser(width: Int = 1280, height: Int = 900) async throws -> Browser {
        let arguments = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=\(width),\(height)",
            "--autoplay-policy=no-user-gesture-required", "--no-first-run", "--disable-extensions", "--mute-audio",
        ]
        let capabilities: [String: Any] = [
            "browserName": "chrome",
            "goog:chromeOptions": ["binary": "/usr/bin/chromium", "args": arguments],
            "goog:loggingPrefs": ["browser": "ALL"],
        ]
        let answer = try await call("POST", "/session", ["capabilities": ["alwaysMatch": capabilities]])
        guard let id = answer["sessionId"] as? String else { throw TestSetupError("no session: \(answer)") }
        return Browser(driver: self, path: "/session/\(id)")
    }

    public func stop() async {
        _ = try? await process.stop()
    }

    /// One WebDriver command; its `value` when that is an object, else `["value": value]`.
    @discardableResult
    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        let value = try await value(method, path, body)
        return value as? [String: Any] ?? ["value": value ?? NSNull()]
    }

    /// One WebDriver command's `value`, whatever its type; nil for JSON null.
    func value(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        var request = HTTPClientRequest(url: endpoint + path)
        request.method = .init(rawValue: method)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let data = Data(try await response.body.collect(upTo: 64 << 20).readableBytesView)
        let object = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [String: Any] ?? [:]
        let value = object["value"]
        if response.status.code >= 400 {
            let error = value as? [String: Any]
            throw WebDriverError(command: "\(method) \(path)", error: error?["error"] as? String ?? "http \(response.status.code)", message: error?["message"] as? String ?? "")
        }
        return value is NSNull ? nil : value
    }
}

/// A refused WebDriver command (`no such element`, `javascript error`…).
public struct WebDriverError: Error, CustomStringConvertible {
    public let command: String
    public let error: String
    public let message: String
    public var description: String { "\(command): \(error): \(message.prefix(500))" }
}

/// One browser window.
public struct Browser: Sendable {
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"
    let driver: ChromeDriver
    let path: String

    public func navigate(to url: String) async throws {
        try await driver.call("POST", path + "/url", ["url": url])
    }

    /// Runs a script (a function body; `arguments` are its arguments) and returns its value.
    @discardableResult
    public func execute(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        try await driver.value("POST", path + "/execute/sync", ["script": script, "args": arguments])
    }

    /// Runs an async script: it gets a callback as its last argument and calls it with the result.
    public func executeAsync(_ script: String, _ arguments: [Any] = []) async throws -> Any? {
        try await driver.value("POST", path + "/execute/async", ["script": script, "args": arguments])
    }

    /// The first element matching a CSS selector, or nil.
    public func find(_ selector: String) async throws -> String? {
        do {
            let answer = try await driver.call("POST", path + "/element", ["using": "css selector", "value": selector])
            return answer[Self.elementKey] as? String
        } catch let error as WebDriverError where error.error == "no such element" {
            return nil
        }
    }

    public func click(_ selector: String) async throws {
        let element = try await waitFor(selector)
        try await driver.call("POST", path + "/element/\(element)/click", [:])
    }

    /// Clears a field and types into it.
    public func type(_ text: String, into selector: String) async throws {
        let element = try await waitFor(selector)
        try await driver.call("POST", path + "/element/\(element)/clear", [:])
        try await driver.call("POST", path + "/element/\(element)/value", ["text": text])
    }

    public func text(of selector: String) async throws -> String? {
        guard let element = try await find(selector) else { return nil }
        return try await driver.call("GET", path + "/element/\(element)/text")["value"] as? String
    }

    /// Waits until an element matches `selector` (and is displayed, unless `visible` is false).
    @discardableResult
    public func waitFor(_ selector: String, visible: Bool = true, timeout: Duration = .seconds(20)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let element = try await find(selector) {
                if !visible { return element }
                do {
                    if try await driver.call("GET", path + "/element/\(element)/displayed")["value"] as? Bool == true { return element }
                } catch let error as WebDriverError where error.error == "stale element reference" {
                    // Replaced between finding and asking: look again.
                }
            }
            guard ContinuousClock.now < deadline else { throw TestSetupError("nothing matched \(selector) within \(timeout)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Waits until a script returns true.
    public func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ script: String, _ arguments: [Any] = []) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await execute(script, arguments) as? Bool != true {
            guard ContinuousClock.now < deadline else { throw TestSetupError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// A PNG of the window.
    public func screenshot() async throws -> Data {
        let answer = try await driver.call("GET", path + "/screenshot")
        guard let text = answer["value"] as? String, let data = Data(base64Encoded: text) else { throw TestSetupError("no screenshot") }
        return data
    }

    /// The browser console's entries since the last call (chromedriver's log endpoint).
    public func consoleEntries() async throws -> [[String: Any]] {
        try await driver.value("POST", path + "/se/log", ["type": "browser"]) as? [[String: Any]] ?? []
    }

    public func setWindowSize(width: Int, height: Int) async throws {
        try await driver.call("POST", path + "/window/rect", ["width": width, "height": height])
    }

    public func close() async {
        _ = try? await driver.call("DELETE", path)
    }
}
