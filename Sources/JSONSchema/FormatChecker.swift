import Foundation

/// Checks for the `format` values an assertion can be made about; nil for formats it does
/// not know (those stay annotations, as the specification asks).
enum FormatChecker {
    static func check(_ format: String, _ text: String) -> Bool? {
        switch format {
        case "date":
            return matches(#"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"#, text)
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
                guard let value = Int(octet), (0...255).contains(value), octet.allSatisfy(\.isASCII) else { return false }
                return octet == "0" || !octet.hasPrefix("0")
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

    private static func matches(_ pattern: String, _ text: String) -> Bool {
        PatternCache.shared.matches(pattern, text)
    }
}
