/// Finds the names and aliases of a scope's entities in a text: whole words, ignoring case,
/// in one pass over the text's words with an Aho–Corasick automaton over word ids — the cost
/// does not grow with the number of names.
struct MentionMatcher: Sendable {
    /// One occurrence: the node named and where its name ends (a word index).
    struct Match: Equatable {
        var id: String
        var start: Int
        var end: Int
    }

    private var words: [Substring: Int32] = [:]
    private var transitions: [[Int32: Int32]] = [[:]]
    private var failure: [Int32] = [0]
    /// The ids a state completes, with the name's length in words.
    private var outputs: [[(id: String, length: Int)]] = [[]]

    var isEmpty: Bool { transitions.count == 1 }

    /// - Parameter names: (name, node id) pairs; names of fewer than three letters are skipped
    ///   (they would match ordinary words).
    init(names: [(name: String, id: String)]) {
        for (name, id) in names {
            let tokens = Self.words(of: name)
            guard !tokens.isEmpty, tokens.joined().count >= 3 else { continue }
            var state: Int32 = 0
            for token in tokens {
                let word = words[token] ?? { let next = Int32(words.count); words[token] = next; return next }()
                if let next = transitions[Int(state)][word] {
                    state = next
                } else {
                    let next = Int32(transitions.count)
                    transitions.append([:])
                    failure.append(0)
                    outputs.append([])
                    transitions[Int(state)][word] = next
                    state = next
                }
            }
            if !outputs[Int(state)].contains(where: { $0.id == id }) { outputs[Int(state)].append((id, tokens.count)) }
        }
        // Breadth first: each state's failure link is the longest proper suffix that is a state.
        var queue: [Int32] = Array(transitions[0].values)
        var head = 0
        while head < queue.count {
            let state = queue[head]
            head += 1
            for (word, next) in transitions[Int(state)] {
                queue.append(next)
                var fallback = failure[Int(state)]
                while fallback != 0 && transitions[Int(fallback)][word] == nil { fallback = failure[Int(fallback)] }
                let link = transitions[Int(fallback)][word].flatMap { $0 == next ? nil : $0 } ?? 0
                failure[Int(next)] = link
                outputs[Int(next)] += outputs[Int(link)]
            }
        }
    }

    /// Every occurrence in `text`, in order.
    func matches(in text: String) -> [Match] {
        guard !isEmpty else { return [] }
        var found: [Match] = []
        var state: Int32 = 0
        for (index, token) in Self.words(of: text).enumerated() {
            guard let word = words[token] else {
                state = 0
                continue
            }
            while state != 0 && transitions[Int(state)][word] == nil { state = failure[Int(state)] }
            state = transitions[Int(state)][word] ?? 0
            for output in outputs[Int(state)] {
                found.append(Match(id: output.id, start: index - output.length + 1, end: index))
            }
        }
        return found
    }

    /// Lower-cased runs of letters and digits.
    static func words(of text: String) -> [Substring] {
        let lowered = text.lowercased()
        return lowered.split { !($0.isLetter || $0.isNumber) }
    }
}
