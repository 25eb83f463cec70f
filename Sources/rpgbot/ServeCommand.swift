import ArgumentParser
import Observability
import Logging
import RPGBotApp

import Foundation

/// `rpgbot serve`: runs the HTTP server with the selected capability services.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the backend: every selected service in one process on one port.",
        discussion: """
            Each setting is read from its flag, else its environment variable, else the default.
            A bad value stops start-up with exit status 2. Environment-only settings:
              \(Setting.all.filter { $0.flag == nil }.map { "\($0.environment): \($0.helpText)" }.joined(separator: "\n  "))
            Other standard OTEL_* variables (headers, sampler, batch sizes) reach the OpenTelemetry exporter.
            """
    )

    @Option(name: .customLong("host"), help: ArgumentHelp(Setting.host.helpText, valueName: "address"))
    var host: String?

    @Option(name: .customLong("port"), help: ArgumentHelp(Setting.port.helpText, valueName: "port"))
    var port: String?

    @Option(name: .customLong("data-dir"), help: ArgumentHelp(Setting.dataDirectory.helpText, valueName: "path"))
    var dataDirectory: String?

    @Option(name: .customLong("services"), help: ArgumentHelp(Setting.services.helpText, valueName: "list"))
    var services: String?

    @Option(name: .customLong("database-url"), help: ArgumentHelp(Setting.databaseURL.helpText, valueName: "url"))
    var databaseURL: String?

    @Option(name: .customLong("log-level"), help: ArgumentHelp(Setting.logLevel.helpText, valueName: "level"))
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: ArgumentHelp(Setting.logFormat.helpText, valueName: "format"))
    var logFormat: String?

    @Option(name: .customLong("enable-metrics"), help: ArgumentHelp(Setting.metrics.helpText, valueName: "bool"))
    var enableMetrics: String?

    @Option(name: .customLong("max-body-size"), help: ArgumentHelp(Setting.maxBodySize.helpText, valueName: "size"))
    var maxBodySize: String?

    @Option(name: .customLong("database-wait"), help: ArgumentHelp(Setting.databaseWait.helpText, valueName: "duration"))
    var databaseWait: String?

    @Option(name: .customLong("http-idle-timeout"), help: ArgumentHelp(Setting.httpIdleTimeout.helpText, valueName: "duration"))
    var httpIdleTimeout: String?

    @Option(name: .customLong("max-connections"), help: ArgumentHelp(Setting.maxConnections.helpText, valueName: "count"))
    var maxConnections: String?

    @Option(name: .customLong("shutdown-timeout"), help: ArgumentHelp(Setting.shutdownTimeout.helpText, valueName: "duration"))
    var shutdownTimeout: String?

    @Option(name: .customLong("otel-traces-exporter"), help: ArgumentHelp(Setting.otelTracesExporter.helpText, valueName: "exporter"))
    var otelTracesExporter: String?

    @Option(name: .customLong("otel-endpoint"), help: ArgumentHelp(Setting.otelEndpoint.helpText, valueName: "url"))
    var otelEndpoint: String?

    @Option(name: .customLong("otel-service-name"), help: ArgumentHelp(Setting.otelServiceName.helpText, valueName: "name"))
    var otelServiceName: String?

    @Option(name: .customLong("ws-max-frame"), help: ArgumentHelp(Setting.wsMaxFrame.helpText, valueName: "size"))
    var wsMaxFrame: String?

    @Option(name: .customLong("ws-hello-timeout"), help: ArgumentHelp(Setting.wsHelloTimeout.helpText, valueName: "duration"))
    var wsHelloTimeout: String?

    @Option(name: .customLong("ws-ping-interval"), help: ArgumentHelp(Setting.wsPingInterval.helpText, valueName: "duration"))
    var wsPingInterval: String?

    @Option(name: .customLong("ws-pong-timeout"), help: ArgumentHelp(Setting.wsPongTimeout.helpText, valueName: "duration"))
    var wsPongTimeout: String?

    @Option(name: .customLong("ws-close-timeout"), help: ArgumentHelp(Setting.wsCloseTimeout.helpText, valueName: "duration"))
    var wsCloseTimeout: String?

    @Option(name: .customLong("ws-queue-bytes"), help: ArgumentHelp(Setting.wsQueueBytes.helpText, valueName: "size"))
    var wsQueueBytes: String?

    @Option(name: .customLong("ws-rate"), help: ArgumentHelp(Setting.wsRate.helpText, valueName: "number"))
    var wsRate: String?

    @Option(name: .customLong("ws-burst"), help: ArgumentHelp(Setting.wsBurst.helpText, valueName: "number"))
    var wsBurst: String?

    @Option(name: .customLong("replay-limit"), help: ArgumentHelp(Setting.replayLimit.helpText, valueName: "count"))
    var replayLimit: String?

    @Option(name: .customLong("idempotency-window"), help: ArgumentHelp(Setting.idempotencyWindow.helpText, valueName: "duration"))
    var idempotencyWindow: String?

    @Option(name: .customLong("presence-grace"), help: ArgumentHelp(Setting.presenceGrace.helpText, valueName: "duration"))
    var presenceGrace: String?

    @Option(name: .customLong("rest-publish-rate"), help: ArgumentHelp(Setting.restPublishRate.helpText, valueName: "number"))
    var restPublishRate: String?

    @Option(name: .customLong("rest-publish-burst"), help: ArgumentHelp(Setting.restPublishBurst.helpText, valueName: "number"))
    var restPublishBurst: String?

    @Option(name: .customLong("retention-events"), help: ArgumentHelp(Setting.retentionEvents.helpText, valueName: "count"))
    var retentionEvents: String?

    @Option(name: .customLong("retention-age"), help: ArgumentHelp(Setting.retentionAge.helpText, valueName: "duration"))
    var retentionAge: String?

    @Option(name: .customLong("profiles"), help: ArgumentHelp(Setting.profiles.helpText, valueName: "path"))
    var profiles: String?

    @Option(name: .customLong("llm-provider"), help: ArgumentHelp(Setting.llmProvider.helpText, valueName: "name"))
    var llmProvider: String?

    @Option(name: .customLong("llm-base-url"), help: ArgumentHelp(Setting.llmBaseURL.helpText, valueName: "url"))
    var llmBaseURL: String?

    @Option(name: .customLong("llm-model"), help: ArgumentHelp(Setting.llmModel.helpText, valueName: "name"))
    var llmModel: String?

    @Option(name: .customLong("llm-timeout"), help: ArgumentHelp(Setting.llmTimeout.helpText, valueName: "duration"))
    var llmTimeout: String?

    @Option(name: .customLong("llm-headers"), help: ArgumentHelp(Setting.llmHeaders.helpText, valueName: "headers"))
    var llmHeaders: String?

    @Option(name: .customLong("llm-chat-dialect"), help: ArgumentHelp(Setting.llmChatDialect.helpText, valueName: "dialect"))
    var llmChatDialect: String?

    @Option(name: .customLong("llm-retries"), help: ArgumentHelp(Setting.llmRetries.helpText, valueName: "count"))
    var llmRetries: String?

    @Option(name: .customLong("generation-rate"), help: ArgumentHelp(Setting.generationRate.helpText, valueName: "number"))
    var generationRate: String?

    @Option(name: .customLong("generation-burst"), help: ArgumentHelp(Setting.generationBurst.helpText, valueName: "number"))
    var generationBurst: String?

    @Option(name: .customLong("tts-engine"), help: ArgumentHelp(Setting.ttsEngine.helpText, valueName: "name"))
    var ttsEngine: String?

    @Option(name: .customLong("image-engine"), help: ArgumentHelp(Setting.imageEngine.helpText, valueName: "name"))
    var imageEngine: String?

    @Option(name: .customLong("media-base-url"), help: ArgumentHelp(Setting.mediaBaseURL.helpText, valueName: "url"))
    var mediaBaseURL: String?

    @Option(name: .customLong("tts-model"), help: ArgumentHelp(Setting.ttsModel.helpText, valueName: "name"))
    var ttsModel: String?

    @Option(name: .customLong("image-model"), help: ArgumentHelp(Setting.imageModel.helpText, valueName: "name"))
    var imageModel: String?

    @Option(name: .customLong("media-workers"), help: ArgumentHelp(Setting.mediaWorkers.helpText, valueName: "count"))
    var mediaWorkers: String?

    @Option(name: .customLong("media-queue"), help: ArgumentHelp(Setting.mediaQueue.helpText, valueName: "count"))
    var mediaQueue: String?

    @Option(name: .customLong("media-max-text"), help: ArgumentHelp(Setting.mediaMaxText.helpText, valueName: "characters"))
    var mediaMaxText: String?

    @Option(name: .customLong("media-retries"), help: ArgumentHelp(Setting.mediaRetries.helpText, valueName: "count"))
    var mediaRetries: String?

    @Option(name: .customLong("media-job-timeout"), help: ArgumentHelp(Setting.mediaJobTimeout.helpText, valueName: "duration"))
    var mediaJobTimeout: String?

    @Option(name: .customLong("media-token-ttl"), help: ArgumentHelp(Setting.mediaTokenLifetime.helpText, valueName: "duration"))
    var mediaTokenLifetime: String?

    @Option(name: .customLong("context-tokens"), help: ArgumentHelp(Setting.contextTokens.helpText, valueName: "list"))
    var contextTokens: String?

    @Option(name: .customLong("memory37"), help: ArgumentHelp(Setting.memory37Enabled.helpText, valueName: "bool"))
    var memory37Enabled: String?

    @Option(name: .customLong("content-dir"), help: ArgumentHelp(Setting.contentDirectory.helpText, valueName: "path"))
    var contentDirectory: String?

    @Option(name: .customLong("content-campaign"), help: ArgumentHelp(Setting.contentCampaign.helpText, valueName: "id"))
    var contentCampaign: String?

    @Option(name: .customLong("embedder"), help: ArgumentHelp(Setting.embedder.helpText, valueName: "name"))
    var embedder: String?

    @Option(name: .customLong("embedding-base-url"), help: ArgumentHelp(Setting.embeddingBaseURL.helpText, valueName: "url"))
    var embeddingBaseURL: String?

    @Option(name: .customLong("embedding-model"), help: ArgumentHelp(Setting.embeddingModel.helpText, valueName: "name"))
    var embeddingModel: String?

    @Option(name: .customLong("embedding-dimensions"), help: ArgumentHelp(Setting.embeddingDimensions.helpText, valueName: "count"))
    var embeddingDimensions: String?

    @Option(name: .customLong("chunk-tokens"), help: ArgumentHelp(Setting.chunkTokens.helpText, valueName: "count"))
    var chunkTokens: String?

    @Option(name: .customLong("knowledge-search"), help: ArgumentHelp(Setting.knowledgeSearch.helpText, valueName: "where"))
    var knowledgeSearch: String?

    @Option(name: .customLong("knowledge-store-timeout"), help: ArgumentHelp(Setting.knowledgeStoreTimeout.helpText, valueName: "duration"))
    var knowledgeStoreTimeout: String?

    @Option(name: .customLong("chunk-overlap"), help: ArgumentHelp(Setting.chunkOverlap.helpText, valueName: "count"))
    var chunkOverlap: String?

    /// The flags given, keyed by setting flag name, for ``ConfigurationLoader``.
    var givenFlags: [String: String] {
        let pairs: [(Setting, String?)] = [
            (.host, host), (.port, port), (.dataDirectory, dataDirectory), (.services, services),
            (.databaseURL, databaseURL), (.databaseWait, databaseWait), (.logLevel, logLevel), (.logFormat, logFormat),
            (.metrics, enableMetrics), (.maxBodySize, maxBodySize), (.httpIdleTimeout, httpIdleTimeout), (.maxConnections, maxConnections), (.shutdownTimeout, shutdownTimeout),
            (.otelTracesExporter, otelTracesExporter), (.otelEndpoint, otelEndpoint), (.otelServiceName, otelServiceName),
            (.wsMaxFrame, wsMaxFrame), (.wsHelloTimeout, wsHelloTimeout), (.wsPingInterval, wsPingInterval), (.wsPongTimeout, wsPongTimeout),
            (.wsCloseTimeout, wsCloseTimeout), (.wsQueueBytes, wsQueueBytes), (.wsRate, wsRate), (.wsBurst, wsBurst), (.replayLimit, replayLimit),
            (.idempotencyWindow, idempotencyWindow), (.presenceGrace, presenceGrace), (.restPublishRate, restPublishRate), (.restPublishBurst, restPublishBurst),
            (.retentionEvents, retentionEvents), (.retentionAge, retentionAge),
            (.profiles, profiles), (.llmProvider, llmProvider), (.llmBaseURL, llmBaseURL), (.llmModel, llmModel),
            (.llmTimeout, llmTimeout), (.llmHeaders, llmHeaders), (.llmChatDialect, llmChatDialect), (.llmRetries, llmRetries),
            (.generationRate, generationRate), (.generationBurst, generationBurst), (.contextTokens, contextTokens),
            (.memory37Enabled, memory37Enabled), (.contentDirectory, contentDirectory), (.contentCampaign, contentCampaign),
            (.embedder, embedder), (.embeddingBaseURL, embeddingBaseURL), (.embeddingModel, embeddingModel),
            (.embeddingDimensions, embeddingDimensions), (.chunkTokens, chunkTokens), (.chunkOverlap, chunkOverlap), (.knowledgeSearch, knowledgeSearch), (.knowledgeStoreTimeout, knowledgeStoreTimeout),
            (.ttsEngine, ttsEngine), (.imageEngine, imageEngine), (.mediaBaseURL, mediaBaseURL), (.ttsModel, ttsModel), (.imageModel, imageModel), (.mediaWorkers, mediaWorkers), (.mediaQueue, mediaQueue), (.mediaMaxText, mediaMaxText), (.mediaRetries, mediaRetries), (.mediaJobTimeout, mediaJobTimeout), (.mediaTokenLifetime, mediaTokenLifetime),
        ]
        var flags: [String: String] = [:]
        for (setting, value) in pairs {
            if let flag = setting.flag, let value { flags[flag] = value }
        }
        return flags
    }

    func run() async throws {
        let configuration: RPGBotConfiguration
        do {
            configuration = try ConfigurationLoader(flags: givenFlags).load()
        } catch {
            throw StartupError(message: error.description, exitCode: RPGBotCommand.usageExitCode)
        }
        let telemetry: Telemetry
        do {
            telemetry = try Observability.bootstrap(service: "rpgbot", settings: configuration.observability)
        } catch {
            throw StartupError(message: "cannot start telemetry: \(error)", exitCode: 1)
        }
        let server: RPGBotServer
        do {
            server = try await RPGBotServer.prepare(configuration: configuration, telemetry: telemetry)
        } catch {
            telemetry.logger.critical("start-up failed", metadata: ["error": "\(error)"])
            throw StartupError(message: "start-up failed: \(error)", exitCode: 1)
        }
        do {
            try await server.run()
        } catch {
            telemetry.logger.critical("server stopped with an error", metadata: ["error": "\(error)"])
            throw StartupError(message: "server stopped: \(error)", exitCode: 1)
        }
    }
}
