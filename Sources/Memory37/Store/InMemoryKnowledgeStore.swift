import Foundation

/// Everything in process memory: tests, embedding, and the fallback when the configured
/// store is unreachable. Lost at exit.
public final class InMemoryKnowledgeStore: KnowledgeStore {
    public let kind = "memory"
    fileprivate struct State {
        var documents: [String: StoredDocument] = [:]
        var chunks: [String: KnowledgeChunk] = [:]
        var chunkIDs: [String: [String]] = [:]
        var models: [String: String] = [:]
        /// Lower-cased titles and aliases to chunk ids.
        var names: [String: Set<String>] = [:]
        /// Ids of the `episode` chunks, so session reads do not scan every chunk.
        var episodes: Set<String> = []
        var text = TextIndex()
        var vectors: VectorIndex
    }
    private let state: ReadWriteLocked<State>

    public init(dimensions: Int) {
        state = ReadWriteLocked(State(vectors: VectorIndex(dimensions: dimensions)))
    }

    static func key(_ campaignID: String?, _ sourceID: String) -> String {
        (campaignID ?? "") + "\u{0}" + sourceID
    }

    public func prepare() async throws {}

    public func documents(campaignID: String?) async throws -> [StoredDocument] {
        state.read { $0.documents.values.filter { $0.campaignID == campaignID }.sorted { $0.sourceID < $1.sourceID } }
    }

    public func hasDocuments(campaignID: String) async throws -> Bool {
        state.read { state in state.documents.values.contains { $0.campaignID == campaignID } }
    }

    public func documents(campaignID: String?, sourceIDs: [String]) async throws -> [StoredDocument] {
        state.read { state in sourceIDs.compactMap { state.documents[Self.key(campaignID, $0)] } }
    }

    public func replace(_ documents: [(document: StoredDocument, chunks: [EmbeddedChunk])]) async throws {
        apply(replaced: documents, deleted: [])
    }

    /// Replaces and deletes documents under one lock, so no reader sees half of the change.
    func apply(replaced: [(document: StoredDocument, chunks: [EmbeddedChunk])], deleted: [(campaignID: String?, sourceID: String)]) {
        state.write { state in
            for (campaignID, sourceID) in deleted { Self.removeDocument(Self.key(campaignID, sourceID), from: &state) }
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
        Replacement(state: State(vectors: VectorIndex(dimensions: state.read { $0.vectors.dimensions })))
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
        state.write { $0 = replacement.state }
    }

    /// `terms`: the chunks' terms when already made, in the chunks' order.
    private static func insert(_ document: StoredDocument, chunks: [EmbeddedChunk], terms: ArraySlice<(heading: [String], body: [String])>? = nil, into state: inout State) {
        let key = Self.key(document.campaignID, document.sourceID)
        Self.removeDocument(key, from: &state)
        state.documents[key] = document
        state.chunkIDs[key] = chunks.map(\.chunk.id)
        for (index, embedded) in chunks.enumerated() {
            state.chunks[embedded.chunk.id] = embedded.chunk
            state.models[embedded.chunk.id] = embedded.model
            if let terms {
                let made = terms[terms.startIndex + index]
                state.text.upsert(id: embedded.chunk.id, scope: FilterColumns.Scope(embedded.chunk), heading: made.heading, body: made.body)
            } else {
                state.text.upsert(embedded.chunk)
            }
            state.vectors.upsert(embedded.chunk, vector: embedded.vector)
            for name in Self.names(embedded.chunk) { state.names[name, default: []].insert(embedded.chunk.id) }
            if embedded.chunk.domain == .episode { state.episodes.insert(embedded.chunk.id) }
        }
    }

    static func names(_ chunk: KnowledgeChunk) -> Set<String> {
        Set(([chunk.title] + chunk.aliases).map { $0.lowercased() }.filter { !$0.isEmpty })
    }

    private static func removeDocument(_ key: String, from state: inout State) {
        guard let ids = state.chunkIDs.removeValue(forKey: key) else { return }
        state.documents[key] = nil
        let removed = Set(ids)
        for id in ids {
            if let chunk = state.chunks.removeValue(forKey: id) {
                for name in names(chunk) {
                    state.names[name]?.remove(id)
                    if state.names[name]?.isEmpty == true { state.names[name] = nil }
                }
            }
            state.models[id] = nil
            state.episodes.remove(id)
        }
        state.text.remove(removed)
        state.vectors.remove(removed)
    }

    public func delete(campaignID: String?, sourceIDs: [String]) async throws {
        state.write { state in
            for sourceID in sourceIDs { Self.removeDocument(Self.key(campaignID, sourceID), from: &state) }
        }
    }

    public func textSearch(_ query: String, filter: SearchFilter, limit: Int) async throws -> [String] {
        let terms = TextTokenizer.terms(query)
        return state.read { $0.text.search(terms: terms, filter: filter, limit: limit) }
    }

    public func vectorSearch(_ vector: [Float], filter: SearchFilter, limit: Int) async throws -> [String] {
        state.read { $0.vectors.search(vector, filter: filter, limit: limit) }
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
        // Only the campaign's scope and the global one can pass the filter.
        let keys = Set(sourceIDs).flatMap { source in [Self.key(nil, source)] + (filter.campaignID.map { [Self.key($0, source)] } ?? []) }
        return state.read { state in
            keys.flatMap { state.chunkIDs[$0] ?? [] }.compactMap { state.chunks[$0] }.filter(filter.admits)
                .sorted { ($0.sourceID, $0.ordinal) < ($1.sourceID, $1.ordinal) }
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
            for (id, vector) in vectors where state.chunks[id] != nil {
                state.vectors.updateVector(id: id, vector: vector)
                state.models[id] = model
            }
        }
    }

    public func counts() async throws -> (documents: Int, chunks: Int) {
        state.read { ($0.documents.count, $0.chunks.count) }
    }
}
