import Foundation
import Synchronization

/// Compiled regular expressions for `pattern` and `patternProperties`, shared and compiled
/// once each. Patterns are ECMA-262 in JSON Schema; NSRegularExpression (ICU) accepts the
/// subset schemas use in practice. An invalid pattern matches nothing.
final class PatternCache: Sendable {
    static let shared = PatternCache()

    private let compiled = Mutex<[String: NSRegularExpression?]>([:])

    func matches(_ pattern: String, _ text: String) -> Bool {
        let expression: NSRegularExpression? = compiled.withLock { cache in
            if let cached = cache[pattern] { return cached }
            let made = try? NSRegularExpression(pattern: pattern, options: [])
            if cache.count > 10_000 { cache.removeAll() }
            cache[pattern] = made
            return made
        }
        guard let expression else { return false }
        return expression.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
}
