public import CapabilityKit
import Observability
import Persistence
import PartySync
import Genlayers
public import Memory37
public import Gateway
public import MediaBroker
import Logging
import ServiceKit

public import Foundation

/// Resolves ``RPGBotConfiguration`` from flags, then the environment, then defaults, and
/// validates every value: the server's own settings here, each capability's by the reader it
/// declares beside its settings (`PartySyncSettings(reading:)` …). The first bad value stops
/// resolution with a ``ConfigurationError``.
public struct ConfigurationLoader: Sendable {
    public var values: SettingValues

    /// Flag values given on the command line, keyed by ``Setting/flag``.
    public var flags: [String: String] { values.flags }
    public var environment: [String: String] { values.environment }

    public init(flags: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = SettingValues(flags: flags, environment: environment)
    }

    /// The raw value of a setting: its flag if given, else its environment variable if set and
    /// non-empty, else nil (the default applies).
    public func raw(_ setting: Setting) -> String? {
        values.raw(setting)
    }

    public func load() throws(ConfigurationError) -> RPGBotConfiguration {
        let dataDirectory = URL(fileURLWithPath: try values.string(.dataDirectory) ?? "./data")
        var configuration = RPGBotConfiguration(dataDirectory: dataDirectory)
        configuration.host = try values.string(.host) ?? configuration.host
        configuration.port = try values.integer(.port, 0...65535) ?? configuration.port
        configuration.services = try services() ?? configuration.services
        if let text = values.raw(.databaseURL) {
            do {
                configuration.databaseURL = try DatabaseURL(parsing: text)
            } catch {
                throw ConfigurationError(setting: .databaseURL, value: text, reason: error.reason)
            }
        }
        configuration.jwtSecret = try jwtSecret()
        configuration.maxBodySize = try values.byteSize(.maxBodySize) ?? configuration.maxBodySize
        configuration.shutdownTimeout = try values.duration(.shutdownTimeout) ?? configuration.shutdownTimeout
        configuration.databaseWait = try values.duration(.databaseWait) ?? configuration.databaseWait
        configuration.httpIdleTimeout = try values.duration(.httpIdleTimeout) ?? configuration.httpIdleTimeout
        configuration.maxConnections = try values.positiveInteger(.maxConnections) ?? configuration.maxConnections
        configuration.observability = try observability()
        configuration.partySync = try PartySyncSettings(reading: values)
        configuration.generation = try generation()
        configuration.knowledge = try knowledge()
        configuration.media = try media()
        return configuration
    }

    /// Only the data folder and the JWT secret: what `rpgbot token` needs.
    public func loadTokenSettings() throws(ConfigurationError) -> (dataDirectory: URL, jwtSecret: [UInt8]?) {
        (URL(fileURLWithPath: try values.string(.dataDirectory) ?? "./data").standardizedFileURL, try jwtSecret())
    }

    /// Where a browser on this machine reaches `rpgbot serve` with these settings: the host
    /// and port it listens on, with a wildcard address shown as `localhost`.
    public func consoleBaseURL() throws(ConfigurationError) -> String {
        var host = try values.string(.host) ?? Setting.host.defaultValue
        if ["0.0.0.0", "::", "[::]", "127.0.0.1", "::1"].contains(host) { host = "localhost" }
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }
        let port = try values.integer(.port, 0...65_535) ?? Int(Setting.port.defaultValue)!
        return "http://\(host):\(port)"
    }

    /// The knowledge settings alone: what `rpgbot ingest` and `rpgbot search` need.
    public func knowledge() throws(ConfigurationError) -> KnowledgeConfiguration {
        try KnowledgeConfiguration(reading: values)
    }

    /// The generation settings alone: what `rpgbot generate` needs.
    public func generation() throws(ConfigurationError) -> GenerationConfiguration {
        try GenerationConfiguration(reading: values)
    }

    /// The media broker's settings.
    public func media() throws(ConfigurationError) -> MediaSettings {
        try MediaSettings(reading: values)
    }

    /// Parses `500ms`, `30s`, `2m`, `12h`, `7d`, or a bare number of seconds.
    public static func parseDuration(_ text: String) -> Duration? {
        SettingValues.parseDuration(text)
    }

    func services() throws(ConfigurationError) -> [String]? {
        guard let text = values.raw(.services) else { return nil }
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        if names == ["all"] { return CapabilityCatalog.available }
        if names == ["none"] { return [] }
        for name in names where !CapabilityCatalog.available.contains(name) {
            throw ConfigurationError(setting: .services, value: text, reason: "unknown service '\(name)'")
        }
        if names.isEmpty {
            throw ConfigurationError(setting: .services, value: text, reason: "no service named")
        }
        var unique: [String] = []
        for name in names where !unique.contains(name) { unique.append(name) }
        return unique
    }

    func jwtSecret() throws(ConfigurationError) -> [UInt8]? {
        guard let text = values.environment[Setting.jwtSecret.environment], !text.isEmpty else { return nil }
        guard text.utf8.count >= 32 else {
            throw ConfigurationError(setting: .jwtSecret, value: text, reason: "it is \(text.utf8.count) bytes long")
        }
        return Array(text.utf8)
    }

    func observability() throws(ConfigurationError) -> ObservabilitySettings {
        var settings = ObservabilitySettings()
        if let text = values.raw(.logLevel) {
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw ConfigurationError(setting: .logLevel, value: text)
            }
            settings.logLevel = level
        }
        if let text = values.raw(.logFormat) {
            guard let format = LogFormat(rawValue: text.lowercased()) else {
                throw ConfigurationError(setting: .logFormat, value: text)
            }
            settings.logFormat = format
        }
        settings.metricsEnabled = try values.boolean(.metrics) ?? false

        var otelEnvironment = values.environment.filter { $0.key.hasPrefix("OTEL_") }
        if let endpoint = try values.httpURL(.otelEndpoint) {
            otelEnvironment["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        }
        for key in ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] {
            if let value = values.environment[key], !value.isEmpty, value != "http/protobuf" {
                throw ConfigurationError(setting: .otelProtocol, value: value, reason: "\(key) must be http/protobuf in this build")
            }
        }
        if let text = values.raw(.otelTracesExporter) {
            guard let exporter = TraceExporter(rawValue: text.lowercased()) else {
                throw ConfigurationError(setting: .otelTracesExporter, value: text)
            }
            settings.traceExporter = exporter
        } else if values.raw(.otelEndpoint) != nil || values.environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].map({ !$0.isEmpty }) == true {
            settings.traceExporter = .otlp
        }
        settings.otelServiceName = try values.string(.otelServiceName)
        settings.otelEnvironment = otelEnvironment
        return settings
    }
}
