import Foundation

/// One result of a knowledge search, and why it matched.
public struct SearchHit: Sendable {
    public var chunk: KnowledgeChunk
    public var score: Double
    /// 1-based ranks in the two candidate lists, when the chunk was in them.
    public var bm25Rank: Int?
    public var vectorRank: Int?
    /// The query named the chunk's title or one of its aliases.
    public var aliasHit: Bool
    public var snippet: String
}

/// Which halves of hybrid search to use (the evaluation compares them).
public enum SearchMode: String, Sendable, CaseIterable {
    case hybrid, bm25, vector
}

/// BM25 and vector candidates fused by weighted reciprocal rank fusion (BM25 weighs 1, vectors
/// the embedder's ``Embedder/fusionWeight``), with exact title and alias matches boosted. An
/// embedder of weight 0 is not asked at all in hybrid mode: its vectors only serve `vector`.
struct HybridSearcher: Sendable {
    let store: any KnowledgeStore
    let embedder: any Embedder
    /// Candidates taken from each list.
    var candidates = 50
    /// Reciprocal rank fusion's k. The usual 60 makes the first ranks nearly equal, so a chunk
    /// both lists place third beat one BM25 places first; on the tuning half of
    /// eval/knowledge-queries.json with all-MiniLM-L6-v2, k = 5 lifted Recall@5 from 0.831 to
    /// 0.876 and MRR@10 from 0.692 to 0.719 (k = 2…10 and weights 0.5…2 measured too).
    static let rrfK = 5.0

    func search(_ query: String, filter: SearchFilter, k: Int, mode: SearchMode = .hybrid) async throws -> [SearchHit] {
        let depth = max(candidates, k)
        let rrfK = Self.rrfK
        async let textIDs: [String] = mode == .vector ? [] : store.textSearch(query, filter: filter, limit: depth)
        // The exact-name lookup runs beside the two searches: with a database store it is a
        // round trip of its own.
        async let namedChunks: [KnowledgeChunk] = mode == .hybrid ? store.chunks(named: query.trimmingCharacters(in: .whitespacesAndNewlines), filter: filter) : []
        let vectorIDs: [String]
        if mode == .bm25 || (mode == .hybrid && embedder.fusionWeight == 0) {
            vectorIDs = []
        } else {
            let vector = try await embedder.embed([query]).first ?? []
            vectorIDs = try await store.vectorSearch(vector, filter: filter, limit: depth)
        }
        let named = try await namedChunks
        let bm25 = try await textIDs

        var scores: [String: Double] = [:]
        var bm25Ranks: [String: Int] = [:]
        var vectorRanks: [String: Int] = [:]
        for (index, id) in bm25.enumerated() {
            bm25Ranks[id] = index + 1
            scores[id, default: 0] += 1 / (rrfK + Double(index + 1))
        }
        // Alone, the vector list is the ranking whatever its weight in fusion.
        let vectorWeight = mode == .vector ? 1 : embedder.fusionWeight
        for (index, id) in vectorIDs.enumerated() {
            vectorRanks[id] = index + 1
            scores[id, default: 0] += vectorWeight / (rrfK + Double(index + 1))
        }
        var aliasHits = Set<String>()
        for chunk in named {
            aliasHits.insert(chunk.id)
            // An exact name outranks anything fused.
            scores[chunk.id, default: 0] += 1
        }
        let ranked = scores.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
        let top = Array(ranked.prefix(k))
        let chunks = try await store.chunks(ids: top.map(\.key))
        let byID = Dictionary(chunks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return top.prefix(k).compactMap { entry in
            guard let chunk = byID[entry.key] else { return nil }
            return SearchHit(
                chunk: chunk, score: entry.value, bm25Rank: bm25Ranks[entry.key], vectorRank: vectorRanks[entry.key],
                aliasHit: aliasHits.contains(entry.key), snippet: Snippet.make(chunk.text, query: query)
            )
        }
    }
}

/// The part of a chunk's text that best shows why it matched.
/// The sentence of a chunk that best shows why it matched a query (the first one for an empty
/// query), cut to 240 characters: what result lists show under a title.
public enum Snippet {
    static let length = 240

    public static func make(_ text: String, query: String) -> String {
        let words = Set(TextTokenizer.terms(query))
        let sentences = text.replacingOccurrences(of: "\n", with: " ").split(separator: ".", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
        var best = sentences.first ?? ""
        var bestScore = -1
        for sentence in sentences {
            let score = TextTokenizer.terms(sentence).filter { words.contains($0) }.count
            if score > bestScore {
                best = sentence
                bestScore = score
            }
        }
        if best.count > length { return String(best.prefix(length - 1)) + "…" }
        return best.isEmpty ? String(text.prefix(length)) : best + (text.contains(best + ".") ? "." : "")
    }
}
