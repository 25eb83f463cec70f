import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// A real WebSocket client for tests: frames sent with ``send(_:)``, frames received as parsed
/// JSON objects, the server's close code at the end, and the ability to stop reading (so the
/// server sees a slow consumer).
public final class WebSocketTestClient: Sendable {
    public struct Closed: Sendable, Equatable {
        public let code: Int?
        public let reason: String?
    }

    private enum Outgoing: Sendable {
        case text(String)
        case binary([UInt8])
        case close
    }

    private struct Inbox {
        var frames: [String] = []
        var finished = false
    }

    private final class Shared: Sendable {
        let inbox = Mutex(Inbox())
        let paused = Mutex<Bool>(false)
        let closeFrame = Mutex<Closed?>(nil)
    }

    private let shared = Shared()
    private let outgoing: AsyncStream<Outgoing>.Continuation
    private let task: Task<Void, Never>

    /// Connects to `url` (ws://…). The connection runs until ``close()`` or the server closes.
    public init(url: String, maxFrameSize: Int = 1 << 20) {
        let (outgoingStream, outgoing) = AsyncStream<Outgoing>.makeStream()
        self.outgoing = outgoing
        let shared = self.shared
        var logger = Logger(label: "ws-test-client")
        logger.logLevel = .critical
        self.task = Task {
            do {
                let frame = try await WebSocketClient.connect(
                    url: url,
                    configuration: .init(maxFrameSize: maxFrameSize, autoPing: .disabled),
                    logger: logger
                ) { inbound, outbound, _ in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await item in outgoingStream {
                                switch item {
                                case .text(let text): try await outbound.write(.text(text))
                                case .binary(let bytes): try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                                case .close:
                                    try await outbound.close(.normalClosure, reason: nil)
                                    return
                                }
                            }
                        }
                        var messages = inbound.messages(maxSize: maxFrameSize).makeAsyncIterator()
                        while true {
                            while shared.paused.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
                            guard let message = try await messages.next() else { break }
                            if case .text(let text) = message { shared.inbox.withLock { $0.frames.append(text) } }
                        }
                        group.cancelAll()
                    }
                }
                shared.closeFrame.withLock { $0 = Closed(code: frame.map { Self.number($0.closeCode) }, reason: frame?.reason) }
            } catch {
                shared.closeFrame.withLock { $0 = $0 ?? Closed(code: nil, reason: "\(error)") }
            }
            shared.inbox.withLock { $0.finished = true }
        }
    }

    deinit {
        task.cancel()
    }

    /// The numeric close code (NIO names the standard ones).
    static func number(_ code: WebSocketErrorCode) -> Int {
        switch code {
        case .normalClosure: 1000
        case .goingAway: 1001
        case .protocolError: 1002
        case .unacceptableData: 1003
        case .dataInconsistentWithMessage: 1007
        case .policyViolation: 1008
        case .messageTooLarge: 1009
        case .missingExtension: 1010
        case .unexpectedServerError: 1011
        case .unknown(let value): Int(value)
        }
    }

    /// Sends one text frame.
    public func send(_ text: String) {
        outgoing.yield(.text(text))
    }

    /// Sends one binary frame.
    public func send(binary bytes: [UInt8]) {
        outgoing.yield(.binary(bytes))
    }

    /// Sends a JSON object as one frame.
    public func send(json object: [String: Any]) {
        let data = try! JSONSerialization.data(withJSONObject: object)
        send(String(decoding: data, as: UTF8.self))
    }

    /// Starts the close handshake.
    public func close() {
        outgoing.yield(.close)
    }

    /// Stops or resumes reading from the socket.
    public func setPaused(_ value: Bool) {
        shared.paused.withLock { $0 = value }
    }

    /// The next frame as a JSON object; nil when the connection ended; throws on timeout.
    public func next(timeout: Duration = .seconds(10)) async throws -> [String: Any]? {
        guard let text = try await nextText(timeout: timeout) else { return nil }
        return try jsonObject(text)
    }

    /// The next frame whose `t` is `type`, skipping others (pings, presence…) unless listed.
    public func next(_ type: String, timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero, let frame = try await next(timeout: remaining) else {
                throw TestSetupError("no \(type) frame arrived (closed: \(String(describing: closed)))")
            }
            if frame["t"] as? String == type { return frame }
        }
    }

    /// The next text frame; nil when the connection ended; throws on timeout.
    public func nextText(timeout: Duration) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (frame, finished): (String?, Bool) = shared.inbox.withLock { inbox in
                inbox.frames.isEmpty ? (nil, inbox.finished) : (inbox.frames.removeFirst(), false)
            }
            if let frame { return frame }
            if finished { return nil }
            guard ContinuousClock.now < deadline else { throw TestSetupError("timed out waiting for a frame") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// The close frame the server sent, once the connection has ended.
    public var closed: Closed? { shared.closeFrame.withLock { $0 } }

    /// Waits until the connection has ended and returns how.
    public func waitUntilClosed(timeout: Duration = .seconds(20)) async throws -> Closed {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let closed { return closed }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestSetupError("the connection did not close")
    }
}
