public import CapabilityKit
import Gateway
import MediaBroker
import Memory37
import PartySync

/// The server's own settings; each capability declares its own.
extension Setting {
    public static let host = Setting(flag: "host", environment: "RPGBOT_HOST", defaultValue: "127.0.0.1", summary: "Address to listen on.", accepted: "a host name or IP address")
    public static let port = Setting(flag: "port", environment: "RPGBOT_PORT", defaultValue: "8080", summary: "TCP port to listen on (0 picks a free one).", accepted: "an integer 0–65535")
    public static let dataDirectory = Setting(flag: "data-dir", environment: "RPGBOT_DATA_DIR", defaultValue: "./data", summary: "Folder for the SQLite database, the generated JWT secret and artifacts.", accepted: "a folder path")
    public static let services = Setting(flag: "services", environment: "RPGBOT_SERVICES", defaultValue: "all", summary: "Capability services to run.", accepted: "all, none, or a comma-separated list of \(CapabilityCatalog.acceptedList)")
    public static let databaseURL = Setting(flag: "database-url", environment: "RPGBOT_DATABASE_URL", defaultValue: "sqlite://<data-dir>/rpgbot.sqlite", summary: "Database for every store.", accepted: "sqlite:///path/file.sqlite or postgres://user:pass@host:port/db[?sslmode=disable|prefer|require]")
    public static let databaseWait = Setting(flag: "database-wait", environment: "RPGBOT_DATABASE_WAIT", defaultValue: "30s", summary: "How long start-up waits for PostgreSQL to take connections before giving up (an unknown database or wrong credentials end it at once).", accepted: "a duration")
    public static let jwtSecret = Setting(flag: nil, environment: "RPGBOT_JWT_SECRET", defaultValue: "generated once into <data-dir>/jwt-secret (mode 0600)", summary: "HS256 secret for access tokens (environment only, never a flag).", accepted: "a string of at least 32 bytes", isSecret: true)
    public static let logLevel = Setting(flag: "log-level", environment: "RPGBOT_LOG_LEVEL", defaultValue: "info", summary: "Lowest log level written.", accepted: "trace, debug, info, notice, warning, error or critical")
    public static let logFormat = Setting(flag: "log-format", environment: "RPGBOT_LOG_FORMAT", defaultValue: "json", summary: "Log line format.", accepted: "json or text")
    public static let metrics = Setting(flag: "enable-metrics", environment: "ENABLE_METRICS", defaultValue: "false", summary: "Serve Prometheus metrics at /metrics.", accepted: "true or false")
    public static let maxBodySize = Setting(flag: "max-body-size", environment: "RPGBOT_MAX_BODY_SIZE", defaultValue: "1MiB", summary: "Largest request body accepted (413 beyond).", accepted: "bytes, optionally with KiB or MiB (e.g. 65536, 512KiB, 4MiB)")
    public static let httpIdleTimeout = Setting(flag: "http-idle-timeout", environment: "RPGBOT_HTTP_IDLE_TIMEOUT", defaultValue: "75s", summary: "How long an HTTP connection may be idle: before its first request head is complete (408 then), or between requests.", accepted: "a duration")
    public static let maxConnections = Setting(flag: "max-connections", environment: "RPGBOT_MAX_CONNECTIONS", defaultValue: "10000", summary: "Open HTTP and WebSocket connections beyond this are answered 503 and closed (keep it below the process's file descriptor limit).", accepted: "an integer, 1 or more")
    public static let shutdownTimeout = Setting(flag: "shutdown-timeout", environment: "RPGBOT_SHUTDOWN_TIMEOUT", defaultValue: "30s", summary: "How long SIGTERM/SIGINT wait for in-flight requests before forcing exit.", accepted: "a duration such as 500ms, 30s, 2m")
    public static let otelTracesExporter = Setting(flag: "otel-traces-exporter", environment: "OTEL_TRACES_EXPORTER", defaultValue: "none, or otlp when an endpoint is set", summary: "Where spans are exported.", accepted: "none or otlp")
    public static let otelEndpoint = Setting(flag: "otel-endpoint", environment: "OTEL_EXPORTER_OTLP_ENDPOINT", defaultValue: "http://localhost:4318", summary: "OTLP/HTTP collector base URL (/v1/traces is appended).", accepted: "an http or https URL")
    public static let otelProtocol = Setting(flag: nil, environment: "OTEL_EXPORTER_OTLP_PROTOCOL", defaultValue: "http/protobuf", summary: "OTLP protocol.", accepted: "http/protobuf")
    public static let otelServiceName = Setting(flag: "otel-service-name", environment: "OTEL_SERVICE_NAME", defaultValue: "rpgbot", summary: "Service name on exported spans.", accepted: "a non-empty name")

    /// The server's own settings, in the order of the help.
    public static let server: [Setting] = [
        .host, .port, .dataDirectory, .services, .databaseURL, .databaseWait, .jwtSecret, .logLevel, .logFormat, .metrics, .maxBodySize, .httpIdleTimeout, .maxConnections, .shutdownTimeout, .otelTracesExporter, .otelEndpoint, .otelProtocol, .otelServiceName,
    ]

    /// Every setting of `rpgbot serve`: the server's, then each capability's, in the order of
    /// the help.
    public static let all: [Setting] = server + RPGBotServer.capabilities(for: RPGBotConfiguration(services: [])).flatMap { type(of: $0).settings }
}
