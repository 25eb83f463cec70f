import Foundation

/// URI handling for schema identifiers: resolution of references against a base, and the
/// split into a resource URI and a fragment.
enum URIReference {
    /// Resolves `reference` against `base` (RFC 3986), also for URN bases, where only
    /// fragment-only references are meaningful.
    static func resolve(_ reference: String, against base: String) -> String {
        if reference.isEmpty { return base }
        if hasScheme(reference) { return normalize(reference) }
        if reference.hasPrefix("#") { return stripFragment(base) + reference }
        guard let baseURL = URL(string: base), baseURL.scheme != "urn", let resolved = URL(string: reference, relativeTo: baseURL) else {
            return stripFragment(base) + reference
        }
        return normalize(resolved.absoluteString)
    }

    static func hasScheme(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":") else { return false }
        let scheme = text[..<colon]
        guard let first = scheme.first, first.isLetter else { return false }
        return scheme.allSatisfy { $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }
    }

    static func stripFragment(_ uri: String) -> String {
        guard let hash = uri.firstIndex(of: "#") else { return uri }
        return String(uri[..<hash])
    }

    /// The fragment after `#`, percent-decoded; nil when there is none.
    static func fragment(_ uri: String) -> String? {
        guard let hash = uri.firstIndex(of: "#") else { return nil }
        let raw = String(uri[uri.index(after: hash)...])
        return raw.removingPercentEncoding ?? raw
    }

    /// Drops an empty trailing fragment (`…/schema#` is `…/schema`).
    static func normalize(_ uri: String) -> String {
        uri.hasSuffix("#") ? String(uri.dropLast()) : uri
    }
}
