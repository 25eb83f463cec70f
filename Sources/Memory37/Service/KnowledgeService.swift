public import JSONValues
public import Foundation
public import Logging
public import Observability
public import ServiceKit
import HTTPTypes
import Synchronization
import Tracing

/// The knowledge layer's front: ingestion, hybrid search and the read API, over the configured
/// store, falling back to an in-memory store when the configured one fails: the store's own
/// in-memory copy when it keeps one (PostgreSQL with in-process search), otherwise one holding
/// what was ingested since start. `/ready` reports the fallback as degraded.
public final class KnowledgeService: Sendable {
    public let primary: any KnowledgeStore
    public let fallback: InMemoryKnowledgeStore
    public let embedder: any Embedder
    let ingestor: Ingestor
    let metrics: KnowledgeMetrics
    let logger: Logger
    private let degradedState = Atomic<Bool>(false)
    /// The fallback is the store's own copy, which every write to the store updates already.
    private let fallbackIsStoreCopy: Bool

    /// Time a read of the configured store may take before it is served from the fallback.
    public let storeTimeout: Duration
    /// Default lifetimes by domain, in seconds (campaigns may override them).
    public let lifetimes: [KnowledgeDomain: Double]
    /// How long a retired version stays before cleanup deletes it.
    public let retiredGrace: TimeInterval
    /// The registry last read from the configured store: reads resolve through it while the
    /// store is unavailable.
    let lastCatalog = Mutex<VersionCatalog?>(nil)
    /// Indexes derived from the documents (the campaign graph), told of every change.
    let followers = Mutex<[any KnowledgeFollower]>([])

    public init(store: any KnowledgeStore, embedder: any Embedder, chunker: Chunker = Chunker(), storeTimeout: Duration = .seconds(3), lifetimes: [KnowledgeDomain: Double] = [:], retiredGrace: TimeInterval = 7 * 86_400, metrics: MetricsRegistry? = nil, logger: Logger = Logger(label: "rpgbot.memory37")) {
        self.primary = store
        self.storeTimeout = storeTimeout
        self.lifetimes = lifetimes
        self.retiredGrace = retiredGrace
        self.fallback = store.inMemoryCopy ?? InMemoryKnowledgeStore(dimensions: embedder.dimensions)
        self.fallbackIsStoreCopy = store.inMemoryCopy != nil
        let metrics = KnowledgeMetrics(registry: metrics)
        let measured = MeasuredEmbedder(base: embedder, metrics: metrics)
        self.embedder = measured
        self.ingestor = Ingestor(embedder: measured, chunker: chunker)
        self.metrics = metrics
        self.logger = logger
    }

    /// Adds an index that checks documents before they are written and follows every change.
    public func follow(with follower: any KnowledgeFollower) {
        followers.withLock { $0.append(follower) }
    }

    /// Tells the followers that `versions` (nil: any) changed; returns their warnings.
    @discardableResult
    public func notifyFollowers(_ versions: Set<KnowledgeVersionRef>?) async -> [String] {
        var warnings: [String] = []
        for follower in followers.withLock({ $0 }) { warnings += await follower.knowledgeChanged(in: versions) }
        return warnings
    }

    /// Whether reads are served by the in-memory fallback.
    public var isDegraded: Bool { degradedState.load(ordering: .relaxed) }

    /// Loads the primary store; if that fails, serves from the fallback.
    public func prepare() async {
        do {
            try await primary.prepare()
        } catch {
            markDegraded(error)
        }
    }

    func markDegraded(_ error: any Error) {
        if !degradedState.exchange(true, ordering: .relaxed) {
            logger.warning("knowledge store unavailable; serving from the in-memory fallback", metadata: ["store": "\(primary.kind)", "error": "\(error)"])
            metrics.fallback(true)
        }
    }

    /// Tries the primary again; back to normal when it answers. Returns whether it switched
    /// back.
    @discardableResult
    public func probePrimary() async -> Bool {
        guard isDegraded else { return false }
        do {
            try await primary.prepare()
            _ = try await primary.counts()
            degradedState.store(false, ordering: .relaxed)
            metrics.fallback(false)
            logger.notice("knowledge store reachable again", metadata: ["store": "\(primary.kind)"])
            return true
        } catch {
            return false
        }
    }

    /// Returns when the primary can take a write: the service is not degraded, or the store
    /// answers again within the store timeout (then it switches back, as the upkeep would: a
    /// read that once ran slow on a busy machine must not refuse writes until the next probe).
    /// Throws ``KnowledgeStoreUnavailable`` otherwise, at the latest after the store timeout.
    private func checkPrimaryTakesWrites() async throws {
        guard isDegraded else { return }
        do {
            _ = try await onPrimary { try await $0.counts() }
        } catch {
            throw KnowledgeStoreUnavailable(underlying: error, retryAfter: Self.probeInterval)
        }
        guard await probePrimary() else { throw KnowledgeStoreUnavailable(underlying: nil, retryAfter: Self.probeInterval) }
    }

    /// How often a degraded service checks the configured store again; also the `Retry-After`
    /// of a refused write.
    public static let probeInterval: Duration = .seconds(15)

    /// Brings the configured store's in-process copy up to date with other nodes' writes, if it
    /// keeps one: called in the background, so that a node nobody reads from never falls behind
    /// the change log and its next read has little to apply. A store that fails or does not
    /// answer in time makes the service degraded, as a read would.
    public func refresh() async {
        guard !isDegraded else { return }
        do {
            try await onPrimary { try await $0.refresh() }
        } catch is CancellationError {
        } catch let timeout as StoreTimeout {
            // A busy machine can hold one refresh past the timeout; a store that went away
            // does not answer the next question either.
            do {
                _ = try await onPrimary { try await $0.counts() }
            } catch {
                markDegraded(timeout)
            }
        } catch {
            markDegraded(error)
        }
    }

    /// Runs `body` on the primary store, or on the fallback when the primary fails or takes
    /// longer than ``storeTimeout`` (a database that went away can keep a query waiting for a
    /// connection for a minute), in one ``ReadScope``.
    func reading<T: Sendable>(_ body: @escaping @Sendable (any KnowledgeStore) async throws -> T) async throws -> T {
        try await ReadScope.run { try await readingPrimaryFirst(body) }
    }

    private func readingPrimaryFirst<T: Sendable>(_ body: @escaping @Sendable (any KnowledgeStore) async throws -> T) async throws -> T {
        if !isDegraded {
            do {
                return try await onPrimary(body)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                markDegraded(error)
            }
        }
        return try await body(fallback)
    }

    /// `body` on the primary store; ``StoreTimeout`` when it takes longer than ``storeTimeout``
    /// (the call is then abandoned, not awaited).
    func onPrimary<T: Sendable>(_ body: @escaping @Sendable (any KnowledgeStore) async throws -> T) async throws -> T {
        let primary = self.primary
        guard let result = try await withDeadline(storeTimeout, { try await body(primary) }) else { throw StoreTimeout(timeout: storeTimeout) }
        return result
    }

    // MARK: - Ingestion

    /// What a write does while the configured store is unavailable.
    public enum WhenStoreUnavailable: Sendable {
        /// Throw ``KnowledgeStoreUnavailable``: the caller keeps the documents and sends them
        /// again. A write kept only in the fallback would be lost when the store comes back.
        case refuse
        /// Write them into the fallback only, so reads can find them meanwhile: for documents
        /// the caller writes again once the store is back (the content folder is ingested at
        /// every start and on recovery).
        case fallbackOnly
    }

    /// Writes the documents whose content changed, each atomically; with `prune`, deletes the
    /// scope's documents that were not given (limited to `pruneDomains` when set). The
    /// fallback store receives the same documents, so it can answer if the primary fails.
    /// When the store fails, or the service is already degraded, `whenStoreUnavailable` decides.
    public func ingest(
        _ documents: [KnowledgeDocument], prune: Bool = false, pruneScope: String?? = nil, pruneDomains: Set<KnowledgeDomain>? = nil,
        whenStoreUnavailable: WhenStoreUnavailable = .refuse
    ) async throws -> IngestReport {
        try await ingest(documents, options: IngestOptions(prune: prune, pruneScope: pruneScope, pruneDomains: pruneDomains), whenStoreUnavailable: whenStoreUnavailable)
    }

    /// Writes documents into their working versions, or with `options.version` into one
    /// version of their scope and domain: created as a draft when new, started from
    /// `options.from` when given, then published and aliased when asked (one transaction).
    public func ingest(_ documents: [KnowledgeDocument], options: IngestOptions, whenStoreUnavailable: WhenStoreUnavailable = .refuse) async throws -> IngestReport {
        try await withSpan("knowledge.ingest") { span in
            span.attributes["rpgbot.knowledge.documents"] = documents.count
            // Documents a follower refuses (a relation cycle) fail alone, before anything is written.
            let followers = self.followers.withLock { $0 }
            var refused: [DocumentLoader.Failure] = []
            let documents = followers.isEmpty ? documents : documents.filter { document in
                guard let reason = followers.lazy.compactMap({ $0.check(document) }).first else { return true }
                refused.append(DocumentLoader.Failure(path: document.origin ?? document.sourceID, line: nil, reason: reason))
                return false
            }
            let start = ContinuousClock.now
            var plan = Ingestor.Plan()
            var target: KnowledgeVersionRef?
            if let version = options.version {
                let (ref, from) = try await prepareVersion(version, documents: documents, options: options)
                plan.target = ref
                plan.from = from
                target = ref
                if options.prune { plan.prune[ref] = .some(nil) }
                span.attributes["rpgbot.knowledge.version"] = version
            } else if options.version == nil, options.from != nil || options.publish || options.alias != nil {
                throw APIError.validation([.init(pointer: "/version", detail: "is required with from, publish or alias")])
            } else if options.prune {
                var scopes = Set(documents.map(\.campaignID))
                if let pruneScope = options.pruneScope { scopes.insert(pruneScope) }
                for scope in scopes {
                    for domain in options.pruneDomains ?? Set(KnowledgeDomain.allCases) {
                        plan.prune[.working(domain, campaignID: scope)] = .some(options.pruneDomains)
                    }
                }
            }
            var report: IngestReport
            do {
                try await checkPrimaryTakesWrites()
                do {
                    // The fallback keeps a copy; its failure must not fail the ingestion.
                    report = try await ingestor.ingest(documents, into: primary, mirror: fallbackIsStoreCopy ? nil : fallback, plan: plan)
                } catch let failure as StoreCallFailure {
                    // A store that still answers refused this write for its content — a gap in
                    // validation, not an outage: reported as the error it is, no degrading.
                    if (try? await onPrimary({ try await $0.counts() })) != nil {
                        logger.error("knowledge store refused a write", metadata: ["store": "\(primary.kind)", "error": "\(failure.underlying)"])
                        throw failure.underlying
                    }
                    markDegraded(failure.underlying)
                    throw KnowledgeStoreUnavailable(underlying: failure.underlying, retryAfter: Self.probeInterval)
                }
            } catch let unavailable as KnowledgeStoreUnavailable {
                guard whenStoreUnavailable == .fallbackOnly, target == nil else {
                    span.attributes["rpgbot.knowledge.refused"] = true
                    throw unavailable
                }
                report = try await ingestor.ingest(documents, into: fallback, plan: plan)
            }
            if let target {
                let publish = options.publish || options.alias != nil
                let actor = options.actor
                let (version, alias) = try await changeRegistry("knowledge.publish") { catalog -> (KnowledgeVersion?, AliasChange?) in
                    var version = catalog.version(target.version, campaignID: target.campaignID)
                    if publish { version = try catalog.publish(target.version, campaignID: target.campaignID, now: Date()) }
                    let alias = try options.alias.map { try catalog.setAlias($0, campaignID: target.campaignID, to: target.version, by: actor, now: Date()) }
                    return (version, alias)
                }
                report.version = version
                report.alias = alias
            }
            report.failed += refused
            if !followers.isEmpty {
                var changed = Set(documents.map { KnowledgeVersionRef(campaignID: $0.campaignID, version: plan.version ?? KnowledgeVersion.workingID($0.domain)) })
                changed.formUnion(plan.prune.keys)
                if let target { changed.insert(target) }
                report.warnings += await notifyFollowers(changed)
            }
            metrics.ingested(report, duration: ContinuousClock.now - start)
            return report
        }
    }

    /// Checks a versioned ingestion and records its version (a new draft) before anything is
    /// written. Returns the version and the version id it starts from.
    private func prepareVersion(_ version: String, documents: [KnowledgeDocument], options: IngestOptions) async throws -> (KnowledgeVersionRef, String?) {
        let scopes = Set(documents.map(\.campaignID))
        guard scopes.count <= 1 else {
            throw APIError.validation([.init(pointer: "/documents", detail: "a version belongs to one scope: these documents name \(scopes.count) (\(scopes.map { $0 ?? "global" }.sorted().joined(separator: ", ")))")])
        }
        let domains = Set(documents.map(\.domain))
        guard domains.count <= 1 else {
            throw APIError.validation([.init(pointer: "/documents", detail: "a version holds one domain: these documents are \(domains.map(\.rawValue).sorted().joined(separator: ", "))")])
        }
        let campaignID = scopes.first ?? options.pruneScope ?? nil
        let catalog = try await currentCatalog()
        var from: KnowledgeVersion?
        if let name = options.from {
            guard let found = catalog.resolve(name, campaignID: campaignID) else {
                throw APIError(.notFound, code: "unknown_version", detail: "No version or alias \(name) in \(campaignID.map { "campaign \($0)" } ?? "the global scope").", errors: [.init(pointer: "/from", detail: "no such version or alias")])
            }
            from = found
        }
        guard let domain = domains.first ?? from?.domain ?? catalog.version(version, campaignID: campaignID)?.domain else {
            throw APIError.validation([.init(pointer: "/documents", detail: "must not be empty unless the version starts from another (from)")])
        }
        if let from, from.domain != domain {
            throw APIError.validation([.init(pointer: "/from", detail: "\(from.id) holds \(from.domain.rawValue), not \(domain.rawValue)")])
        }
        let actor = options.actor
        let note = options.note
        _ = try await changeRegistry("knowledge.version_prepare") { catalog in
            try catalog.prepareForWriting(version, campaignID: campaignID, domain: domain, by: actor, now: Date(), note: note)
        }
        return (KnowledgeVersionRef(campaignID: campaignID, version: version), from?.id)
    }

    // MARK: - Search and read API

    public func search(_ query: String, filter: SearchFilter, k: Int = 8, mode: SearchMode = .hybrid) async throws -> [SearchHit] {
        try await withSpan("knowledge.search") { span in
            span.attributes["rpgbot.knowledge.k"] = k
            let start = ContinuousClock.now
            // Resolution and search in one read scope: a store that catches up before reads
            // (PostgreSQL with in-process search) does so once for both.
            let hits = try await ReadScope.run {
                let filter = try await resolved(filter)
                return try await reading { store in
                    try await HybridSearcher(store: store, embedder: self.embedder).search(query, filter: filter, k: k, mode: mode)
                }
            }
            metrics.searched(store: isDegraded ? fallback.kind : primary.kind, duration: ContinuousClock.now - start)
            span.attributes["rpgbot.knowledge.hits"] = hits.count
            return hits
        }
    }

    /// Lore about a topic: the `lore` domain unless other domains are named.
    public func loreSearch(_ query: String, filter: SearchFilter, k: Int = 8) async throws -> [SearchHit] {
        var lore = filter
        if lore.domains.isEmpty { lore.domains = [.lore] }
        return try await search(query, filter: lore, k: k)
    }

    /// A rule by its exact name or alias first, then by search within `srd`.
    public func rulesLookup(_ query: String, filter: SearchFilter, k: Int = 5) async throws -> [SearchHit] {
        try await ReadScope.run { try await rulesLookupInScope(query, filter: filter, k: k) }
    }

    private func rulesLookupInScope(_ query: String, filter: SearchFilter, k: Int) async throws -> [SearchHit] {
        var rules = filter
        rules.domains = [.srd]
        rules = try await resolved(rules)
        let exact = try await reading { [rules] in try await $0.chunks(named: query.trimmingCharacters(in: .whitespacesAndNewlines), filter: rules) }
        var hits = exact.prefix(k).map { SearchHit(chunk: $0, score: 1, bm25Rank: nil, vectorRank: nil, aliasHit: true, snippet: Snippet.make($0.text, query: query)) }
        if hits.count < k {
            let seen = Set(hits.map(\.chunk.id))
            hits += try await search(query, filter: rules, k: k).filter { !seen.contains($0.chunk.id) }.prefix(k - hits.count)
        }
        return Array(hits)
    }

    /// A campaign's episodes in session order.
    public func sessionFetch(filter: SearchFilter, fromSession: Int? = nil, toSession: Int? = nil, limit: Int = 50) async throws -> [KnowledgeChunk] {
        var episodes = filter
        episodes.domains = [.episode]
        return try await ReadScope.run {
            let filter = try await resolved(episodes)
            return try await reading { try await $0.episodes(filter: filter, fromSession: fromSession, toSession: toSession, limit: limit) }
        }
    }

    /// Art references for a scene description.
    public func artSuggest(_ description: String, filter: SearchFilter, k: Int = 5) async throws -> [SearchHit] {
        var art = filter
        art.domains = [.art]
        return try await search(description, filter: art, k: k)
    }

    /// An NPC found by source id, name or alias, with all its chunks merged.
    public func npcProfile(_ reference: String, filter: SearchFilter) async throws -> NPCProfile? {
        try await ReadScope.run { try await npcProfileInScope(reference, filter: filter) }
    }

    private func npcProfileInScope(_ reference: String, filter: SearchFilter) async throws -> NPCProfile? {
        var npcs = filter
        npcs.domains = [.npc]
        npcs = try await resolved(npcs)
        let trimmed = reference.trimmingCharacters(in: .whitespacesAndNewlines)
        var chunks = try await reading { [npcs] in try await $0.chunks(sourceIDs: [trimmed], filter: npcs) }
        if chunks.isEmpty {
            let named = try await reading { [npcs] in try await $0.chunks(named: trimmed, filter: npcs) }
            // Prefer the campaign's own NPC over a global one of the same name.
            guard let source = (named.first { $0.campaignID != nil } ?? named.first)?.sourceID else { return nil }
            chunks = try await reading { [npcs] in try await $0.chunks(sourceIDs: [source], filter: npcs) }
        }
        if let campaign = chunks.first(where: { $0.campaignID != nil })?.campaignID {
            chunks = chunks.filter { $0.campaignID == campaign }
        }
        guard let first = chunks.first else { return nil }
        return NPCProfile(
            id: first.sourceID, name: first.title, aliases: first.aliases, campaignID: first.campaignID,
            visibility: chunks.contains { $0.visibility == .gm } ? .gm : .players,
            fields: first.metadata, text: chunks.map(\.text).joined(separator: "\n\n"), chunkIDs: chunks.map(\.id)
        )
    }

    /// Checks a claim against the knowledge (see ``LoreAssertion``).
    public func loreAssert(_ claim: String, filter: SearchFilter) async throws -> LoreAssertion {
        let hits = try await search(claim, filter: filter, k: 5)
        return LoreAssertion.judge(claim: claim, evidence: hits)
    }

    /// Chunks by id, in the order asked (ids not found are left out).
    public func chunks(ids: [String]) async throws -> [KnowledgeChunk] {
        try await reading { try await $0.chunks(ids: ids) }
    }

    /// Whether the campaign has knowledge of its own (global knowledge does not count).
    public func knows(campaign campaignID: String) async throws -> Bool {
        try await reading { try await $0.hasDocuments(campaignID: campaignID) }
    }

    public func counts() async throws -> (documents: Int, chunks: Int) {
        try await reading { try await $0.counts() }
    }

    /// Redoes vectors made by another model than the configured embedder's, in batches. Each
    /// batch is stored as it is done, so an interrupted run resumes where it stopped;
    /// `progress` hears the running total after each batch.
    public func reembed(batchSize: Int = 256, progress: @Sendable (Int) -> Void = { _ in }) async throws -> Int {
        var total = 0
        while true {
            let stale = try await primary.chunksToReembed(model: embedder.model, limit: batchSize)
            guard !stale.isEmpty else { return total }
            let vectors = try await embedder.embed(stale.map(\.indexedText))
            try await primary.updateVectors(Dictionary(zip(stale.map(\.id), vectors), uniquingKeysWith: { first, _ in first }), model: embedder.model)
            total += stale.count
            progress(total)
        }
    }
}

/// A read of the configured store that did not answer in time.
struct StoreTimeout: Error, CustomStringConvertible {
    let timeout: Duration
    var description: String { "no answer within \(timeout)" }
}

/// An NPC's knowledge merged from its chunks.
public struct NPCProfile: Sendable {
    public let id: String
    public let name: String
    public let aliases: [String]
    public let campaignID: String?
    public let visibility: Visibility
    /// The front-matter fields (role, faction, relations…).
    public let fields: [String: JSONValue]
    public let text: String
    public let chunkIDs: [String]
}
