public import JSONValues

/// One roll of a ``DiceExpression``: every die as it fell, which of them count, and the total —
/// what a `dice.rolled` event stores, so that every client shows the same dice.
public struct DiceRoll: Sendable, Equatable {
    /// One group of identical dice.
    public struct Group: Sendable, Equatable {
        /// The group in normal form (`2d20kh1`).
        public let notation: String
        public let sides: Int
        /// Each die, in the order rolled.
        public let rolls: [Int]
        /// Positions in `rolls` of the dice that count.
        public let kept: [Int]
        /// The kept dice summed; negative for a subtracted group.
        public let subtotal: Int
    }

    public let expression: String
    public let groups: [Group]
    /// The fixed numbers summed.
    public let modifier: Int
    public let total: Int

    /// The `dice.rolled` payload: `{expression, label?, dice: [{notation, sides, rolls, kept, subtotal}], modifier, total}`.
    public func payload(label: String?) -> ExactJSON {
        func number(_ value: Int) -> ExactJSON { .number(String(value)) }
        var members: [String: ExactJSON] = [
            "expression": .string(expression),
            "dice": .array(groups.map { group in
                .object([
                    "notation": .string(group.notation), "sides": number(group.sides),
                    "rolls": .array(group.rolls.map(number)), "kept": .array(group.kept.map(number)),
                    "subtotal": number(group.subtotal),
                ])
            }),
            "modifier": number(modifier),
            "total": number(total),
        ]
        if let label { members["label"] = .string(label) }
        return .object(members)
    }
}

extension DiceExpression {
    /// Rolls every die with `generator`: the server passes the system's cryptographic source
    /// (`SystemRandomNumberGenerator`, getrandom on Linux); tests pass a seeded one.
    public func roll(using generator: inout some RandomNumberGenerator) -> DiceRoll {
        var groups: [DiceRoll.Group] = []
        var modifier = 0
        for term in terms {
            switch term {
            case .number(let value):
                modifier += value
            case .dice(let count, let sides, let keep, let negative):
                let rolls = (0..<count).map { _ in Int.random(in: 1...sides, using: &generator) }
                // Highest first; equal dice by position, so the kept set is deterministic.
                let ranked = rolls.indices.sorted { rolls[$0] != rolls[$1] ? rolls[$0] > rolls[$1] : $0 < $1 }
                let kept: [Int] =
                    switch keep {
                    case nil: Array(rolls.indices)
                    case .highest(let n)?: Array(ranked.prefix(n)).sorted()
                    case .lowest(let n)?: Array(ranked.suffix(n)).sorted()
                    case .dropHighest(let n)?: Array(ranked.dropFirst(n)).sorted()
                    case .dropLowest(let n)?: Array(ranked.dropLast(n)).sorted()
                    }
                let sum = kept.reduce(0) { $0 + rolls[$1] }
                groups.append(DiceRoll.Group(
                    notation: "\(count)d\(sides)" + (keep?.notation ?? ""), sides: sides, rolls: rolls, kept: kept, subtotal: negative ? -sum : sum
                ))
            }
        }
        return DiceRoll(expression: description, groups: groups, modifier: modifier, total: groups.reduce(modifier) { $0 + $1.subtotal })
    }
}
