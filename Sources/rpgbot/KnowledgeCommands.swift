import CapabilityKit
import JSONValues
import ArgumentParser
import Foundation
import Logging
import Memory37
import RPGBotApp
import ServiceKit

/// Where the knowledge lives: the same settings as `rpgbot serve` (flags here, the rest from
/// the environment: embedder, chunking).
struct KnowledgeLocation: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: ArgumentHelp(Setting.dataDirectory.helpText, valueName: "path"))
    var dataDirectory: String?

    @Option(name: .customLong("database-url"), help: ArgumentHelp(Setting.databaseURL.helpText, valueName: "url"))
    var databaseURL: String?

    func configuration() throws -> RPGBotConfiguration {
        var flags: [String: String] = [:]
        if let dataDirectory { flags["data-dir"] = dataDirectory }
        if let databaseURL { flags["database-url"] = databaseURL }
        do {
            return try ConfigurationLoader(flags: flags).load()
        } catch {
            throw StartupError(message: error.description, exitCode: RPGBotCommand.usageExitCode)
        }
    }

    /// Warnings (a configured model that is missing, for one) reach stderr; the rest is quiet.
    static var quietLogger: Logger {
        var logger = Logger(label: "rpgbot.memory37")
        logger.logLevel = .warning
        return logger
    }
}

/// `rpgbot ingest`: knowledge documents from files into the store, incrementally.
struct IngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Ingest knowledge documents (Markdown, YAML, JSON, the 5e-database layout, or a Datasworn ruleset).",
        discussion: """
            Unchanged documents are skipped, changed ones replaced (each in one transaction), and
            with --prune the scope's documents that were not given are deleted. A malformed file
            is reported and the others are still ingested. Prints a summary; exit status 1 if any
            file failed, 2 for bad arguments. See docs/knowledge-content.md.

            With --as-version the documents (of one scope and one domain) go into that version:
            a new draft, started from --from when given (documents not in PATH are carried over
            unless --prune); --publish publishes it, --alias NAME publishes it and points NAME at
            it. Without --as-version they go into the scope's working versions, which the
            <domain>_latest aliases point to until switched. See docs/knowledge.md.
            """
    )

    @Argument(help: "A file or folder (read recursively).")
    var path: String

    @Option(help: ArgumentHelp("Campaign of documents that do not name one (default: global).", valueName: "id"))
    var campaign: String?

    @Option(help: ArgumentHelp("Domain of documents that do not name one: \(KnowledgeDomain.acceptedList) (default lore).", valueName: "domain"))
    var domain: String?

    @Option(help: ArgumentHelp("markdown (files with front matter, YAML, JSON), 5e-database (the 5e-database repository layout) or datasworn (an Ironsworn ruleset file such as classic.json).", valueName: "format"))
    var format: String = "markdown"

    @Flag(help: "Delete the scope's documents (of --domain, when given; of the version, with --as-version) that are not in PATH.")
    var prune = false

    @Option(name: .customLong("as-version"), help: ArgumentHelp("Ingest into this version of the scope (created as a draft when new).", valueName: "version"))
    var asVersion: String?

    @Option(help: ArgumentHelp("With --as-version: start the new version from this version or alias.", valueName: "version-or-alias"))
    var from: String?

    @Flag(help: "With --as-version: publish the version when the documents are in.")
    var publish = false

    @Option(help: ArgumentHelp("With --as-version: publish the version and point this alias at it (e.g. srd_latest).", valueName: "name"))
    var alias: String?

    @Option(help: ArgumentHelp("With --format 5e-database: the SRD edition, 2014 or 2024.", valueName: "edition"))
    var edition: String = "2014"

    @Option(help: ArgumentHelp("With --as-version: a note kept with a new version.", valueName: "text"))
    var note: String?

    @OptionGroup var location: KnowledgeLocation

    func run() async throws {
        if let campaign, !PathIdentifier.isValid(campaign) {
            throw StartupError(message: "--campaign must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", exitCode: RPGBotCommand.usageExitCode)
        }
        var defaultDomain = KnowledgeDomain.lore
        if let domain {
            guard let parsed = KnowledgeDomain(rawValue: domain) else {
                throw StartupError(message: "--domain must be one of \(KnowledgeDomain.acceptedList)", exitCode: RPGBotCommand.usageExitCode)
            }
            defaultDomain = parsed
        }
        let url = URL(fileURLWithPath: path)
        let loaded: (documents: [KnowledgeDocument], failures: [DocumentLoader.Failure])
        switch format {
        case "markdown": loaded = DocumentLoader(defaultDomain: defaultDomain, defaultCampaign: campaign).load(url)
        case "5e-database":
            guard let edition = FiveEDatabaseImporter.Edition(rawValue: edition) else {
                throw StartupError(message: "--edition must be 2014 or 2024", exitCode: RPGBotCommand.usageExitCode)
            }
            loaded = Self.into(campaign, FiveEDatabaseImporter(edition: edition).load(url))
        case "datasworn":
            loaded = Self.into(campaign, DataswornImporter().load(url))
        default: throw StartupError(message: "--format must be markdown, 5e-database or datasworn", exitCode: RPGBotCommand.usageExitCode)
        }
        if loaded.documents.isEmpty && !loaded.failures.isEmpty && !FileManager.default.fileExists(atPath: url.path) {
            throw StartupError(message: "\(path): no such file or folder", exitCode: RPGBotCommand.usageExitCode)
        }
        let configuration = try location.configuration()
        let prune = self.prune
        let campaign = self.campaign
        let pruneDomains: Set<KnowledgeDomain>? = switch (domain, format) {
        case (nil, "5e-database"): [.srd]
        case (nil, "datasworn"): DataswornImporter.domains
        case (nil, _): nil
        default: [defaultDomain]
        }
        let start = ContinuousClock.now
        for (flag, value) in [("--as-version", asVersion), ("--from", from), ("--alias", alias)] {
            if let value, !KnowledgeVersion.isValidName(value) {
                throw StartupError(message: "\(flag) must match \(KnowledgeVersion.namePattern)", exitCode: RPGBotCommand.usageExitCode)
            }
        }
        if asVersion == nil, from != nil || publish || alias != nil {
            throw StartupError(message: "--from, --publish and --alias need --as-version", exitCode: RPGBotCommand.usageExitCode)
        }
        let options = IngestOptions(
            version: asVersion, from: from, publish: publish, alias: alias, prune: prune, pruneScope: .some(campaign),
            pruneDomains: asVersion == nil ? pruneDomains : nil, actor: "cli", note: note ?? ""
        )
        let report = try await KnowledgeToolbox.withKnowledge(configuration, logger: KnowledgeLocation.quietLogger) { service in
            try await service.ingest(loaded.documents, options: options)
        }
        let elapsed = ContinuousClock.now - start
        let failures = loaded.failures + report.failed
        for failure in failures {
            writeStandardError("rpgbot: \(failure)\n")
        }
        for warning in report.warnings {
            writeStandardError("rpgbot: warning: \(warning)\n")
        }
        var summary = report
        summary.failed = failures
        var target = ""
        if let version = report.version { target = " into \(version.id) (\(version.state.rawValue))" }
        if let alias = report.alias { target += ", \(alias.name) → \(alias.to ?? "working")" }
        print("ingested \(path)\(target): \(summary.summary) in \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .abbreviated)))")
        if !failures.isEmpty { throw ExitCode(1) }
    }
}

extension IngestCommand {
    /// Imported documents are global unless `--campaign` names one.
    static func into(_ campaign: String?, _ imported: (documents: [KnowledgeDocument], failures: [DocumentLoader.Failure])) -> (documents: [KnowledgeDocument], failures: [DocumentLoader.Failure]) {
        guard let campaign else { return imported }
        return (imported.documents.map { var document = $0; document.campaignID = campaign; return document }, imported.failures)
    }
}

/// `rpgbot search`: a hybrid search from the command line.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "Search the knowledge (hybrid BM25 + vectors) and print the hits as JSON.")

    @Argument(help: "The query.")
    var query: String

    @Option(help: ArgumentHelp("The campaign asking (its knowledge plus the global one).", valueName: "id"))
    var campaign: String?

    @Option(help: ArgumentHelp("Comma-separated domains: \(KnowledgeDomain.acceptedList).", valueName: "list"))
    var domains: String?

    @Option(help: "How many hits.")
    var k: Int = 5

    @Option(help: "hybrid, bm25 or vector.")
    var mode: String = "hybrid"

    @Flag(help: "Include gm-only knowledge.")
    var gm = false

    @OptionGroup var location: KnowledgeLocation

    func run() async throws {
        guard let searchMode = SearchMode(rawValue: mode) else { throw StartupError(message: "--mode must be hybrid, bm25 or vector", exitCode: RPGBotCommand.usageExitCode) }
        guard (1...100).contains(k) else { throw StartupError(message: "--k must be 1–100", exitCode: RPGBotCommand.usageExitCode) }
        var domainSet = Set<KnowledgeDomain>()
        for name in (domains ?? "").split(separator: ",") {
            guard let domain = KnowledgeDomain(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw StartupError(message: "--domains: unknown domain '\(name)'", exitCode: RPGBotCommand.usageExitCode)
            }
            domainSet.insert(domain)
        }
        let filter = SearchFilter(campaignID: campaign, domains: domainSet, includeGM: gm)
        let query = self.query
        let k = self.k
        let hits = try await KnowledgeToolbox.withKnowledge(try location.configuration(), logger: KnowledgeLocation.quietLogger) { service in
            try await service.search(query, filter: filter, k: k, mode: searchMode)
        }
        print(GenerateCommand.pretty(.object(["hits": .array(hits.map(KnowledgeRoutes.encode))])))
    }
}

/// `rpgbot reembed`: redoes the vectors made by another embedding model than the configured one.
struct ReembedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reembed", abstract: "Recompute chunk vectors made by another embedding model than the configured one.",
        discussion: "Each batch is stored as it is done: an interrupted run picks up where it stopped. Progress goes to stderr.")

    @OptionGroup var location: KnowledgeLocation

    @Option(help: "Chunks embedded and stored per batch.")
    var batchSize: Int = 64

    func validate() throws {
        guard (1...4096).contains(batchSize) else { throw ValidationError("--batch-size must be 1–4096") }
    }

    func run() async throws {
        let batchSize = self.batchSize
        let (before, count, model) = try await KnowledgeToolbox.withKnowledge(try location.configuration(), logger: KnowledgeLocation.quietLogger) { service in
            let before = try await service.primary.embeddingModels()
            let model = service.embedder.model
            let stale = before.filter { $0.key != model }.values.reduce(0, +)
            let started = ContinuousClock.now
            let count = try await service.reembed(batchSize: batchSize) { done in
                let seconds = (ContinuousClock.now - started).inSeconds
                FileHandle.standardError.write(Data(String(format: "re-embedded %d of %d chunks (%.1f chunks/s)\n", done, stale, Double(done) / max(seconds, 0.001)).utf8))
            }
            return (before, count, model)
        }
        print("chunks by model before: \(before.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); re-embedded \(count) with \(model)")
    }
}
