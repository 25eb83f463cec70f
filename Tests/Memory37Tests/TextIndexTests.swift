import Foundation
@testable import Memory37
import Testing

@Suite("In-process BM25 index")
struct TextIndexTests {
    /// Okapi BM25 computed the slow way, from the documents themselves.
    static func reference(_ documents: [String: (heading: [String], body: [String])], query: [String]) -> [(id: String, score: Float)] {
        var counts: [String: [String: Int]] = [:]
        for (id, document) in documents {
            var terms: [String: Int] = [:]
            for term in document.heading { terms[term, default: 0] += 5 }
            for term in document.body { terms[term, default: 0] += 1 }
            counts[id] = terms
        }
        let total = Float(documents.count)
        let average = Float(counts.values.map { $0.values.reduce(0, +) }.reduce(0, +)) / total
        var scores: [String: Float] = [:]
        for term in Set(query) {
            let frequency = Float(counts.values.filter { $0[term] != nil }.count)
            guard frequency > 0 else { continue }
            let idf = Float.log(1 + (total - frequency + 0.5) / (frequency + 0.5))
            for (id, terms) in counts {
                guard let count = terms[term].map(Float.init) else { continue }
                let length = Float(terms.values.reduce(0, +))
                scores[id, default: 0] += idf * count * 2.2 / (count + 1.2 * (0.25 + 0.75 * length / average))
            }
        }
        return scores.map { ($0.key, $0.value) }.sorted { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
    }

    static let scope = FilterColumns.Scope(version: .working(.lore, campaignID: nil), domain: .lore, visibility: .players, expiresAt: nil, createdAt: Date(), pinned: false)

    @Test("rankings equal BM25 computed from scratch, through updates, removals and compaction")
    func matchesReference() {
        var generator = SystemRandomNumberGenerator()
        let vocabulary = (0..<60).map { "w\($0)" }
        func words(_ count: Int) -> [String] { (0..<count).map { _ in vocabulary[min(59, Int(Double.random(in: 0..<1, using: &generator) * Double.random(in: 0..<1, using: &generator) * 60))] } }
        var index = TextIndex()
        var documents: [String: (heading: [String], body: [String])] = [:]
        for number in 0..<6_000 {
            let document = (heading: words(2), body: words(Int.random(in: 5...40, using: &generator)))
            documents["d\(number)"] = document
            index.upsert(id: "d\(number)", scope: Self.scope, heading: document.heading, body: document.body)
        }
        // Replace some, remove most (crossing the compaction threshold), add a few more.
        for number in stride(from: 0, to: 6_000, by: 7) {
            let document = (heading: words(1), body: words(12))
            documents["d\(number)"] = document
            index.upsert(id: "d\(number)", scope: Self.scope, heading: document.heading, body: document.body)
        }
        let removed = Set((0..<5_000).filter { $0 % 7 != 0 }.map { "d\($0)" })
        index.remove(removed)
        for id in removed { documents[id] = nil }
        for number in 6_000..<6_050 {
            let document = (heading: words(3), body: words(20))
            documents["d\(number)"] = document
            index.upsert(id: "d\(number)", scope: Self.scope, heading: document.heading, body: document.body)
        }
        #expect(index.count == documents.count)
        for _ in 0..<20 {
            let query = words(3)
            let expected = Self.reference(documents, query: query).prefix(10)
            let found = index.search(terms: query, filter: SearchFilter(campaignID: nil), limit: 10)
            #expect(found.count == expected.count)
            // Scores computed in another order may differ in the last bit: compare ids where the
            // reference scores are clearly apart, and the sets overall.
            for (position, id) in found.enumerated() where position < expected.count - 1 {
                let gap = expected[expected.startIndex + position].score - expected[expected.startIndex + position + 1].score
                if gap > 1e-4 { #expect(id == expected[expected.startIndex + position].id, "query \(query) position \(position)") }
            }
        }
    }

    @Test("partitions: campaign plus global, domains, versions, gm visibility, expiry and lifetime cutoffs")
    func filters() {
        var indexes = SearchIndexes(dimensions: 4)
        let past = Date(timeIntervalSinceNow: -60)
        let old = Date(timeIntervalSinceNow: -90 * 86_400)
        func add(_ id: String, _ campaign: String?, _ domain: KnowledgeDomain, version: String? = nil, visibility: Visibility = .players, expires: Date? = nil, created: Date = Date(), pinned: Bool = false) {
            let ref = KnowledgeVersionRef(campaignID: campaign, version: version ?? KnowledgeVersion.workingID(domain))
            indexes.upsert(id: id, scope: .init(version: ref, domain: domain, visibility: visibility, expiresAt: expires, createdAt: created, pinned: pinned), heading: [], body: ["bell"], vector: [1, 0, 0, 0])
        }
        add("global", nil, .lore)
        add("mine", "a", .npc)
        add("theirs", "b", .lore)
        add("secret", "a", .lore, visibility: .gm)
        add("expired", "a", .lore, expires: past)
        add("next", "a", .lore, version: "lore-next")
        add("aged", "a", .episode, created: old)
        add("kept", "a", .episode, created: old, pinned: true)
        func found(_ filter: SearchFilter) -> Set<String> {
            let text = Set(indexes.textSearch(terms: ["bell"], filter: filter, limit: 20))
            #expect(Set(indexes.vectorSearch([1, 0, 0, 0], filter: filter, limit: 20)) == text, "text and vector halves see the same rows")
            return text
        }
        #expect(found(SearchFilter(campaignID: "a")) == ["global", "mine", "next", "aged", "kept"])
        #expect(found(SearchFilter(campaignID: "a", includeGM: true)) == ["global", "mine", "secret", "next", "aged", "kept"])
        #expect(found(SearchFilter(campaignID: "a", domains: [.npc])) == ["mine"])
        #expect(found(SearchFilter(campaignID: nil)) == ["global"])
        #expect(found(SearchFilter(campaignID: "unknown")) == ["global"])
        // Resolved versions: only those partitions, each with its lifetime cutoff.
        let thirtyDaysAgo = Date().timeIntervalSince1970 - 30 * 86_400
        let working: [KnowledgeVersionRef: Double] = [
            .working(.lore, campaignID: "a"): -.infinity, .working(.lore, campaignID: nil): -.infinity,
            .working(.episode, campaignID: "a"): thirtyDaysAgo,
        ]
        #expect(found(SearchFilter(campaignID: "a", versions: working)) == ["global", "kept"])
        let next: [KnowledgeVersionRef: Double] = [KnowledgeVersionRef(campaignID: "a", version: "lore-next"): -.infinity]
        #expect(found(SearchFilter(campaignID: "a", versions: next)) == ["next"])
        // Removing the last row of a partition drops it.
        indexes.remove(["next"])
        #expect(found(SearchFilter(campaignID: "a", versions: next)).isEmpty)
        #expect(indexes.partitions[KnowledgeVersionRef(campaignID: "a", version: "lore-next")] == nil)
    }

    @Test("title and alias terms count five times; equal scores come in id order")
    func weightsAndTies() {
        var index = TextIndex()
        index.upsert(id: "b", scope: Self.scope, heading: [], body: ["lantern", "oil"])
        index.upsert(id: "a", scope: Self.scope, heading: [], body: ["lantern", "oil"])
        index.upsert(id: "c", scope: Self.scope, heading: ["lantern"], body: ["oil"])
        #expect(index.search(terms: ["lantern"], filter: SearchFilter(campaignID: nil), limit: 3) == ["c", "a", "b"])
        #expect(index.search(terms: ["nothing"], filter: SearchFilter(campaignID: nil), limit: 3).isEmpty)
    }
}
