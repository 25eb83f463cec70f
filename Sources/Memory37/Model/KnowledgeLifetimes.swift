import Foundation

/// Lifetimes of knowledge: the `ttl` of a document, the defaults by domain
/// (`RPGBOT_KNOWLEDGE_TTL=episode=180d,art=30d`) and a campaign's overrides.
public enum KnowledgeLifetimes {
    /// Seconds in `90s`, `45m`, `12h`, `180d` or `2w`; nil for anything else (or zero).
    public static func parse(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]
        guard let unit = trimmed.last, let seconds = units[unit], let value = Double(trimmed.dropLast()), value.isFinite, value > 0, value < 1e7 else { return nil }
        return value * seconds
    }

    /// `domain=duration` pairs separated by commas; throws naming the first bad pair.
    public static func parseList(_ text: String) throws(ParseError) -> [KnowledgeDomain: Double] {
        var lifetimes: [KnowledgeDomain: Double] = [:]
        for pair in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let domain = KnowledgeDomain(rawValue: parts[0].lowercased()) else {
                throw ParseError(pair: pair, reason: "expected domain=duration with a domain of \(KnowledgeDomain.acceptedList)")
            }
            guard let seconds = parse(parts[1]) else { throw ParseError(pair: pair, reason: "the duration must look like 90s, 45m, 12h, 180d or 2w") }
            lifetimes[domain] = seconds
        }
        return lifetimes
    }

    /// A lifetime as it is written: the largest whole unit.
    public static func format(_ seconds: Double) -> String {
        for (unit, size) in [("w", 604_800.0), ("d", 86_400), ("h", 3_600), ("m", 60)] where seconds >= size && seconds.truncatingRemainder(dividingBy: size) == 0 {
            return "\(Int(seconds / size))\(unit)"
        }
        return "\(Int(seconds))s"
    }

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let pair: String
        public let reason: String
        public var description: String { "\(pair): \(reason)" }
    }
}
