/// How text is cut into words (lower-cased runs of letters and digits, any script) and into
/// search terms (words that are not stop words, Porter-stemmed): what the in-memory index, the
/// SQLite index, the hashing embedder and the snippets all use.
enum TextTokenizer {
    /// Search terms: `The spells exploded` → `spell`, `explod`.
    static func terms(_ text: String) -> [String] {
        words(text).filter { !stopwords.contains($0) }.map(PorterStemmer.stem)
    }

    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            if !current.isEmpty {
                words.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        for scalar in text.unicodeScalars {
            // ASCII without Unicode property lookups: most text is ASCII, and this loop runs
            // over every character ingested or searched.
            if scalar.isASCII {
                switch scalar.value {
                case 0x61...0x7A, 0x30...0x39: current.append(scalar)
                case 0x41...0x5A: current.append(Unicode.Scalar(scalar.value + 0x20)!)
                case 0x27: continue
                default: flush()
                }
            } else if scalar == "’" {
                continue
            } else if scalar.properties.isAlphabetic {
                current.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            } else {
                flush()
            }
        }
        flush()
        return words
    }

    static let stopwords: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has", "have", "how",
        "i", "if", "in", "is", "it", "its", "of", "on", "or", "that", "the", "their", "there", "this", "to", "was",
        "we", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your", "my", "me", "our", "us",
        "about", "into", "than", "then", "them", "they", "these", "those", "any", "all", "would", "should", "could",
        "did", "been", "being", "were", "so", "but", "not", "no", "up", "out", "he", "she", "his", "her", "him",
    ]
}
