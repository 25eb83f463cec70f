import Foundation

/// How many prompt tokens each section of the knowledge context may take.
///
/// Tokens are estimated as 4/3 of the words, which tracks model tokenizers for English prose
/// closely enough for a budget.
public struct ContextBudgets: Sendable, Equatable, CustomStringConvertible {
    public var tokens: [ContextSection: Int]

    public static let standard = ContextBudgets(tokens: [.npcs: 700, .graph: 400, .lore: 700, .rules: 500, .episodes: 500])

    public init(tokens: [ContextSection: Int]) {
        self.tokens = tokens
    }

    public subscript(section: ContextSection) -> Int { tokens[section] ?? 0 }

    /// `npcs:700,graph:400,lore:700,rules:500,episodes:500`; sections left out keep their default, 0
    /// switches a section off.
    public init(parsing text: String) throws(ContextBudgetsError) {
        var tokens = Self.standard.tokens
        for part in text.split(separator: ",") {
            let pair = part.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, let section = ContextSection(rawValue: pair[0]) else {
                throw ContextBudgetsError(message: "'\(part)' is not SECTION:TOKENS with a section among \(ContextSection.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let count = Int(pair[1]), (0...20_000).contains(count) else {
                throw ContextBudgetsError(message: "'\(part)': tokens must be a whole number from 0 to 20000")
            }
            tokens[section] = count
        }
        self.tokens = tokens
    }

    /// The budgets scaled down, each section in proportion, so that together they take at most
    /// `room` tokens; unchanged when they already fit.
    public func fitting(into room: Int) -> ContextBudgets {
        let total = tokens.values.reduce(0, +)
        guard total > room else { return self }
        let scale = Double(max(room, 0)) / Double(total)
        return ContextBudgets(tokens: tokens.mapValues { Int((Double($0) * scale).rounded(.down)) })
    }

    public var description: String {
        ContextSection.allCases.map { "\($0.rawValue):\(self[$0])" }.joined(separator: ",")
    }

    static func estimate(_ text: Substring) -> Int {
        (text.split(whereSeparator: \.isWhitespace).count * 4 + 2) / 3
    }
}

/// Why a budget setting was refused.
public struct ContextBudgetsError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The parts of the knowledge context, in the order the prompt shows them.
public enum ContextSection: String, Sendable, CaseIterable, Comparable {
    case npcs, graph, lore, rules, episodes

    /// How the prompt introduces the section.
    var heading: String {
        switch self {
        case .npcs: "The NPCs"
        case .graph: "Relations in the campaign graph"
        case .lore: "Lore"
        case .rules: "Rules"
        case .episodes: "What happened before"
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
