import Foundation
public import Genlayers
public import Logging
public import Memory37

extension GatewayCapability {
    /// Ingests the content folder (unchanged documents cost nothing), reporting each bad file.
    /// While the store is unavailable the documents go into the fallback only: the folder is
    /// ingested again when the store is back.
    public static func ingestContent(_ configuration: KnowledgeConfiguration, into knowledge: KnowledgeService, logger: Logger) async {
        guard let folder = configuration.contentDirectory else { return }
        guard FileManager.default.fileExists(atPath: folder.path) else {
            if configuration.contentDirectoryGiven {
                logger.warning("knowledge content folder not found", metadata: ["path": "\(folder.path)"])
            }
            return
        }
        let loaded = DocumentLoader(defaultDomain: .lore, defaultCampaign: configuration.contentCampaign).load(folder)
        for failure in loaded.failures {
            logger.warning("knowledge document not ingested", metadata: ["file": "\(failure.path)", "line": "\(failure.line.map(String.init) ?? "-")", "reason": "\(failure.reason)"])
        }
        do {
            let report = try await knowledge.ingest(loaded.documents, whenStoreUnavailable: .fallbackOnly)
            for failure in report.failed {
                logger.warning("knowledge document not ingested", metadata: ["file": "\(failure.path)", "reason": "\(failure.reason)"])
            }
            for warning in report.warnings { logger.notice("knowledge content", metadata: ["warning": "\(warning)"]) }
            logger.info("knowledge content ingested", metadata: [
                "store": "\(knowledge.isDegraded ? "in-memory fallback" : knowledge.primary.kind)",
                "path": "\(folder.path)", "added": "\(report.added.count)", "updated": "\(report.updated.count)",
                "unchanged": "\(report.unchanged.count)", "failed": "\(report.failed.count + loaded.failures.count)",
            ])
        } catch {
            logger.error("knowledge content ingestion failed", metadata: ["error": "\(error)"])
        }
        await reportStaleVectors(in: knowledge, logger: logger)
    }

    /// Says once at start-up when stored chunks carry another model's vectors (the embedder
    /// changed, for one when the sentence model was installed): vector search leaves them out
    /// until `rpgbot reembed` redoes them.
    static func reportStaleVectors(in knowledge: KnowledgeService, logger: Logger) async {
        guard !knowledge.isDegraded, let models = try? await knowledge.primary.embeddingModels() else { return }
        let stale = models.filter { $0.key != knowledge.embedder.model }
        guard !stale.isEmpty else { return }
        let count = stale.values.reduce(0, +)
        logger.notice("\(count) knowledge chunks have vectors of another model than \(knowledge.embedder.model); vector search leaves them out until `rpgbot reembed` redoes them", metadata: [
            "models": "\(stale.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))",
        ])
    }

    /// The profiles file, checked in full; a default path that does not exist gives no profiles.
    public static func loadProfiles(_ configuration: GenerationConfiguration, logger: Logger) throws -> ProfileCatalog {
        let path = configuration.profilesPath.path
        if !configuration.profilesPathGiven, !FileManager.default.fileExists(atPath: path) {
            logger.warning("no generation profiles file; /v1/generation serves no profiles", metadata: ["path": "\(path)"])
            return ProfileCatalog(profiles: [])
        }
        let catalog = try ProfileCatalog.load(from: configuration.profilesPath, knownProviders: GenerationEngine.providerNames)
        logger.info("generation profiles loaded", metadata: ["path": "\(path)", "profiles": .array(catalog.sorted.map { .string($0.name) })])
        return catalog
    }
}
