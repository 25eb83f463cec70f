public import Foundation

/// BERT's uncased WordPiece tokenizer, as Hugging Face `tokenizers` runs it for
/// all-MiniLM-L6-v2: clean the text, space out CJK ideographs, strip accents and lowercase,
/// split on whitespace and punctuation, then split each word greedily into the longest pieces
/// of the vocabulary (`##` marks a piece that continues a word).
public struct WordPieceTokenizer: Sendable {
    /// Token ids by piece.
    let vocabulary: [String: Int32]
    public let classifierID: Int32
    public let separatorID: Int32
    public let unknownID: Int32
    /// A longer word is one unknown token, as in the reference.
    let longestWord = 100

    /// Reads a `vocab.txt`: one piece per line, the line number its id.
    public init(vocabularyFile: URL) throws {
        let text = try String(contentsOf: vocabularyFile, encoding: .utf8)
        var vocabulary: [String: Int32] = [:]
        var id: Int32 = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let piece = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
            if !piece.isEmpty, vocabulary[piece] == nil { vocabulary[piece] = id }
            id += 1
        }
        try self.init(vocabulary: vocabulary)
    }

    public init(vocabulary: [String: Int32]) throws {
        guard let classifier = vocabulary["[CLS]"], let separator = vocabulary["[SEP]"], let unknown = vocabulary["[UNK]"] else {
            throw SentenceEmbeddingError("the vocabulary lacks [CLS], [SEP] or [UNK]")
        }
        self.vocabulary = vocabulary
        classifierID = classifier
        separatorID = separator
        unknownID = unknown
    }

    /// `[CLS]`, the text's pieces, `[SEP]`: at most `maxTokens` ids in all, the end of a longer
    /// text cut off as sentence-transformers does.
    public func encode(_ text: String, maxTokens: Int) -> [Int32] {
        var ids: [Int32] = [classifierID]
        let room = max(0, maxTokens - 2)
        for word in words(text) {
            for id in pieces(of: word) {
                guard ids.count - 1 < room else { break }
                ids.append(id)
            }
            if ids.count - 1 >= room { break }
        }
        ids.append(separatorID)
        return ids
    }

    /// The pieces of `text`, as strings (for tests and diagnostics).
    public func tokens(_ text: String) -> [String] {
        let names = Dictionary(uniqueKeysWithValues: vocabulary.map { ($0.value, $0.key) })
        return words(text).flatMap { pieces(of: $0) }.map { names[$0] ?? "[UNK]" }
    }

    // MARK: - Normalising and splitting

    /// The normalised text split into words and single punctuation marks.
    func words(_ text: String) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var word: [Unicode.Scalar] = []
        func finish() {
            if !word.isEmpty { words.append(word); word.removeAll(keepingCapacity: true) }
        }
        for scalar in normalised(text) {
            if Self.isWhitespace(scalar) {
                finish()
            } else if Self.isPunctuation(scalar) || Self.isIdeograph(scalar) {
                finish()
                words.append([scalar])
            } else {
                word.append(scalar)
            }
        }
        finish()
        return words
    }

    /// Control characters dropped, accents stripped (NFD without its combining marks), lowercased.
    func normalised(_ text: String) -> [Unicode.Scalar] {
        var cleaned = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
            cleaned.append(Self.isWhitespace(scalar) ? " " : scalar)
        }
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(cleaned.count)
        for scalar in String(cleaned).decomposedStringWithCanonicalMapping.unicodeScalars
        where scalar.properties.generalCategory != .nonspacingMark {
            for lower in scalar.properties.lowercaseMapping.unicodeScalars { result.append(lower) }
        }
        return result
    }

    /// Greedy longest-match pieces of one word; a word with no split is one unknown token.
    func pieces(of word: [Unicode.Scalar]) -> [Int32] {
        guard word.count <= longestWord else { return [unknownID] }
        var ids: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                var piece = start > 0 ? "##" : ""
                piece.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = vocabulary[piece] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else { return [unknownID] }
            ids.append(id)
            start = end
        }
        return ids
    }

    // MARK: - Character classes, as BERT defines them

    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case " ", "\t", "\n", "\r": true
        default: scalar.properties.isWhitespace
        }
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "\t", "\n", "\r": false
        default:
            switch scalar.properties.generalCategory {
            case .control, .format, .privateUse, .surrogate, .unassigned: true
            default: false
            }
        }
    }

    /// ASCII symbols count as punctuation too (`$`, `^`, `` ` ``…), as in BERT.
    static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if (33...47).contains(value) || (58...64).contains(value) || (91...96).contains(value) || (123...126).contains(value) { return true }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// The CJK ideograph blocks BERT spaces out, so each ideograph is a word of its own.
    static func isIdeograph(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: true
        default: false
        }
    }
}
