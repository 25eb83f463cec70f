import Foundation

/// Checks for the `format` values an assertion can be made about; nil for formats it does
/// not know (those stay annotations, as the specification asks).
enum FormatChecker {
    static func check(_ format: String, _ text: String) -> Bool? {
        switch format {
        case "date":
            return isDate(text)
        case "time":
            return matches(#"^([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$"#, text)
        case "date-time":
            let parts = text.split(maxSplits: 1, whereSeparator: { $0 == "T" || $0 == "t" })
            guard parts.count == 2 else { return false }
            return check("date", String(parts[0])) == true && check("time", String(parts[1])) == true
        case "email":
            return matches(#"^[^\s@]+@[^\s@]+\.[^\s@]+$"#, text)
        case "ipv4":
            let octets = text.split(separator: ".", omittingEmptySubsequences: false)
            return octets.count == 4 && octets.allSatisfy { octet in
                guard (1...3).contains(octet.utf8.count), octet.utf8.allSatisfy({ (48...57).contains($0) }), let value = Int(octet) else { return false }
                return value <= 255 && (octet == "0" || !octet.hasPrefix("0"))
            }
        case "uuid":
            return matches(#"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"#, text)
        case "uri":
            guard let url = URL(string: text), let scheme = url.scheme else { return false }
            return !scheme.isEmpty && !text.contains(" ")
        case "regex":
            return (try? NSRegularExpression(pattern: text)) != nil
        default:
            return nil
        }
    }

    /// Whole-string match: `$` in ICU also matches before a final newline, which a format
    /// must not accept.
    private static func matches(_ pattern: String, _ text: String) -> Bool {
        !text.contains("\n") && PatternCache.shared.matches(pattern, text)
    }

    /// `YYYY-MM-DD` with a day that exists in that month (leap years included).
    static func isDate(_ text: String) -> Bool {
        guard matches(#"^\d{4}-\d{2}-\d{2}$"#, text), text.utf8.allSatisfy({ $0 == 45 || (48...57).contains($0) }) else { return false }
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return false }
        let (year, month, day) = (parts[0], parts[1], parts[2])
        guard (1...12).contains(month), day >= 1 else { return false }
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        return day <= days
    }
}
