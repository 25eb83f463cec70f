public import HTTPTypes
import Synchronization

/// Every route the application registered, as method and path template.
///
/// It backs two things the router itself cannot tell: 405 (the path exists with another
/// method) and the check that each route is described in the OpenAPI document.
public final class RouteCatalog: Sendable {
    /// One registered route. `path` uses OpenAPI's template syntax: `/v1/jobs/{job_id}`.
    public struct Route: Hashable, Sendable, CustomStringConvertible {
        public var method: HTTPRequest.Method
        public var path: String

        public init(method: HTTPRequest.Method, path: String) {
            self.method = method
            self.path = path
        }

        public var description: String { "\(method.rawValue) \(path)" }
    }

    private let storage = Mutex<[Route]>([])

    public init() {}

    public func record(_ route: Route) {
        storage.withLock { routes in
            if !routes.contains(route) { routes.append(route) }
        }
    }

    public var routes: [Route] {
        storage.withLock { $0 }
    }

    /// The methods registered for the template(s) that match `path`, sorted.
    public func methods(matching path: String) -> [HTTPRequest.Method] {
        let segments = Self.segments(of: path)
        let matches = routes.filter { Self.template(Self.segments(of: $0.path), matches: segments) }
        // The router prefers literal segments to parameters (`/v1/generation/profiles` over
        // `/v1/generation/{profile}`), so only the most specific templates say what is allowed.
        let literals = { (route: Route) in Self.segments(of: route.path).filter { !Self.isParameter($0) }.count }
        let best = matches.map(literals).max() ?? 0
        let names = Set(matches.filter { literals($0) == best }.map { $0.method.rawValue }).sorted()
        return names.compactMap { HTTPRequest.Method($0) }
    }

    static func isParameter(_ part: Substring) -> Bool {
        part == "*" || part == "**" || (part.hasPrefix("{") && part.hasSuffix("}")) || part.hasPrefix(":")
    }

    static func segments(of path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    static func template(_ template: [Substring], matches path: [Substring]) -> Bool {
        var index = 0
        for (position, part) in template.enumerated() {
            if part == "**" { return true }
            guard index < path.count else { return false }
            if !isParameter(part) && part != path[index] { return false }
            index += 1
            if position == template.count - 1 { return index == path.count }
        }
        return template.isEmpty && path.isEmpty
    }
}
