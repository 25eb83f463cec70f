import Foundation
import Logging
import Observability
import Prometheus
import Synchronization
import TestSupport
import Testing

/// Collects what a handler writes.
final class CapturedLines: Sendable {
    private let storage = Mutex<[String]>([])
    var sink: LogSink { LogSink { line in self.storage.withLock { $0.append(line) } } }
    var lines: [String] { storage.withLock { $0 } }
}

@Suite struct JSONLogHandlerTests {
    @Test func eachEventIsOneParseableJSONLine() throws {
        let captured = CapturedLines()
        var logger = Logger(label: "test") { _ in
            JSONLogHandler(service: "rpgbot-test", level: .debug, metadataProvider: nil, sink: captured.sink)
        }
        logger[metadataKey: "component"] = "party-sync"
        logger.info("hello \"world\"\nsecond line", metadata: ["campaign": "demo", "count": .stringConvertible(3), "nested": ["a": ["1", "2"]]])
        logger.debug("quiet")
        logger.trace("dropped below the level")

        #expect(captured.lines.count == 2)
        let line = try #require(captured.lines.first)
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().contains("\n") == false)
        let object = try jsonObject(line)
        #expect(object["service"] as? String == "rpgbot-test")
        #expect(object["level"] as? String == "info")
        #expect(object["msg"] as? String == "hello \"world\"\nsecond line")
        #expect(object["campaign"] as? String == "demo")
        #expect(object["count"] as? Int == 3)
        #expect(object["component"] as? String == "party-sync")
        #expect(((object["nested"] as? [String: Any])?["a"] as? [String]) == ["1", "2"])
        let timestamp = try #require(object["ts"] as? String)
        #expect(timestamp.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"#, options: .regularExpression) != nil)
    }

    @Test func traceFieldsComeFromTheMetadataProvider() throws {
        let captured = CapturedLines()
        let provider = Logger.MetadataProvider { ["trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331", "trace_flags": "1"] }
        let logger = Logger(label: "test") { _ in
            JSONLogHandler(service: "rpgbot", level: .info, metadataProvider: provider, sink: captured.sink)
        }
        logger.warning("with a span")
        let object = try jsonObject(try #require(captured.lines.first))
        #expect(object["trace_id"] as? String == "0af7651916cd43dd8448eb211c80319c")
        #expect(object["span_id"] as? String == "b7ad6b7169203331")
        #expect(object["trace_flags"] == nil)
    }

    @Test func controlCharactersAreEscaped() throws {
        let captured = CapturedLines()
        let logger = Logger(label: "test") { _ in
            JSONLogHandler(service: "rpgbot", level: .info, metadataProvider: nil, sink: captured.sink)
        }
        logger.error("bell \u{07} tab \t nul \u{00}")
        let object = try jsonObject(try #require(captured.lines.first))
        #expect(object["msg"] as? String == "bell \u{07} tab \t nul \u{00}")
        #expect(object["source"] is String)
    }
}

@Suite struct MetricsRegistryTests {
    @Test func expositionHasHelpTypeAndProcessMetrics() {
        let metrics = MetricsRegistry()
        metrics.counter("rpgbot_things_total", help: "Things done.", labels: [("kind", "test")]).increment(by: Int64(3))
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(text.contains("# HELP rpgbot_things_total Things done."))
        #expect(text.contains("# TYPE rpgbot_things_total counter"))
        #expect(text.contains(#"rpgbot_things_total{kind="test"} 3"#))
        #expect(text.contains("process_resident_memory_bytes"))
        #expect(text.contains("process_open_fds"))
        #expect(text.contains("process_cpu_seconds_total"))
    }
}
