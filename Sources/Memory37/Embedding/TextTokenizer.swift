/// Words as the in-memory index and the hashing embedder see them: lower-cased runs of letters
/// and digits (any script), with a light English plural folding.
enum TextTokenizer {
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            if !current.isEmpty {
                words.append(fold(String(current)))
                current = String.UnicodeScalarView()
            }
        }
        for scalar in text.lowercased().unicodeScalars {
            if scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                current.append(scalar)
            } else if scalar == "'" || scalar == "’" {
                continue
            } else {
                flush()
            }
        }
        flush()
        return words
    }

    /// `spells` → `spell`, `abilities` → `ability`; short words and `-ss` stay.
    static func fold(_ word: String) -> String {
        guard word.count > 3, word.hasSuffix("s"), !word.hasSuffix("ss"), !word.hasSuffix("us"), !word.hasSuffix("is") else { return word }
        if word.hasSuffix("ies") && word.count > 4 { return String(word.dropLast(3)) + "y" }
        return String(word.dropLast())
    }

    static let stopwords: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has", "have", "how",
        "i", "if", "in", "is", "it", "its", "of", "on", "or", "that", "the", "their", "there", "this", "to", "was",
        "we", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your", "my", "me", "our", "us",
        "about", "into", "than", "then", "them", "they", "these", "those", "any", "all", "would", "should", "could",
        "did", "been", "being", "were", "so", "but", "not", "no", "up", "out", "he", "she", "his", "her", "him",
    ]
}
