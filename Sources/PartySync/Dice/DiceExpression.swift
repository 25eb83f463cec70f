/// A dice expression as players write it, parsed and checked against limits:
///
///     expression := term (("+" | "-") term)*
///     term       := dice | whole number
///     dice       := [count] "d" (sides | "%") [("kh" | "kl" | "dh" | "dl") number]
///
/// `2d20kh1+5` (advantage), `4d6dl1` (drop the lowest), `d100`, `d%`, `3d8-2`, `1d4+1d6+3`.
/// Letters are case-insensitive and spaces are ignored. The server rolls it
/// (``DiceExpression/roll(using:)``): a client only ever says what to roll.
public struct DiceExpression: Sendable, Equatable, CustomStringConvertible {
    /// One group of identical dice, or a fixed number, added or subtracted.
    public enum Term: Sendable, Equatable {
        case dice(count: Int, sides: Int, keep: Keep?, negative: Bool)
        case number(Int)
    }

    /// Which dice of a group count toward the total.
    public enum Keep: Sendable, Equatable {
        case highest(Int), lowest(Int), dropHighest(Int), dropLowest(Int)

        var notation: String {
            switch self {
            case .highest(let n): "kh\(n)"
            case .lowest(let n): "kl\(n)"
            case .dropHighest(let n): "dh\(n)"
            case .dropLowest(let n): "dl\(n)"
            }
        }
    }

    public let terms: [Term]

    /// What an expression may ask for: enough for any table, too little to make the server roll
    /// for long or store a huge event.
    public enum Limits {
        public static let length = 64
        public static let terms = 10
        public static let dicePerGroup = 100
        public static let diceInAll = 200
        public static let sides = 1000
        public static let number = 10_000
    }

    /// Why an expression was refused; `message` says what to write instead.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public init(parsing text: String) throws(ParseError) {
        guard text.count <= Limits.length else { throw ParseError(message: "an expression is at most \(Limits.length) characters") }
        var scanner = Scanner(Array(text.lowercased().filter { $0 != " " }.utf8))
        guard !scanner.atEnd else { throw ParseError(message: "the expression is empty; write something like 2d20kh1+5") }
        var terms: [Term] = []
        var negative = false
        while true {
            terms.append(try scanner.term(negative: negative))
            guard terms.count <= Limits.terms else { throw ParseError(message: "at most \(Limits.terms) terms") }
            if scanner.atEnd { break }
            switch scanner.next() {
            case UInt8(ascii: "+"): negative = false
            case UInt8(ascii: "-"): negative = true
            default: throw ParseError(message: "expected + or - at character \(scanner.index); write something like 2d20kh1+5")
            }
        }
        let dice = terms.reduce(0) { if case .dice(let count, _, _, _) = $1 { return $0 + count } else { return $0 } }
        guard dice > 0 else { throw ParseError(message: "the expression rolls no dice") }
        guard dice <= Limits.diceInAll else { throw ParseError(message: "at most \(Limits.diceInAll) dice in all") }
        self.terms = terms
    }

    /// The expression in its normal form (`2d20kh1+5`).
    public var description: String {
        var text = ""
        for (index, term) in terms.enumerated() {
            switch term {
            case .dice(let count, let sides, let keep, let negative):
                if negative { text += "-" } else if index > 0 { text += "+" }
                text += "\(count)d\(sides)" + (keep?.notation ?? "")
            case .number(let value):
                text += value < 0 ? "-\(-value)" : (index > 0 ? "+\(value)" : "\(value)")
            }
        }
        return text
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index >= bytes.count }

        mutating func next() -> UInt8 {
            defer { index += 1 }
            return bytes[index]
        }

        func peek(_ offset: Int = 0) -> UInt8? {
            index + offset < bytes.count ? bytes[index + offset] : nil
        }

        /// A whole number of at most 5 digits, or nil when there is no digit here.
        mutating func number() throws(ParseError) -> Int? {
            let start = index
            while let byte = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
            guard index > start else { return nil }
            guard index - start <= 5 else { throw ParseError(message: "numbers are at most \(Limits.number)") }
            return Int(String(decoding: bytes[start..<index], as: UTF8.self))
        }

        mutating func term(negative: Bool) throws(ParseError) -> Term {
            let count = try number()
            guard peek() == UInt8(ascii: "d") else {
                guard let count else { throw ParseError(message: "expected a number or dice at character \(index + 1); write something like 2d20kh1+5") }
                guard count <= Limits.number else { throw ParseError(message: "numbers are at most \(Limits.number)") }
                return .number(negative ? -count : count)
            }
            index += 1
            let sides: Int
            if peek() == UInt8(ascii: "%") {
                index += 1
                sides = 100
            } else {
                guard let value = try number() else { throw ParseError(message: "dice need their sides after d (d6, d20, d%)") }
                sides = value
            }
            let dice = count ?? 1
            guard (1...Limits.dicePerGroup).contains(dice) else { throw ParseError(message: "a group has 1 to \(Limits.dicePerGroup) dice") }
            guard (2...Limits.sides).contains(sides) else { throw ParseError(message: "dice have 2 to \(Limits.sides) sides") }
            var keep: Keep?
            if let first = peek(), first == UInt8(ascii: "k") || first == UInt8(ascii: "d"), let second = peek(1), second == UInt8(ascii: "h") || second == UInt8(ascii: "l") {
                index += 2
                guard let n = try number() else { throw ParseError(message: "kh, kl, dh and dl need how many dice (2d20kh1)") }
                switch (first, second) {
                case (UInt8(ascii: "k"), UInt8(ascii: "h")): keep = .highest(n)
                case (UInt8(ascii: "k"), _): keep = .lowest(n)
                case (_, UInt8(ascii: "h")): keep = .dropHighest(n)
                default: keep = .dropLowest(n)
                }
                let valid: Bool =
                    switch keep! {
                    case .highest(let n), .lowest(let n): (1...dice).contains(n)
                    case .dropHighest(let n), .dropLowest(let n): (1..<dice).contains(n)
                    }
                guard valid else { throw ParseError(message: "\(keep!.notation) must keep at least one of the \(dice) dice") }
            }
            return .dice(count: dice, sides: sides, keep: keep, negative: negative)
        }
    }
}
