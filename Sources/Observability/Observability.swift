public import Logging
public import ServiceLifecycle
import Instrumentation
import OTel
import Synchronization
import Tracing

/// The observability of one service, made by ``Observability/bootstrap(service:settings:installGlobally:)``:
/// its logger, its metrics (when enabled) and the tracing service to run beside it.
public struct Telemetry: Sendable {
    public let service: String
    public let settings: ObservabilitySettings
    /// The service's root logger (JSON or text, at the configured level).
    public let logger: Logger
    /// The Prometheus registry, or nil when metrics are disabled (`/metrics` is then 404).
    public let metrics: MetricsRegistry?
    /// Long-running parts (the span processor and exporter) for the service group.
    public let services: [any Service]
    /// Builds a logger with the same handler, for a named component.
    public let makeLogger: @Sendable (String) -> Logger

    /// The trace id of the span active in the current task, if any.
    @Sendable public static func currentTraceID() -> String? {
        InstrumentationContext.current?.otelTraceID
    }
}

/// The one entry point every service calls at start with its service name.
public enum Observability {
    private static let globalState = Mutex<Bool>(false)

    /// Sets up logs, metrics and traces for `service`.
    ///
    /// - Parameters:
    ///   - service: the service name written into every log line and span.
    ///   - settings: resolved configuration.
    ///   - installGlobally: bootstrap swift-log's `LoggingSystem` and the tracing
    ///     `InstrumentationSystem` for the whole process (done once; later calls only build
    ///     loggers). Tests that run many servers in one process pass `false`.
    public static func bootstrap(service: String, settings: ObservabilitySettings, installGlobally: Bool = true) throws -> Telemetry {
        let metadataProvider = OTel.makeLoggingMetadataProvider()
        let format = settings.logFormat
        let level = settings.logLevel
        let makeHandler: @Sendable (String) -> any LogHandler = { label in
            switch format {
            case .json:
                return JSONLogHandler(service: service, level: level, metadataProvider: metadataProvider)
            case .text:
                var handler = StreamLogHandler.standardOutput(label: label, metadataProvider: metadataProvider)
                handler.logLevel = level
                return handler
            }
        }
        let makeLogger: @Sendable (String) -> Logger = { label in Logger(label: label, factory: makeHandler) }
        let logger = makeLogger(service)

        var services: [any Service] = []
        let shouldInstall = installGlobally && globalState.withLock { installed in
            defer { installed = true }
            return !installed
        }
        if shouldInstall {
            LoggingSystem.bootstrap({ label, _ in makeHandler(label) }, metadataProvider: metadataProvider)
            services.append(try bootstrapTracing(service: service, settings: settings, logger: logger))
        }
        return Telemetry(
            service: service,
            settings: settings,
            logger: logger,
            metrics: settings.metricsEnabled ? MetricsRegistry() : nil,
            services: services,
            makeLogger: makeLogger
        )
    }

    /// Tracing is always on so every request has a trace id for its log lines; spans leave the
    /// process only with the OTLP exporter. Export is batched off the request path, and a dead
    /// collector costs a logged warning per failed batch, nothing else.
    private static func bootstrapTracing(service: String, settings: ObservabilitySettings, logger: Logger) throws -> some Service {
        var configuration = OTel.Configuration.default
        configuration.serviceName = settings.otelServiceName ?? service
        configuration.logs.enabled = false
        configuration.metrics.enabled = false
        configuration.traces.enabled = true
        configuration.traces.exporter = settings.traceExporter == .otlp ? .otlp : .none
        if settings.traceExporter == .none {
            // Spans still give every request its trace id (a dropped span keeps a fresh or
            // inherited context), but none is recorded: a recorded span would only travel
            // through the processor to be thrown away, two stream hand-offs per span on every
            // publish. OTEL_TRACES_SAMPLER still overrides this.
            configuration.traces.sampler = .traceIDRatio(ratio: 0)!
        }
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        // Short export deadlines: an unreachable collector must not hold up shutdown for long.
        // OTEL_EXPORTER_OTLP_TIMEOUT and OTEL_BSP_EXPORT_TIMEOUT still override these.
        configuration.traces.otlpExporter.timeout = .seconds(2)
        configuration.traces.batchSpanProcessor.exportTimeout = .seconds(3)
        configuration.diagnosticLogger = .custom(logger.withComponent("otel"))
        configuration.diagnosticLogLevel = .warning
        var environment = settings.otelEnvironment
        // These were resolved by our configuration (flags > environment > defaults).
        for key in ["OTEL_TRACES_EXPORTER", "OTEL_SERVICE_NAME", "OTEL_LOGS_EXPORTER", "OTEL_METRICS_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] {
            environment.removeValue(forKey: key)
        }
        return try OTel.bootstrap(configuration: configuration, environment: environment)
    }
}

extension Logger {
    /// A copy of this logger tagged with `component`.
    public func withComponent(_ component: String) -> Logger {
        var logger = self
        logger[metadataKey: "component"] = .string(component)
        return logger
    }
}
