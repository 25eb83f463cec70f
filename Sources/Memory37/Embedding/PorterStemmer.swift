/// The Porter stemming algorithm (M. F. Porter, "An algorithm for suffix stripping", 1980),
/// for English words in lower case: `running` → `run`, `abilities` → `abil`, `explosion` →
/// `explos`. Words with anything but ASCII letters are returned unchanged.
enum PorterStemmer {
    static func stem(_ word: String) -> String {
        guard word.count > 2, word.utf8.allSatisfy({ $0 >= 97 && $0 <= 122 }) else { return word }
        var w = Array(word.utf8)
        step1a(&w)
        step1b(&w)
        step1c(&w)
        step2(&w)
        step3(&w)
        step4(&w)
        step5(&w)
        return String(decoding: w, as: UTF8.self)
    }

    // MARK: - Measures

    private static func isConsonant(_ w: [UInt8], _ i: Int) -> Bool {
        switch w[i] {
        case 97, 101, 105, 111, 117: return false
        case 121: return i == 0 ? true : !isConsonant(w, i - 1)
        default: return true
        }
    }

    /// m in [C](VC)^m[V] for the first `length` letters.
    private static func measure(_ w: [UInt8], _ length: Int) -> Int {
        var m = 0
        var i = 0
        while i < length && isConsonant(w, i) { i += 1 }
        while i < length {
            while i < length && !isConsonant(w, i) { i += 1 }
            guard i < length else { break }
            m += 1
            while i < length && isConsonant(w, i) { i += 1 }
        }
        return m
    }

    private static func hasVowel(_ w: [UInt8], _ length: Int) -> Bool {
        (0..<length).contains { !isConsonant(w, $0) }
    }

    private static func endsDoubleConsonant(_ w: [UInt8]) -> Bool {
        let n = w.count
        return n >= 2 && w[n - 1] == w[n - 2] && isConsonant(w, n - 1)
    }

    /// *o: the stem ends consonant-vowel-consonant, the last not w, x or y.
    private static func endsCVC(_ w: [UInt8], _ length: Int) -> Bool {
        guard length >= 3 else { return false }
        let last = w[length - 1]
        return isConsonant(w, length - 1) && !isConsonant(w, length - 2) && isConsonant(w, length - 3)
            && last != 119 && last != 120 && last != 121
    }

    /// Compares in place: this runs for every word of every chunk, so nothing is allocated.
    private static func ends(_ w: [UInt8], _ suffix: StaticString) -> Bool {
        let count = suffix.utf8CodeUnitCount
        guard w.count >= count else { return false }
        return suffix.withUTF8Buffer { bytes in
            var index = 0
            let start = w.count - count
            while index < count {
                if w[start + index] != bytes[index] { return false }
                index += 1
            }
            return true
        }
    }

    /// Replaces `suffix` with `replacement` when the stem before it has measure > `minimum`.
    @discardableResult
    private static func replace(_ w: inout [UInt8], _ suffix: StaticString, _ replacement: StaticString, minimum: Int = 0) -> Bool {
        guard ends(w, suffix) else { return false }
        let stem = w.count - suffix.utf8CodeUnitCount
        if measure(w, stem) > minimum {
            w.removeLast(suffix.utf8CodeUnitCount)
            replacement.withUTF8Buffer { w.append(contentsOf: $0) }
        }
        return true
    }

    // MARK: - Steps

    private static func step1a(_ w: inout [UInt8]) {
        if ends(w, "sses") { w.removeLast(2) }
        else if ends(w, "ies") { w.removeLast(2) }
        else if ends(w, "ss") { return }
        else if ends(w, "s") { w.removeLast() }
    }

    private static func step1b(_ w: inout [UInt8]) {
        if ends(w, "eed") {
            if measure(w, w.count - 3) > 0 { w.removeLast() }
            return
        }
        var removed = false
        if ends(w, "ed"), hasVowel(w, w.count - 2) {
            w.removeLast(2)
            removed = true
        } else if ends(w, "ing"), hasVowel(w, w.count - 3) {
            w.removeLast(3)
            removed = true
        }
        guard removed else { return }
        if ends(w, "at") || ends(w, "bl") || ends(w, "iz") {
            w.append(101)
        } else if endsDoubleConsonant(w), let last = w.last, last != 108, last != 115, last != 122 {
            w.removeLast()
        } else if measure(w, w.count) == 1, endsCVC(w, w.count) {
            w.append(101)
        }
    }

    private static func step1c(_ w: inout [UInt8]) {
        if ends(w, "y"), hasVowel(w, w.count - 1) { w[w.count - 1] = 105 }
    }

    private static let step2Rules: [(StaticString, StaticString)] = [
        ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"), ("abli", "able"),
        ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"), ("ization", "ize"), ("ation", "ate"),
        ("ator", "ate"), ("alism", "al"), ("iveness", "ive"), ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"),
        ("iviti", "ive"), ("biliti", "ble"),
    ]

    private static func step2(_ w: inout [UInt8]) {
        for (suffix, replacement) in step2Rules where replace(&w, suffix, replacement) { return }
    }

    private static let step3Rules: [(StaticString, StaticString)] = [
        ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""), ("ness", ""),
    ]

    private static func step3(_ w: inout [UInt8]) {
        for (suffix, replacement) in step3Rules where replace(&w, suffix, replacement) { return }
    }

    /// Longest first: "ement" before "ment" before "ent".
    private static let step4Suffixes: [StaticString] = [
        "ement", "ance", "ence", "able", "ible", "ment", "ant", "ent", "ion", "ism", "ate", "iti", "ous", "ive", "ize",
        "al", "er", "ic", "ou",
    ]

    private static func step4(_ w: inout [UInt8]) {
        for suffix in step4Suffixes where ends(w, suffix) {
            let stem = w.count - suffix.utf8CodeUnitCount
            if suffix.utf8CodeUnitCount == 3 && ends(w, "ion") {
                guard stem > 0, w[stem - 1] == 115 || w[stem - 1] == 116 else { return }
            }
            if measure(w, stem) > 1 { w.removeLast(suffix.utf8CodeUnitCount) }
            return
        }
    }

    private static func step5(_ w: inout [UInt8]) {
        if ends(w, "e") {
            let m = measure(w, w.count - 1)
            if m > 1 || (m == 1 && !endsCVC(w, w.count - 1)) { w.removeLast() }
        }
        if measure(w, w.count) > 1, endsDoubleConsonant(w), w.last == 108 { w.removeLast() }
    }
}
