import Foundation

/// Everything in process memory: tests, embedding, and the fallback when the configured
/// store is unreachable. Lost at exit.
public final class InMemoryKnowledgeStore: KnowledgeStore {
    public let kind = "memory"
    fileprivate struct State {
        var documents: [DocumentKey: StoredDocument] = [:]
        var chunks: [String: KnowledgeChunk] = [:]
        var chunkIDs: [DocumentKey: [String]] = [:]
        var models: [String: String] = [:]
        /// Vectors of another length than the index's (another model's, until reembedded);
        /// the others are read back from the vector index rather than kept twice.
        var otherVectors: [String: [Float]] = [:]
        /// Lower-cased titles and aliases to chunk ids.
        var names: [String: Set<String>] = [:]
        /// Ids of the `episode` chunks, so session reads do not scan every chunk.
        var episodes: Set<String> = []
        var indexes: SearchIndexes
        var catalog = VersionCatalog()
    }
    private let state: ReadWriteLocked<State>

    public init(dimensions: Int) {
        state = ReadWriteLocked(State(indexes: SearchIndexes(dimensions: dimensions)))
    }

    /// A document's place: scope, version and source id.
    struct DocumentKey: Hashable {
        var version: KnowledgeVersionRef
        var sourceID: String

        init(_ version: KnowledgeVersionRef, _ sourceID: String) {
            self.version = version
            self.sourceID = sourceID
        }
    }

    public func prepare() async throws {}

    public func documents(campaignID: String?, version: String?) async throws -> [StoredDocument] {
        state.read { state in
            state.documents.values.filter { $0.campaignID == campaignID && (version == nil || $0.version == version) }
                .sorted { ($0.sourceID, $0.version) < ($1.sourceID, $1.version) }
        }
    }

    public func hasDocuments(campaignID: String) async throws -> Bool {
        state.read { state in state.documents.values.contains { $0.campaignID == campaignID } }
    }

    public func documents(campaignID: String?, version: String?, sourceIDs: [String]) async throws -> [StoredDocument] {
        guard let version else {
            let wanted = Set(sourceIDs)
            return try await documents(campaignID: campaignID, version: nil).filter { wanted.contains($0.sourceID) }
        }
        // By key: ingestion asks this for every batch, so it must not scan every document.
        let ref = KnowledgeVersionRef(campaignID: campaignID, version: version)
        return state.read { state in sourceIDs.compactMap { state.documents[DocumentKey(ref, $0)] } }
    }

    public func replace(_ documents: [(document: StoredDocument, chunks: [EmbeddedChunk])]) async throws {
        apply(replaced: documents, deleted: [])
    }

    /// Replaces and deletes documents under one lock, so no reader sees half of the change.
    func apply(replaced: [(document: StoredDocument, chunks: [EmbeddedChunk])], deleted: [(version: KnowledgeVersionRef, sourceID: String)]) {
        state.write { state in
            for (version, sourceID) in deleted { Self.removeDocument(DocumentKey(version, sourceID), from: &state) }
            for (document, chunks) in replaced { Self.insert(document, chunks: chunks, into: &state) }
        }
    }

    /// A replacement for everything the store holds, filled batch by batch while the store
    /// keeps answering, then installed at once: how a copy loads from a database without
    /// holding every row twice.
    struct Replacement: Sendable {
        fileprivate var state: State
    }

    func makeReplacement() -> Replacement {
        Replacement(state: State(indexes: SearchIndexes(dimensions: state.read { $0.indexes.dimensions })))
    }

    /// Adds documents to `replacement`, their chunks' terms made on every core (tokenising is
    /// most of the work).
    static func add(_ documents: [(document: StoredDocument, chunks: [EmbeddedChunk])], to replacement: inout Replacement) async {
        let chunks = documents.flatMap { $0.chunks.map(\.chunk) }
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, chunks.count / 500))
        let size = (chunks.count + parts - 1) / parts
        let terms = await withTaskGroup(of: (Int, [(heading: [String], body: [String])]).self) { group in
            for part in 0..<parts {
                let slice = chunks[min(chunks.count, part * size)..<min(chunks.count, (part + 1) * size)]
                group.addTask { (part, slice.map { TextIndex.terms(title: $0.title, aliases: $0.aliases, headingPath: $0.headingPath, text: $0.text) }) }
            }
            var results = [[(heading: [String], body: [String])]](repeating: [], count: parts)
            for await (part, slice) in group { results[part] = slice }
            return results.flatMap { $0 }
        }
        var offset = 0
        for (document, chunks) in documents {
            insert(document, chunks: chunks, terms: terms[offset..<offset + chunks.count], into: &replacement.state)
            offset += chunks.count
        }
    }

    func install(_ replacement: Replacement) {
        state.write { state in
            let catalog = state.catalog
            state = replacement.state
            state.catalog = catalog
        }
    }

    /// `terms`: the chunks' terms when already made, in the chunks' order.
    private static func insert(_ document: StoredDocument, chunks: [EmbeddedChunk], terms: ArraySlice<(heading: [String], body: [String])>? = nil, into state: inout State) {
        let key = DocumentKey(document.versionRef, document.sourceID)
        Self.removeDocument(key, from: &state)
        state.documents[key] = document
        state.chunkIDs[key] = chunks.map(\.chunk.id)
        for (index, embedded) in chunks.enumerated() {
            let chunk = embedded.chunk
            state.chunks[chunk.id] = chunk
            state.models[chunk.id] = embedded.model
            if embedded.vector.count != state.indexes.dimensions { state.otherVectors[chunk.id] = embedded.vector }
            if let terms {
                let made = terms[terms.startIndex + index]
                state.indexes.upsert(id: chunk.id, scope: FilterColumns.Scope(chunk), heading: made.heading, body: made.body, vector: embedded.vector)
            } else {
                state.indexes.upsert(chunk, vector: embedded.vector)
            }
            for name in Self.names(chunk) { state.names[name, default: []].insert(chunk.id) }
            if chunk.domain == .episode { state.episodes.insert(chunk.id) }
        }
    }

    static func names(_ chunk: KnowledgeChunk) -> Set<String> {
        Set(([chunk.title] + chunk.aliases).map { $0.lowercased() }.filter { !$0.isEmpty })
    }

    private static func removeDocument(_ key: DocumentKey, from state: inout State) {
        guard let ids = state.chunkIDs.removeValue(forKey: key) else { return }
        state.documents[key] = nil
        for id in ids {
            if let chunk = state.chunks.removeValue(forKey: id) {
                for name in names(chunk) {
                    state.names[name]?.remove(id)
                    if state.names[name]?.isEmpty == true { state.names[name] = nil }
                }
            }
            state.models[id] = nil
            state.otherVectors[id] = nil
            state.episodes.remove(id)
        }
        state.indexes.remove(Set(ids))
    }

    public func delete(campaignID: String?, version: String?, sourceIDs: [String]) async throws {
        state.write { state in
            let wanted = Set(sourceIDs)
            for key in state.documents.keys where key.version.campaignID == campaignID && wanted.contains(key.sourceID) && (version == nil || key.version.version == version) {
                Self.removeDocument(key, from: &state)
            }
        }
    }

    public func textSearch(_ query: String, filter: SearchFilter, limit: Int) async throws -> [String] {
        let terms = TextTokenizer.terms(query)
        return state.read { $0.indexes.textSearch(terms: terms, filter: filter, limit: limit) }
    }

    public func vectorSearch(_ vector: [Float], filter: SearchFilter, limit: Int) async throws -> [String] {
        state.read { $0.indexes.vectorSearch(vector, filter: filter, limit: limit) }
    }

    public func chunks(ids: [String]) async throws -> [KnowledgeChunk] {
        state.read { state in ids.compactMap { state.chunks[$0] } }
    }

    public func chunks(named name: String, filter: SearchFilter) async throws -> [KnowledgeChunk] {
        let wanted = name.lowercased()
        return state.read { state in
            (state.names[wanted] ?? []).compactMap { state.chunks[$0] }.filter(filter.admits)
                .sorted { ($0.sourceID, $0.ordinal) < ($1.sourceID, $1.ordinal) }
        }
    }

    public func chunks(sourceIDs: [String], filter: SearchFilter) async throws -> [KnowledgeChunk] {
        let wanted = Set(sourceIDs)
        return state.read { state in
            state.chunkIDs.filter { wanted.contains($0.key.sourceID) && ($0.key.version.campaignID == nil || $0.key.version.campaignID == filter.campaignID) }
                .flatMap(\.value).compactMap { state.chunks[$0] }.filter(filter.admits)
                .sorted { ($0.sourceID, $0.ordinal, $0.id) < ($1.sourceID, $1.ordinal, $1.id) }
        }
    }

    public func embeddedChunks(campaignID: String?, sourceIDs: [String]) async throws -> [EmbeddedChunk] {
        let wanted = Set(sourceIDs)
        return state.read { state in
            state.chunkIDs.filter { wanted.contains($0.key.sourceID) && $0.key.version.campaignID == campaignID }.flatMap(\.value).compactMap { id in
                guard let chunk = state.chunks[id], let vector = state.otherVectors[id] ?? state.indexes.vector(id: id), let model = state.models[id] else { return nil }
                return EmbeddedChunk(chunk: chunk, vector: vector, model: model)
            }.sorted { ($0.chunk.sourceID, $0.chunk.version, $0.chunk.ordinal) < ($1.chunk.sourceID, $1.chunk.version, $1.chunk.ordinal) }
        }
    }

    public func episodes(filter: SearchFilter, fromSession: Int?, toSession: Int?, limit: Int) async throws -> [KnowledgeChunk] {
        var episodeFilter = filter
        episodeFilter.domains = [.episode]
        return state.read { state in
            Array(state.episodes.compactMap { state.chunks[$0] }.filter { chunk in
                guard episodeFilter.admits(chunk), chunk.campaignID != nil || filter.campaignID == nil else { return false }
                let session = chunk.sessionNumber ?? 0
                return session >= (fromSession ?? Int.min) && session <= (toSession ?? Int.max)
            }.sorted { ($0.sessionNumber ?? 0, $0.sourceID, $0.ordinal) < ($1.sessionNumber ?? 0, $1.sourceID, $1.ordinal) }.prefix(limit))
        }
    }

    public func embeddingModels() async throws -> [String: Int] {
        state.read { state in state.models.values.reduce(into: [:]) { $0[$1, default: 0] += 1 } }
    }

    public func chunksToReembed(model: String, limit: Int) async throws -> [KnowledgeChunk] {
        state.read { state in
            Array(state.models.filter { $0.value != model }.keys.sorted().prefix(limit).compactMap { state.chunks[$0] })
        }
    }

    public func updateVectors(_ vectors: [String: [Float]], model: String) async throws {
        setVectors(vectors, model: model)
    }

    func setVectors(_ vectors: [String: [Float]], model: String) {
        state.write { state in
            for (id, vector) in vectors {
                guard let chunk = state.chunks[id] else { continue }
                state.indexes.updateVector(chunk, vector: vector)
                state.otherVectors[id] = vector.count == state.indexes.dimensions ? nil : vector
                state.models[id] = model
            }
        }
    }

    public func counts() async throws -> (documents: Int, chunks: Int) {
        state.read { ($0.documents.count, $0.chunks.count) }
    }

    public func versionCounts() async throws -> [KnowledgeVersionRef: VersionCounts] {
        state.read { state in
            var counts: [KnowledgeVersionRef: VersionCounts] = [:]
            for (key, ids) in state.chunkIDs {
                counts[key.version, default: VersionCounts(documents: 0, chunks: 0)].documents += 1
                counts[key.version]?.chunks += ids.count
            }
            return counts
        }
    }

    // MARK: - Versions

    public func catalog() async throws -> VersionCatalog {
        state.read { $0.catalog }
    }

    public func updateCatalog<T: Sendable>(_ change: @Sendable (inout VersionCatalog) throws -> T) async throws -> T {
        try state.write { state in try change(&state.catalog) }
    }

    /// Replaces the catalog (a database store's copy after it read the catalog).
    func installCatalog(_ catalog: VersionCatalog) {
        state.write { $0.catalog = catalog }
    }

    public func cleanup(_ request: CleanupRequest) async throws -> CleanupReport {
        state.write { state in
            var report = CleanupReport()
            var doomed: [DocumentKey] = []
            for (key, ids) in state.chunkIDs {
                guard let first = ids.first.flatMap({ state.chunks[$0] }) else { continue }
                if Self.expired(first, request: request) {
                    doomed.append(key)
                    report.expiredDocuments[first.domain, default: 0] += 1
                    report.expiredChunks += ids.count
                }
            }
            for version in state.catalog.versions.values where Self.removable(version, catalog: state.catalog, request: request) {
                report.retiredVersions.append(version.ref)
                for (key, ids) in state.chunkIDs where key.version == version.ref && !doomed.contains(key) {
                    doomed.append(key)
                    report.retiredChunks += ids.count
                }
            }
            report.retiredVersions.sort { $0.description < $1.description }
            guard !request.dryRun else { return report }
            for key in doomed { Self.removeDocument(key, from: &state) }
            for ref in report.retiredVersions { state.catalog.remove(ref) }
            return report
        }
    }

    /// Whether a document (by its first chunk: a document's chunks are written together) has
    /// expired for good.
    static func expired(_ chunk: KnowledgeChunk, request: CleanupRequest) -> Bool {
        if let expiresAt = chunk.expiresAt, expiresAt <= request.now { return true }
        guard !chunk.pinned, let cutoff = request.cutoff(scope: chunk.campaignID ?? "", domain: chunk.domain) else { return false }
        return chunk.createdAt.timeIntervalSince1970 <= cutoff
    }

    /// A retired version past its grace period that no alias points to.
    static func removable(_ version: KnowledgeVersion, catalog: VersionCatalog, request: CleanupRequest) -> Bool {
        guard version.state == .retired, let retiredAt = version.retiredAt, retiredAt < request.retiredBefore else { return false }
        return catalog.aliases(pointingTo: version.id, campaignID: version.campaignID).isEmpty
    }
}
