public import Logging

/// How log lines are written: JSON objects for machines (the default), or text for people.
public enum LogFormat: String, Sendable, CaseIterable {
    case json
    case text
}

/// Where finished spans go: nowhere (ids are still made, so logs carry trace ids) or OTLP.
public enum TraceExporter: String, Sendable, CaseIterable {
    case none
    case otlp
}

/// Everything the observability stack needs to know, resolved from configuration.
public struct ObservabilitySettings: Sendable {
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    public var metricsEnabled: Bool
    public var traceExporter: TraceExporter
    /// `OTEL_SERVICE_NAME`, when set, replaces the service name in spans.
    public var otelServiceName: String?
    /// The `OTEL_*` environment passed to swift-otel (endpoint, headers, sampler, batching).
    public var otelEnvironment: [String: String]

    public init(
        logLevel: Logger.Level = .info,
        logFormat: LogFormat = .json,
        metricsEnabled: Bool = false,
        traceExporter: TraceExporter = .none,
        otelServiceName: String? = nil,
        otelEnvironment: [String: String] = [:]
    ) {
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.metricsEnabled = metricsEnabled
        self.traceExporter = traceExporter
        self.otelServiceName = otelServiceName
        self.otelEnvironment = otelEnvironment
    }
}
