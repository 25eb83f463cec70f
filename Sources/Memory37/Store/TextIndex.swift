import Foundation

/// Okapi BM25 (k1 = 1.2, b = 0.75) over an in-process inverted index: the text half of hybrid
/// search for the in-memory store, and the SQLite store's mirror of its FTS5 table.
///
/// A chunk's title and aliases count five times, its heading path and text once. Every query
/// term is scored exactly, however common: postings are compact arrays scanned with the filter
/// applied per posting, so a four-word query over 100,000 chunks touches a few hundred thousand
/// integers. (FTS5's `bm25()` costs about a microsecond per matching row, which put a query
/// with common words at 10–80 ms at that size.)
///
/// Removal leaves a tombstone; the index is compacted when tombstones outnumber live rows.
/// Not thread-safe on its own: the owning store serialises writes.
struct TextIndex {
    static let k1: Float = 1.2
    static let b: Float = 0.75
    static let headingWeight = 5

    private var termNumbers: [String: Int32] = [:]
    /// By term number: the rows holding the term, ascending, and the term's weighted count there.
    private var postingRows: [[UInt32]] = []
    private var postingCounts: [[UInt16]] = []
    /// By term number: live rows holding the term.
    private var documentFrequency: [Int32] = []

    /// By row.
    private var ids: [String] = []
    private var live: [Bool] = []
    private var lengths: [Float] = []
    private var rowTerms: [[Int32]] = []
    private var filters = FilterColumns()
    /// Live rows by chunk id.
    private var rows: [String: Int] = [:]
    private var totalLength: Double = 0

    /// Live chunks.
    var count: Int { rows.count }

    /// Indexes a chunk, tokenising its fields.
    mutating func upsert(_ chunk: KnowledgeChunk) {
        let terms = Self.terms(title: chunk.title, aliases: chunk.aliases, headingPath: chunk.headingPath, text: chunk.text)
        upsert(id: chunk.id, scope: FilterColumns.Scope(chunk), heading: terms.heading, body: terms.body)
    }

    /// A chunk's terms as the index weighs them: title and aliases (heading), heading path and text (body).
    static func terms(title: String, aliases: [String], headingPath: [String], text: String) -> (heading: [String], body: [String]) {
        (TextTokenizer.terms(([title] + aliases).joined(separator: " ")), TextTokenizer.terms((headingPath + [text]).joined(separator: " ")))
    }

    /// Indexes a chunk from terms already produced by ``TextTokenizer/terms(_:)``.
    mutating func upsert(id: String, scope: FilterColumns.Scope, heading: [String], body: [String]) {
        remove([id])
        var counts: [Int32: Int] = [:]
        for term in heading { counts[number(term), default: 0] += Self.headingWeight }
        for term in body { counts[number(term), default: 0] += 1 }
        let row = ids.count
        var length = 0
        var terms: [Int32] = []
        terms.reserveCapacity(counts.count)
        for (term, count) in counts {
            postingRows[Int(term)].append(UInt32(row))
            postingCounts[Int(term)].append(UInt16(min(count, Int(UInt16.max))))
            documentFrequency[Int(term)] += 1
            length += count
            terms.append(term)
        }
        ids.append(id)
        live.append(true)
        lengths.append(Float(length))
        rowTerms.append(terms)
        filters.append(scope)
        rows[id] = row
        totalLength += Double(length)
    }

    mutating func remove(_ removed: Set<String>) {
        for id in removed {
            guard let row = rows.removeValue(forKey: id) else { continue }
            live[row] = false
            for term in rowTerms[row] { documentFrequency[Int(term)] -= 1 }
            rowTerms[row] = []
            totalLength -= Double(lengths[row])
        }
        if ids.count - rows.count > max(4_096, rows.count) { compact() }
    }

    /// The `limit` best chunks for the query's terms among those the filter admits, scored
    /// over this index alone.
    func search(_ query: String, filter: SearchFilter, limit: Int) -> [String] {
        search(terms: TextTokenizer.terms(query), filter: filter, limit: limit)
    }

    func search(terms: [String], filter: SearchFilter, limit: Int) -> [String] {
        let version = filter.versions?.keys.first ?? KnowledgeVersionRef(campaignID: nil, version: "")
        return search(terms: terms, corpus: statistics(terms), filter: FilterColumns.Compiled(filter, version: version), limit: limit).map(\.id)
    }

    /// What BM25 needs of the corpus a query is scored against: several partitions' statistics
    /// add up, so a read over a campaign's versions and the global ones scores as one corpus.
    struct CorpusStatistics {
        var rows = 0
        var totalLength: Double = 0
        var frequencies: [String: Int] = [:]

        static func + (left: CorpusStatistics, right: CorpusStatistics) -> CorpusStatistics {
            CorpusStatistics(rows: left.rows + right.rows, totalLength: left.totalLength + right.totalLength, frequencies: left.frequencies.merging(right.frequencies, uniquingKeysWith: +))
        }
    }

    /// This index's share of the statistics of a query's terms.
    func statistics(_ terms: [String]) -> CorpusStatistics {
        var frequencies: [String: Int] = [:]
        for term in Set(terms) {
            if let number = termNumbers[term] { frequencies[term] = Int(documentFrequency[Int(number)]) }
        }
        return CorpusStatistics(rows: rows.count, totalLength: totalLength, frequencies: frequencies)
    }

    /// The `limit` best rows of this index for the terms, scored against `corpus`.
    func search(terms: [String], corpus: CorpusStatistics, filter compiled: FilterColumns.Compiled, limit: Int) -> [(score: Float, id: String)] {
        let numbers = Set(terms.compactMap { term in termNumbers[term].map { (term, $0) } }.filter { documentFrequency[Int($0.1)] > 0 }.map { Pair(term: $0.0, number: $0.1) })
        guard !numbers.isEmpty, limit > 0, !rows.isEmpty, corpus.rows > 0 else { return [] }
        let total = Float(corpus.rows)
        let averageLength = Float(corpus.totalLength / Double(corpus.rows))
        var scores = [Float](repeating: 0, count: ids.count)
        var touched: [Int] = []
        for pair in numbers.sorted(by: { $0.number < $1.number }) {
            let frequency = Float(corpus.frequencies[pair.term] ?? Int(documentFrequency[Int(pair.number)]))
            let idf = Float.log(1 + (total - frequency + 0.5) / (frequency + 0.5))
            let termRows = postingRows[Int(pair.number)]
            let termCounts = postingCounts[Int(pair.number)]
            for index in termRows.indices {
                let row = Int(termRows[index])
                guard live[row], filters.admits(row, compiled) else { continue }
                let count = Float(termCounts[index])
                let norm = Self.k1 * (1 - Self.b + Self.b * lengths[row] / averageLength)
                if scores[row] == 0 { touched.append(row) }
                scores[row] += idf * count * (Self.k1 + 1) / (count + norm)
            }
        }
        var best = TopScores(limit: limit)
        for row in touched { best.offer(scores[row], row: row, ids: ids) }
        return best.sorted(ids).map { ($0.score, ids[$0.row]) }
    }

    private struct Pair: Hashable {
        var term: String
        var number: Int32
    }

    private mutating func number(_ term: String) -> Int32 {
        if let number = termNumbers[term] { return number }
        let number = Int32(postingRows.count)
        termNumbers[term] = number
        postingRows.append([])
        postingCounts.append([])
        documentFrequency.append(0)
        return number
    }

    /// Drops tombstones: rows are renumbered in order, so posting lists stay ascending.
    private mutating func compact() {
        var renumbered = [Int](repeating: -1, count: ids.count)
        var next = 0
        for row in ids.indices where live[row] {
            renumbered[row] = next
            next += 1
        }
        for term in postingRows.indices {
            var keptRows: [UInt32] = []
            var keptCounts: [UInt16] = []
            keptRows.reserveCapacity(Int(documentFrequency[term]))
            keptCounts.reserveCapacity(Int(documentFrequency[term]))
            for (index, row) in postingRows[term].enumerated() where renumbered[Int(row)] >= 0 {
                keptRows.append(UInt32(renumbered[Int(row)]))
                keptCounts.append(postingCounts[term][index])
            }
            postingRows[term] = keptRows
            postingCounts[term] = keptCounts
        }
        filters.compact(keeping: live)
        ids = ids.indices.filter { live[$0] }.map { ids[$0] }
        lengths = lengths.indices.filter { live[$0] }.map { lengths[$0] }
        rowTerms = rowTerms.indices.filter { live[$0] }.map { rowTerms[$0] }
        live = [Bool](repeating: true, count: ids.count)
        rows = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
    }
}
