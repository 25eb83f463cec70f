import Foundation

/// Whether the knowledge supports a claim, contradicts it, or says nothing clear.
///
/// How it decides (a lexical check, not reasoning): the claim's content words (stop words
/// removed) are compared with each sentence of the five best search hits. A sentence that
/// contains at least 75% of them **supports** the claim when both are affirmative or both
/// negated, and **contradicts** it when exactly one of them is negated ("not", "never", "no",
/// "n't"). A sentence that shares the claim's subject words and at least half of the rest but
/// states a different number also **contradicts** it. Anything else is **unknown**.
///
/// Where it is weak: paraphrases with few shared words stay unknown; antonyms ("alive" vs
/// "dead") are not seen as contradictions; it does not track time, so a fact that changed in
/// play may be supported by an older episode.
public struct LoreAssertion: Sendable {
    public enum Verdict: String, Sendable {
        case supported, contradicted, unknown
    }

    public let verdict: Verdict
    /// The sentence that decided, and the hits searched.
    public let deciding: String?
    public let evidence: [SearchHit]

    static let negations: Set<String> = ["not", "never", "no", "nobody", "nothing", "none", "cannot", "isnt", "wasnt", "doesnt", "dont", "didnt", "arent", "werent", "wont"]

    static func judge(claim: String, evidence: [SearchHit]) -> LoreAssertion {
        let claimWords = TextTokenizer.words(claim)
        let content = Set(TextTokenizer.terms(claim).filter { !negations.contains($0) })
        let claimNegated = claimWords.contains(where: negations.contains)
        let claimNumbers = Set(claimWords.filter { Int($0) != nil })
        guard !content.isEmpty else { return LoreAssertion(verdict: .unknown, deciding: nil, evidence: evidence) }
        var best: (coverage: Double, sentence: String, negated: Bool)?
        for hit in evidence {
            let subject = Set(TextTokenizer.terms(([hit.chunk.title] + hit.chunk.aliases).joined(separator: " ")))
            for sentence in hit.chunk.text.split(whereSeparator: { ".!?\n".contains($0) }) {
                let words = TextTokenizer.words(String(sentence))
                let present = Set(TextTokenizer.terms(String(sentence))).union(subject)
                let coverage = Double(content.filter(present.contains).count) / Double(content.count)
                let negated = words.contains(where: negations.contains)
                // A different number where the rest matches: "the bridge has 3 arches" vs 5.
                let numbers = Set(words.filter { Int($0) != nil })
                let nonNumeric = content.subtracting(claimNumbers)
                let nonNumericCoverage = nonNumeric.isEmpty ? 0 : Double(nonNumeric.filter(present.contains).count) / Double(nonNumeric.count)
                if !claimNumbers.isEmpty, !numbers.isEmpty, numbers.isDisjoint(with: claimNumbers), nonNumericCoverage >= 0.75 {
                    return LoreAssertion(verdict: .contradicted, deciding: sentence.trimmingCharacters(in: .whitespaces), evidence: evidence)
                }
                if best == nil || coverage > best!.coverage {
                    best = (coverage, sentence.trimmingCharacters(in: .whitespaces), negated)
                }
            }
        }
        guard let best, best.coverage >= 0.75 else { return LoreAssertion(verdict: .unknown, deciding: nil, evidence: evidence) }
        return LoreAssertion(verdict: best.negated == claimNegated ? .supported : .contradicted, deciding: best.sentence, evidence: evidence)
    }
}
