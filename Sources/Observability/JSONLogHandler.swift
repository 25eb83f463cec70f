public import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one JSON object per line: `ts` (RFC 3339, milliseconds, UTC), `level`, `service`,
/// `msg`, then `trace_id`/`span_id` when a span is active, then the log metadata.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    let service: String
    let sink: LogSink

    public init(service: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider?, sink: LogSink = .standardOutput) {
        self.service = service
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, new in new }
        }
        if let eventMetadata = event.metadata {
            merged.merge(eventMetadata) { _, new in new }
        }
        var line = "{"
        line += "\"ts\":\"\(Self.timestamp())\""
        line += ",\"level\":\"\(event.level.rawValue)\""
        line += ",\"service\":"
        JSONText.appendString(service, to: &line)
        line += ",\"msg\":"
        JSONText.appendString(event.message.description, to: &line)
        // Trace fields first, so a reader finds them at a fixed place.
        for key in ["trace_id", "span_id"] {
            if let value = merged.removeValue(forKey: key) {
                line += ",\"\(key)\":"
                JSONText.append(value, to: &line)
            }
        }
        merged.removeValue(forKey: "trace_flags")
        for key in merged.keys.sorted() where !Self.reserved.contains(key) {
            line += ","
            JSONText.appendString(key, to: &line)
            line += ":"
            JSONText.append(merged[key]!, to: &line)
        }
        if event.level >= .error {
            line += ",\"source\":"
            JSONText.appendString("\(event.file):\(event.line)", to: &line)
        }
        line += "}\n"
        sink.emit(line)
    }

    private static let reserved: Set<String> = ["ts", "level", "service", "msg"]

    /// RFC 3339 in UTC with milliseconds: `2026-11-30T06:08:23.123Z`.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let milliseconds = Int(now.tv_nsec / 1_000_000)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))"
            + "T\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(milliseconds, 3))Z"
    }
}

/// Where log lines go. Each line is written with one `write(2)`, under a lock, so lines from
/// concurrent tasks never interleave.
public struct LogSink: Sendable {
    let writeLine: @Sendable (String) -> Void

    public init(_ writeLine: @escaping @Sendable (String) -> Void) {
        self.writeLine = writeLine
    }

    func emit(_ line: String) { writeLine(line) }

    public static let standardOutput = LogSink { line in
        stdoutLock.withLock { _ in
            var line = line
            line.withUTF8 { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(STDOUT_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 {
                        if written < 0 && errno == EINTR { continue }
                        return
                    }
                    offset += written
                }
            }
        }
    }

    private static let stdoutLock = Mutex<Void>(())
}

/// Minimal JSON text encoding for log values: strings escaped per RFC 8259.
enum JSONText {
    static func append(_ value: Logger.Metadata.Value, to output: inout String) {
        switch value {
        case .string(let text):
            appendString(text, to: &output)
        case .stringConvertible(let convertible):
            // Numbers and booleans stay JSON numbers and booleans, so log queries can compare them.
            switch convertible {
            case let value as Int: output += String(value)
            case let value as Double where value.isFinite: output += String(value)
            case let value as Bool: output += value ? "true" : "false"
            default: appendString(convertible.description, to: &output)
            }
        case .array(let values):
            output += "["
            for (index, element) in values.enumerated() {
                if index > 0 { output += "," }
                append(element, to: &output)
            }
            output += "]"
        case .dictionary(let dictionary):
            output += "{"
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { output += "," }
                appendString(key, to: &output)
                output += ":"
                append(dictionary[key]!, to: &output)
            }
            output += "}"
        }
    }

    static func appendString(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                output.unicodeScalars.append(scalar)
            }
        }
        output += "\""
    }
}
