import Logging
import Observability
import Prometheus
import Synchronization

/// Reports requests refused for the client's own mistakes before any route saw them — a head
/// NIO cannot parse, headers over the limit, a head that never completed, a connection over
/// the limit. Anyone can send those, so each is counted (`http_refused_requests_total{reason}`)
/// and logged at most once per `interval` as a warning that says how many came since: a flood
/// of garbage cannot fill the log, and the error level stays for the server's own faults.
final class RefusedRequestReporter: Sendable {
    private let registry: MetricsRegistry?
    private let logger: Logger
    private let interval: Duration
    private let state = Mutex<(lastLogged: ContinuousClock.Instant?, suppressed: Int)>((nil, 0))

    init(registry: MetricsRegistry?, logger: Logger, interval: Duration = .seconds(10)) {
        self.registry = registry
        self.logger = logger
        self.interval = interval
    }

    /// `reason`: `malformed_head`, `headers_too_large`, `head_timeout`, `over_connection_limit`.
    func refused(_ reason: String, status: Int) {
        registry?.counter("http_refused_requests_total", help: "Requests refused before routing for the client's mistakes or the connection limit.", labels: [("reason", reason)]).increment()
        let now = ContinuousClock.now
        let report: Int? = state.withLock { state in
            if let last = state.lastLogged, now - last < interval {
                state.suppressed += 1
                return nil
            }
            defer { state = (now, 0) }
            return state.suppressed
        }
        guard let earlier = report else { return }
        logger.warning("refused a request before routing", metadata: [
            "reason": .string(reason), "http.response.status_code": .stringConvertible(status),
            "refused_since_last_report": .stringConvertible(earlier),
        ])
    }
}

/// Passes log records on unchanged, except those `demote` picks, which go out at debug level:
/// libraries that log a client's broken connection as an error.
struct DemotingLogHandler: LogHandler {
    var base: any LogHandler
    let demote: @Sendable (Logger.Level, Logger.Message) -> Bool

    var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        var event = event
        if demote(event.level, event.message) { event.level = .debug }
        guard event.level >= base.logLevel else { return }
        base.log(event: event)
    }
}
