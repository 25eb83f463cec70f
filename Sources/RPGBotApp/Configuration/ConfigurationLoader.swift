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
/// validates every value. The first bad value stops resolution with a ``ConfigurationError``.
public struct ConfigurationLoader: Sendable {
    /// Flag values given on the command line, keyed by ``Setting/flag``.
    public var flags: [String: String]
    public var environment: [String: String]

    public init(flags: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.flags = flags
        self.environment = environment
    }

    /// The raw value of a setting: its flag if given, else its environment variable if set and
    /// non-empty, else nil (the default applies).
    public func raw(_ setting: Setting) -> String? {
        if let flag = setting.flag, let value = flags[flag] {
            return value
        }
        if let value = environment[setting.environment], !value.isEmpty {
            return value
        }
        return nil
    }

    public func load() throws(ConfigurationError) -> RPGBotConfiguration {
        let dataDirectory = URL(fileURLWithPath: try string(.dataDirectory) ?? "./data")
        var configuration = RPGBotConfiguration(dataDirectory: dataDirectory)
        configuration.host = try string(.host) ?? configuration.host
        configuration.port = try port() ?? configuration.port
        configuration.services = try services() ?? configuration.services
        if let text = raw(.databaseURL) {
            do {
                configuration.databaseURL = try DatabaseURL(parsing: text)
            } catch {
                throw ConfigurationError(setting: .databaseURL, value: text, reason: error.reason)
            }
        }
        configuration.jwtSecret = try jwtSecret()
        configuration.maxBodySize = try byteSize(.maxBodySize) ?? configuration.maxBodySize
        configuration.shutdownTimeout = try duration(.shutdownTimeout) ?? configuration.shutdownTimeout
        configuration.databaseWait = try duration(.databaseWait) ?? configuration.databaseWait
        configuration.httpIdleTimeout = try duration(.httpIdleTimeout) ?? configuration.httpIdleTimeout
        configuration.maxConnections = try positiveInteger(.maxConnections) ?? configuration.maxConnections
        configuration.observability = try observability()
        configuration.partySync = try partySync()
        configuration.generation = try generation()
        configuration.knowledge = try knowledge()
        configuration.media = try media()
        return configuration
    }

    /// Only the data folder and the JWT secret: what `rpgbot token` needs.
    public func loadTokenSettings() throws(ConfigurationError) -> (dataDirectory: URL, jwtSecret: [UInt8]?) {
        (URL(fileURLWithPath: try string(.dataDirectory) ?? "./data").standardizedFileURL, try jwtSecret())
    }

    // MARK: - Typed readers

    func string(_ setting: Setting) throws(ConfigurationError) -> String? {
        guard let value = raw(setting) else { return nil }
        guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ConfigurationError(setting: setting, value: value, reason: "it is empty")
        }
        return value
    }

    func port() throws(ConfigurationError) -> Int? {
        guard let text = raw(.port) else { return nil }
        guard let port = Int(text), (0...65535).contains(port) else {
            throw ConfigurationError(setting: .port, value: text)
        }
        return port
    }

    func services() throws(ConfigurationError) -> [String]? {
        guard let text = raw(.services) else { return nil }
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
        guard let text = environment[Setting.jwtSecret.environment], !text.isEmpty else { return nil }
        guard text.utf8.count >= 32 else {
            throw ConfigurationError(setting: .jwtSecret, value: text, reason: "it is \(text.utf8.count) bytes long")
        }
        return Array(text.utf8)
    }

    func boolean(_ setting: Setting) throws(ConfigurationError) -> Bool? {
        guard let text = raw(setting) else { return nil }
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError(setting: setting, value: text)
        }
    }

    func byteSize(_ setting: Setting) throws(ConfigurationError) -> Int? {
        guard let text = raw(setting) else { return nil }
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("KB", 1000), ("MB", 1_000_000), ("B", 1)]
        var number = text.trimmingCharacters(in: .whitespaces)
        var multiplier = 1
        for (suffix, factor) in units where number.hasSuffix(suffix) {
            number = String(number.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            multiplier = factor
            break
        }
        guard let value = Int(number), value > 0, value <= (1 << 30) / multiplier else {
            throw ConfigurationError(setting: setting, value: text, reason: "it must be between 1 byte and 1 GiB")
        }
        return value * multiplier
    }

    func duration(_ setting: Setting) throws(ConfigurationError) -> Duration? {
        guard let text = raw(setting) else { return nil }
        guard let duration = Self.parseDuration(text), duration > .zero else {
            throw ConfigurationError(setting: setting, value: text)
        }
        return duration
    }

    /// Parses `500ms`, `30s`, `2m`, `12h`, `7d`, or a bare number of seconds.
    public static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, seconds) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            // "ms" must not be read as minutes of "…m" followed by "s".
            if suffix == "s", number.hasSuffix("m") { continue }
            guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
            return .milliseconds(Int64((value * seconds * 1000).rounded()))
        }
        guard let value = Double(trimmed), value.isFinite, value >= 0 else { return nil }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    func partySync() throws(ConfigurationError) -> PartySyncSettings {
        var settings = PartySyncSettings()
        settings.maxFrameBytes = try byteSize(.wsMaxFrame) ?? settings.maxFrameBytes
        settings.helloTimeout = try duration(.wsHelloTimeout) ?? settings.helloTimeout
        settings.pingInterval = try duration(.wsPingInterval) ?? settings.pingInterval
        settings.pongTimeout = try duration(.wsPongTimeout) ?? settings.pongTimeout
        settings.closeTimeout = try duration(.wsCloseTimeout) ?? settings.closeTimeout
        settings.outboundQueueBytes = try byteSize(.wsQueueBytes) ?? settings.outboundQueueBytes
        settings.connectionRate = try positiveNumber(.wsRate) ?? settings.connectionRate
        settings.connectionBurst = try positiveNumber(.wsBurst, minimum: 1) ?? settings.connectionBurst
        settings.replayLimit = try positiveInteger(.replayLimit) ?? settings.replayLimit
        settings.idempotencyWindow = try duration(.idempotencyWindow) ?? settings.idempotencyWindow
        settings.presenceGrace = try duration(.presenceGrace) ?? settings.presenceGrace
        settings.restRate = try positiveNumber(.restPublishRate) ?? settings.restRate
        settings.restBurst = try positiveNumber(.restPublishBurst, minimum: 1) ?? settings.restBurst
        settings.retentionEvents = try positiveInteger(.retentionEvents) ?? settings.retentionEvents
        settings.retentionAge = try duration(.retentionAge) ?? settings.retentionAge
        return settings
    }

    /// The knowledge settings alone: what `rpgbot ingest` and `rpgbot search` need.
    public func knowledge() throws(ConfigurationError) -> KnowledgeConfiguration {
        var configuration = KnowledgeConfiguration()
        configuration.enabled = try boolean(.memory37Enabled) ?? true
        if let path = try string(.contentDirectory) {
            configuration.contentDirectory = URL(fileURLWithPath: path)
            configuration.contentDirectoryGiven = true
        }
        if let campaign = try string(.contentCampaign) {
            if campaign == "global" {
                configuration.contentCampaign = nil
            } else {
                guard PathIdentifier.isValid(campaign) else { throw ConfigurationError(setting: .contentCampaign, value: campaign) }
                configuration.contentCampaign = campaign
            }
        }
        if let text = raw(.embedder) {
            guard let kind = KnowledgeConfiguration.EmbedderKind(rawValue: text.lowercased()) else { throw ConfigurationError(setting: .embedder, value: text) }
            configuration.embedder = kind
        }
        if let text = raw(.embeddingBaseURL) {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
                throw ConfigurationError(setting: .embeddingBaseURL, value: text)
            }
            configuration.openAI.baseURL = text
        }
        if let key = environment[Setting.embeddingAPIKey.environment], !key.isEmpty {
            configuration.openAI.apiKey = key
        } else if let key = environment["OPENAI_API_KEY"], !key.isEmpty {
            configuration.openAI.apiKey = key
        }
        configuration.openAI.model = try string(.embeddingModel) ?? configuration.openAI.model
        configuration.openAI.dimensions = try integer(.embeddingDimensions, 16...4096) ?? configuration.openAI.dimensions
        let tokens = try integer(.chunkTokens, 32...4000) ?? 300
        let overlap = try integer(.chunkOverlap, 0...1000) ?? 40
        configuration.chunker = Chunker(maxTokens: tokens, overlapTokens: overlap)
        if let search = raw(.knowledgeSearch) {
            guard ["database", "in-process"].contains(search) else { throw ConfigurationError(setting: .knowledgeSearch, value: search) }
            configuration.inProcessSearch = search == "in-process"
        }
        configuration.storeTimeout = try duration(.knowledgeStoreTimeout) ?? configuration.storeTimeout
        return configuration
    }

    func integer(_ setting: Setting, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let text = raw(setting) else { return nil }
        guard let value = Int(text), range.contains(value) else { throw ConfigurationError(setting: setting, value: text) }
        return value
    }

    /// The media broker's settings.
    public func media() throws(ConfigurationError) -> MediaSettings {
        var settings = MediaSettings()
        if let engine = raw(.ttsEngine) {
            guard ["espeak-ng", "openai"].contains(engine) else { throw ConfigurationError(setting: .ttsEngine, value: engine) }
            settings.speechEngine = engine
        }
        if let engine = raw(.imageEngine) {
            guard ["placeholder", "openai"].contains(engine) else { throw ConfigurationError(setting: .imageEngine, value: engine) }
            settings.imageEngine = engine
        }
        if let url = raw(.mediaBaseURL) {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else { throw ConfigurationError(setting: .mediaBaseURL, value: url) }
            settings.openAIBaseURL = url
        }
        if let key = environment[Setting.mediaAPIKey.environment], !key.isEmpty {
            settings.openAIKey = key
        } else if let key = environment["OPENAI_API_KEY"], !key.isEmpty {
            settings.openAIKey = key
        }
        settings.speechModel = raw(.ttsModel) ?? settings.speechModel
        settings.imageModel = raw(.imageModel) ?? settings.imageModel
        settings.workers = try integer(.mediaWorkers, 1...64) ?? settings.workers
        settings.maxQueue = try integer(.mediaQueue, 1...100_000) ?? settings.maxQueue
        settings.maxTextLength = try integer(.mediaMaxText, 1...100_000) ?? settings.maxTextLength
        settings.retries = try integer(.mediaRetries, 0...10) ?? settings.retries
        settings.jobTimeout = try duration(.mediaJobTimeout) ?? settings.jobTimeout
        settings.clientTokenLifetime = try duration(.mediaTokenLifetime) ?? settings.clientTokenLifetime
        return settings
    }

    /// The generation settings alone: what `rpgbot generate` needs.
    public func generation() throws(ConfigurationError) -> GenerationConfiguration {
        var configuration = GenerationConfiguration()
        if let path = try string(.profiles) {
            configuration.profilesPath = URL(fileURLWithPath: path)
            configuration.profilesPathGiven = true
        }
        var settings = GenlayersSettings()
        if let text = raw(.llmProvider) {
            guard GenerationEngine.providerNames.contains(text) else { throw ConfigurationError(setting: .llmProvider, value: text) }
            settings.provider = text
        }
        if let text = raw(.llmBaseURL) {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
                throw ConfigurationError(setting: .llmBaseURL, value: text)
            }
            settings.providerSettings.baseURL = text
        }
        if let key = environment[Setting.llmAPIKey.environment], !key.isEmpty {
            settings.providerSettings.apiKey = key
        } else if let key = environment["OPENAI_API_KEY"], !key.isEmpty {
            settings.providerSettings.apiKey = key
        }
        settings.providerSettings.model = try string(.llmModel) ?? settings.providerSettings.model
        settings.providerSettings.timeout = try duration(.llmTimeout) ?? settings.providerSettings.timeout
        if let text = raw(.llmHeaders) {
            var headers: [(name: String, value: String)] = []
            for pair in text.split(separator: ";") where !pair.trimmingCharacters(in: .whitespaces).isEmpty {
                let parts = pair.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                    throw ConfigurationError(setting: .llmHeaders, value: text, reason: "'\(pair)' is not Name: value")
                }
                headers.append((parts[0], parts[1]))
            }
            settings.providerSettings.extraHeaders = headers
        }
        if let text = raw(.llmChatDialect) {
            guard let dialect = ChatDialect(rawValue: text.lowercased()) else { throw ConfigurationError(setting: .llmChatDialect, value: text) }
            settings.providerSettings.chatDialect = dialect
        }
        if let text = raw(.llmRetries) {
            guard let retries = Int(text), (0...10).contains(retries) else { throw ConfigurationError(setting: .llmRetries, value: text) }
            settings.transportRetries = retries
        }
        configuration.engine = settings
        configuration.requestRate = try positiveNumber(.generationRate) ?? configuration.requestRate
        configuration.requestBurst = try positiveNumber(.generationBurst, minimum: 1) ?? configuration.requestBurst
        if let text = raw(.contextTokens) {
            do {
                configuration.contextBudgets = try ContextBudgets(parsing: text)
            } catch {
                throw ConfigurationError(setting: .contextTokens, value: text)
            }
        }
        return configuration
    }

    func positiveNumber(_ setting: Setting, minimum: Double = 0) throws(ConfigurationError) -> Double? {
        guard let text = raw(setting) else { return nil }
        guard let value = Double(text), value.isFinite, value > 0, value >= minimum else {
            throw ConfigurationError(setting: setting, value: text)
        }
        return value
    }

    func positiveInteger(_ setting: Setting) throws(ConfigurationError) -> Int? {
        guard let text = raw(setting) else { return nil }
        guard let value = Int(text), value >= 1 else {
            throw ConfigurationError(setting: setting, value: text)
        }
        return value
    }

    func observability() throws(ConfigurationError) -> ObservabilitySettings {
        var settings = ObservabilitySettings()
        if let text = raw(.logLevel) {
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw ConfigurationError(setting: .logLevel, value: text)
            }
            settings.logLevel = level
        }
        if let text = raw(.logFormat) {
            guard let format = LogFormat(rawValue: text.lowercased()) else {
                throw ConfigurationError(setting: .logFormat, value: text)
            }
            settings.logFormat = format
        }
        settings.metricsEnabled = try boolean(.metrics) ?? false

        var otelEnvironment = environment.filter { $0.key.hasPrefix("OTEL_") }
        if let endpoint = raw(.otelEndpoint) {
            guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
                throw ConfigurationError(setting: .otelEndpoint, value: endpoint)
            }
            otelEnvironment["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        }
        for key in ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] {
            if let value = environment[key], !value.isEmpty, value != "http/protobuf" {
                throw ConfigurationError(setting: .otelProtocol, value: value, reason: "\(key) must be http/protobuf in this build")
            }
        }
        if let text = raw(.otelTracesExporter) {
            guard let exporter = TraceExporter(rawValue: text.lowercased()) else {
                throw ConfigurationError(setting: .otelTracesExporter, value: text)
            }
            settings.traceExporter = exporter
        } else if raw(.otelEndpoint) != nil || environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"].map({ !$0.isEmpty }) == true {
            settings.traceExporter = .otlp
        }
        settings.otelServiceName = try string(.otelServiceName)
        settings.otelEnvironment = otelEnvironment
        return settings
    }
}
