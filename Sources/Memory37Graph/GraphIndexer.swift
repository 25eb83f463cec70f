public import Foundation
public import Logging
public import Memory37

/// Keeps the graph derived from the knowledge store: after every write it compares, per
/// version, the documents the store holds with the ones the graph was derived from (by content
/// hash), derives the changed ones again and deletes the removed ones. One sync at a time per
/// process; several processes on one database may sync at once, since every document's rows
/// are replaced whole in one transaction.
public actor GraphIndexer: KnowledgeFollower {
    let store: any GraphStore
    let knowledge: any KnowledgeStore
    let extractor: GraphExtractor
    let logger: Logger
    /// Documents derived per transaction.
    static let slice = 500

    /// Whether the last sync failed: the next one compares every version.
    private var behind = false

    public init(store: any GraphStore, knowledge: any KnowledgeStore, relationLifetime: Double?, logger: Logger) {
        self.store = store
        self.knowledge = knowledge
        self.extractor = GraphExtractor(relationLifetime: relationLifetime)
        self.logger = logger
    }

    public nonisolated func check(_ document: KnowledgeDocument) -> String? {
        GraphExtractor.check(document)
    }

    public func knowledgeChanged(in versions: Set<KnowledgeVersionRef>?) async -> [String] {
        do {
            let warnings = try await sync(behind ? nil : versions)
            behind = false
            return warnings
        } catch {
            behind = true
            logger.warning("the graph could not follow a knowledge change; it catches up at its next sync", metadata: ["error": "\(error)"])
            return ["graph: not updated yet (\(error)); it catches up at its next sync"]
        }
    }

    public func cleanup(now: Date, dryRun: Bool) async -> Int {
        do {
            return try await store.deleteExpiredEdges(now: now, dryRun: dryRun)
        } catch {
            logger.warning("graph cleanup failed; it runs again next interval", metadata: ["error": "\(error)"])
            return 0
        }
    }

    /// What one sync did.
    public struct SyncReport: Sendable {
        public var derived = 0
        public var removed = 0
        public var warnings: [String] = []
    }

    /// Follows the store for `versions` (nil: every version either side holds).
    @discardableResult
    public func sync(_ versions: Set<KnowledgeVersionRef>?) async throws -> [String] {
        try await syncReport(versions).warnings
    }

    public func syncReport(_ versions: Set<KnowledgeVersionRef>?) async throws -> SyncReport {
        var refs = versions ?? []
        if versions == nil {
            refs = Set(try await knowledge.versionCounts().keys).union(try await store.versions())
        }
        var report = SyncReport()
        // Entities before the text that mentions them: npc, art and rules, then lore, then episodes.
        let order: [String] = ["npc", "art", "srd", "lore", "episode"]
        func rank(_ ref: KnowledgeVersionRef) -> Int {
            let domain = KnowledgeVersion.workingDomain(ref.version)?.rawValue ?? ref.version.split(separator: "-").first.map(String.init) ?? ""
            return order.firstIndex(of: domain) ?? 2
        }
        let sorted = refs.sorted { (rank($0), $0.scope, $0.version) < (rank($1), $1.scope, $1.version) }
        // Targets not found when their document was derived: reported if still missing at the end.
        var missing: [KnowledgeVersionRef: [String: Set<String>]] = [:]
        // The names each scope's text may mention: read once, then grown by what each slice adds.
        var names: [String: [EntityName]] = [:]
        for ref in sorted {
            let stored = Dictionary(try await knowledge.documents(campaignID: ref.campaignID, version: ref.version).map { ($0.sourceID, $0.contentHash) }, uniquingKeysWith: { first, _ in first })
            let derived = try await store.documents(in: ref)
            let removed = derived.keys.filter { stored[$0] == nil }.sorted()
            if !removed.isEmpty {
                try await store.delete(removed, in: ref)
                report.removed += removed.count
            }
            let changed = stored.filter { derived[$0.key] != $0.value }.keys.sorted()
            for start in stride(from: 0, to: changed.count, by: Self.slice) {
                let slice = Array(changed[start..<min(start + Self.slice, changed.count)])
                if names[ref.scope] == nil {
                    let scopeRefs = try await store.versions().filter { $0.campaignID == nil || $0.campaignID == ref.campaignID }
                    names[ref.scope] = try await store.names(in: Array(scopeRefs))
                }
                let known = names[ref.scope, default: []].count
                for (end, users) in try await derive(slice, in: ref, names: &names[ref.scope, default: []]) { missing[ref, default: [:]][end, default: []].formUnion(users) }
                // Global names are every campaign's too.
                if ref.campaignID == nil, let added = names[""]?.dropFirst(known) {
                    for scope in names.keys where scope != "" { names[scope]! += added }
                }
                report.derived += slice.count
            }
        }
        let allRefs = try await store.versions()
        for (ref, ends) in missing.sorted(by: { $0.key.description < $1.key.description }) {
            let scope = allRefs.filter { $0.campaignID == nil || $0.campaignID == ref.campaignID }
            let found = Set(try await store.nodes(ids: Array(ends.keys), view: Self.everything(in: scope)).map(\.id))
            for (end, users) in ends.sorted(by: { $0.key < $1.key }) where !found.contains(end) {
                report.warnings.append("graph: \(users.sorted().joined(separator: ", ")) relates to \(end), which is no document id or name here yet (kept as an unresolved node until it is ingested)")
            }
        }
        if report.derived + report.removed > 0 {
            logger.debug("graph synced", metadata: ["derived": "\(report.derived)", "removed": "\(report.removed)"])
        }
        if report.derived + report.removed >= Self.bulk {
            do {
                try await store.refreshStatistics()
            } catch {
                logger.warning("graph statistics not refreshed", metadata: ["error": "\(error)"])
            }
        }
        return report
    }

    /// Documents in one sync from which on the database's statistics are refreshed.
    static let bulk = 1_000

    /// Derives the documents of one version again and stores them.
    /// - Parameter names: the names of the scope (every version, and the global scope); the
    ///   slice's own are added.
    private func derive(_ sourceIDs: [String], in ref: KnowledgeVersionRef, names: inout [EntityName]) async throws -> [String: Set<String>] {
        let filter = SearchFilter(campaignID: ref.campaignID, includeGM: true, now: .distantPast, versions: [ref: -.infinity])
        let chunks = Dictionary(grouping: try await knowledge.chunks(sourceIDs: sourceIDs, filter: filter), by: \.sourceID)
        for chunk in chunks.values.compactMap(\.first) {
            names += ([chunk.title] + chunk.aliases).map { (name: $0.lowercased(), id: chunk.sourceID, mentionable: chunk.domain != .srd) }
        }
        let matcher = MentionMatcher(names: names.filter(\.mentionable).map { ($0.name, $0.id) })
        var documents = sourceIDs.compactMap { id in chunks[id].flatMap { extractor.derive($0.sorted { $0.ordinal < $1.ordinal }, mentions: matcher) } }
        let scopeRefs = try await store.versions().filter { $0.campaignID == nil || $0.campaignID == ref.campaignID }
        let missing = try await resolveTargets(&documents, scope: Array(scopeRefs.union([ref])), names: names)
        try await store.replace(documents)
        return missing
    }

    /// A view of every row of these versions, gm and expired included: what exists at all.
    static func everything(in refs: some Sequence<KnowledgeVersionRef>) -> GraphView {
        GraphView(campaignID: nil, includeGM: true, now: .distantPast, versions: Dictionary(refs.map { ($0, -Double.infinity) }, uniquingKeysWith: { first, _ in first }))
    }

    /// Targets that are names rather than ids (`location: The Rusty Anchor`) become the id of
    /// the one node with that name; targets no node has yet are reported.
    private func resolveTargets(_ documents: inout [GraphDocument], scope: [KnowledgeVersionRef], names: [EntityName]) async throws -> [String: Set<String>] {
        let local = Set(documents.flatMap { $0.nodes.map(\.id) })
        let ends = Set(documents.flatMap { $0.edges.flatMap { [$0.from, $0.to] } }).subtracting(local)
        guard !ends.isEmpty else { return [:] }
        let known = Set(try await store.nodes(ids: Array(ends), view: Self.everything(in: scope)).map(\.id))
        var byName: [String: Set<String>] = [:]
        for (name, id, _) in names { byName[name, default: []].insert(id) }
        var missing: [String: Set<String>] = [:]
        var renamed: [String: String] = [:]
        for end in ends.subtracting(known).sorted() {
            if let ids = byName[end.lowercased()], ids.count == 1, let id = ids.first {
                renamed[end] = id
            } else {
                missing[end] = Set(documents.filter { $0.edges.contains { $0.from == end || $0.to == end } }.map(\.sourceID))
            }
        }
        guard !renamed.isEmpty else { return missing }
        for index in documents.indices {
            for edgeIndex in documents[index].edges.indices {
                if let id = renamed[documents[index].edges[edgeIndex].from] { documents[index].edges[edgeIndex].from = id }
                if let id = renamed[documents[index].edges[edgeIndex].to] { documents[index].edges[edgeIndex].to = id }
            }
            documents[index].edges = GraphExtractor.merged(documents[index].edges.filter { $0.from != $0.to })
        }
        return missing
    }
}
