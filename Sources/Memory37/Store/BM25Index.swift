/// Okapi BM25 (k1 = 1.2, b = 0.75) over an inverted index: the in-memory store's text search,
/// with the title and aliases counted five times as the SQLite FTS5 weights do.
struct BM25Index {
    private var postings: [String: [String: Int]] = [:]
    private var lengths: [String: Int] = [:]
    private var terms: [String: [String]] = [:]
    private var totalLength = 0

    mutating func add(_ chunk: KnowledgeChunk) {
        remove([chunk.id])
        var counts: [String: Int] = [:]
        let heading = TextTokenizer.terms(([chunk.title] + chunk.aliases).joined(separator: " "))
        for word in heading { counts[word, default: 0] += 5 }
        for word in TextTokenizer.terms((chunk.headingPath + [chunk.text]).joined(separator: " ")) { counts[word, default: 0] += 1 }
        let length = counts.values.reduce(0, +)
        for (word, count) in counts { postings[word, default: [:]][chunk.id] = count }
        lengths[chunk.id] = length
        terms[chunk.id] = Array(counts.keys)
        totalLength += length
    }

    mutating func remove(_ ids: Set<String>) {
        for id in ids {
            guard let words = terms.removeValue(forKey: id) else { continue }
            for word in words {
                postings[word]?[id] = nil
                if postings[word]?.isEmpty == true { postings[word] = nil }
            }
            totalLength -= lengths.removeValue(forKey: id) ?? 0
        }
    }

    func search(_ query: String, admits: (String) -> Bool, limit: Int) -> [String] {
        let count = Double(max(1, lengths.count))
        let average = Double(max(1, totalLength)) / count
        var scores: [String: Double] = [:]
        let words = Set(TextTokenizer.terms(query)).filter { postings[$0] != nil }
        let selection = CommonTermPolicy.select(words.map { ($0, postings[$0]!.count) }, total: lengths.count)
        var required: Set<String>?
        if selection.conjunctive {
            // Documents holding every selected term, found from the shortest list.
            let lists = selection.terms.compactMap { postings[$0] }.sorted { $0.count < $1.count }
            required = Set(lists.first?.keys.filter { id in lists.dropFirst().allSatisfy { $0[id] != nil } } ?? [])
        }
        for word in selection.terms {
            guard let list = postings[word] else { continue }
            let idf = log(1 + (count - Double(list.count) + 0.5) / (Double(list.count) + 0.5))
            for (id, frequency) in list where required?.contains(id) ?? true {
                let tf = Double(frequency)
                let length = Double(lengths[id] ?? 1)
                scores[id, default: 0] += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average))
            }
        }
        return scores.filter { admits($0.key) }.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.prefix(limit).map(\.key)
    }
}

import Foundation
