/// The in-process text and vector indexes of a store, one pair per version of a scope.
///
/// A read picks the partitions of the versions it sees (its campaign's and the global ones,
/// of the domains asked for, through the aliases) and scans only those: storing three versions
/// of the same content costs a read nothing, and the campaign, domain and version tests leave
/// the per-row filter. BM25 statistics are summed over the partitions read, so the scores are
/// those of one corpus: the knowledge the reader sees.
///
/// Not thread-safe on its own: the owning store serialises access.
struct SearchIndexes {
    struct Partition {
        let domain: KnowledgeDomain
        var text = TextIndex()
        var vectors: VectorIndex
    }

    let dimensions: Int
    private(set) var partitions: [KnowledgeVersionRef: Partition] = [:]
    /// The partition each chunk is in.
    private var partitionOfChunk: [String: KnowledgeVersionRef] = [:]

    init(dimensions: Int) {
        self.dimensions = dimensions
    }

    var count: Int { partitionOfChunk.count }

    /// Indexes a chunk from its terms; a vector of another length than the index's (another
    /// model's, until `rpgbot reembed` redoes it) leaves the chunk out of vector search.
    mutating func upsert(id: String, scope: FilterColumns.Scope, heading: [String], body: [String], vector: [Float]?) {
        if let previous = partitionOfChunk[id], previous != scope.version { remove([id]) }
        partitionOfChunk[id] = scope.version
        var partition = partitions.removeValue(forKey: scope.version) ?? Partition(domain: scope.domain, vectors: VectorIndex(dimensions: dimensions))
        partition.text.upsert(id: id, scope: scope, heading: heading, body: body)
        if let vector, vector.count == dimensions {
            partition.vectors.upsert(id: id, scope: scope, vector: vector)
        } else {
            partition.vectors.remove([id])
        }
        partitions[scope.version] = partition
    }

    mutating func upsert(_ chunk: KnowledgeChunk, vector: [Float]?) {
        let terms = TextIndex.terms(title: chunk.title, aliases: chunk.aliases, headingPath: chunk.headingPath, text: chunk.text)
        upsert(id: chunk.id, scope: FilterColumns.Scope(chunk), heading: terms.heading, body: terms.body, vector: vector)
    }

    /// Gives an indexed chunk a new vector (made by another model).
    mutating func updateVector(_ chunk: KnowledgeChunk, vector: [Float]) {
        guard let ref = partitionOfChunk[chunk.id], vector.count == dimensions else { return }
        partitions[ref]?.vectors.upsert(chunk, vector: vector)
    }

    /// A chunk's vector as the vector index holds it (nil when its length is not the index's).
    func vector(id: String) -> [Float]? {
        partitionOfChunk[id].flatMap { partitions[$0]?.vectors.vector(id: id) }
    }

    mutating func remove(_ ids: Set<String>) {
        var byPartition: [KnowledgeVersionRef: Set<String>] = [:]
        for id in ids {
            if let ref = partitionOfChunk.removeValue(forKey: id) { byPartition[ref, default: []].insert(id) }
        }
        for (ref, removed) in byPartition {
            guard var partition = partitions.removeValue(forKey: ref) else { continue }
            partition.text.remove(removed)
            partition.vectors.remove(removed)
            if partition.text.count > 0 { partitions[ref] = partition }
        }
    }

    /// The partitions a read sees.
    func visible(_ filter: SearchFilter) -> [(ref: KnowledgeVersionRef, partition: Partition)] {
        partitions.filter { filter.admits(version: $0.key, domain: $0.value.domain) }.map { ($0.key, $0.value) }
    }

    func textSearch(terms: [String], filter: SearchFilter, limit: Int) -> [String] {
        let visible = visible(filter)
        guard !visible.isEmpty, limit > 0 else { return [] }
        let corpus = visible.reduce(TextIndex.CorpusStatistics()) { $0 + $1.partition.text.statistics(terms) }
        let found = visible.flatMap { ref, partition in
            partition.text.search(terms: terms, corpus: corpus, filter: FilterColumns.Compiled(filter, version: ref), limit: limit)
        }
        return Self.best(found, limit: limit)
    }

    /// The int8 scans of every visible partition feed one candidate set of the re-rank depth,
    /// which is then scored exactly: a read over several versions costs as many exact dot
    /// products as a read over one, and no per-partition results to merge.
    func vectorSearch(_ vector: [Float], filter: SearchFilter, limit: Int) -> [String] {
        guard vector.count == dimensions, limit > 0 else { return [] }
        // Partitions in a fixed order, so that equal approximate scores admit the same rows.
        let visible = visible(filter).sorted { ($0.ref.campaignID ?? "", $0.ref.version) < ($1.ref.campaignID ?? "", $1.ref.version) }
        let query = VectorIndex.Query(vector)
        var candidates = BoundedHeap<VectorIndex.Candidate>(limit: VectorIndex.rerankDepth(limit))
        for (index, entry) in visible.enumerated() {
            entry.partition.vectors.offerCandidates(query, filter: FilterColumns.Compiled(filter, version: entry.ref), index: index, to: &candidates)
        }
        var best = BoundedHeap<(score: Float, id: String)>(limit: limit)
        let worse = { (a: (score: Float, id: String), b: (score: Float, id: String)) in a.score < b.score || (a.score == b.score && a.id > b.id) }
        // The exact ranking breaks its own ties, so the candidates need no order.
        for candidate in candidates.unordered {
            let vectors = visible[candidate.index].partition.vectors
            best.offer((vectors.exactScore(row: candidate.row, query), vectors.ids[candidate.row]), worse: worse)
        }
        return best.sorted(worse: worse).map(\.id)
    }

    /// Highest score first, equal scores in id order (as within one partition).
    static func best(_ found: [(score: Float, id: String)], limit: Int) -> [String] {
        found.sorted { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }.prefix(limit).map(\.id)
    }
}
