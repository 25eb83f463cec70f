public import Logging
import Synchronization

/// A log handler that keeps the messages logged through it, for tests that check what was
/// reported.
public struct RecordingLogHandler: LogHandler {
    /// The messages, shared by every copy of the handler.
    public final class Box: Sendable {
        private let entries = Mutex<[String]>([])
        public var messages: [String] { entries.withLock { $0 } }
        public init() {}
        fileprivate func append(_ message: String) { entries.withLock { $0.append(message) } }
    }

    private let box: Box
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .trace

    public init(box: Box) { self.box = box }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        box.append(event.message.description)
    }
}
