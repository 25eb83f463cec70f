import Foundation

/// Where the data lives, parsed from `RPGBOT_DATABASE_URL`:
/// `sqlite:///absolute/path.sqlite`, `sqlite:relative/path.sqlite`, or
/// `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
public enum DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    /// A PostgreSQL server address and credentials.
    public struct PostgresLocation: Sendable, Equatable {
        public enum TLSMode: String, Sendable, CaseIterable {
            case disable, prefer, require
        }

        public var host: String
        public var port: Int
        public var username: String
        public var password: String?
        public var database: String
        public var tlsMode: TLSMode

        public init(host: String, port: Int = 5432, username: String, password: String? = nil, database: String, tlsMode: TLSMode = .prefer) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.tlsMode = tlsMode
        }
    }

    /// Why a database URL was refused; the message names what is accepted.
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let reason: String
        public var description: String { reason }
    }

    public static let acceptedForms = "sqlite:///path/file.sqlite or postgres://user:pass@host:port/db"

    public init(parsing text: String) throws(ParseError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("sqlite:") {
            var path = String(trimmed.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty, !path.hasSuffix("/") else {
                throw ParseError(reason: "the sqlite URL has no file path; expected \(Self.acceptedForms)")
            }
            self = .sqlite(path: path)
            return
        }
        guard trimmed.hasPrefix("postgres://") || trimmed.hasPrefix("postgresql://"),
              let components = URLComponents(string: trimmed)
        else {
            throw ParseError(reason: "unsupported database URL '\(Self.redacted(trimmed))'; expected \(Self.acceptedForms)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw ParseError(reason: "the postgres URL has no host; expected \(Self.acceptedForms)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw ParseError(reason: "the postgres URL has no user name; expected \(Self.acceptedForms)")
        }
        let database = String(components.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else {
            throw ParseError(reason: "the postgres URL names no database; expected \(Self.acceptedForms)")
        }
        var tls = PostgresLocation.TLSMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = PostgresLocation.TLSMode(rawValue: value) else {
                    throw ParseError(reason: "sslmode must be one of \(PostgresLocation.TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tls = mode
            default:
                throw ParseError(reason: "unknown postgres URL parameter '\(item.name)'; only sslmode is accepted")
            }
        }
        if let port = components.port, !(1...65535).contains(port) {
            throw ParseError(reason: "the postgres URL port must be 1–65535")
        }
        self = .postgres(PostgresLocation(
            host: host,
            port: components.port ?? 5432,
            username: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 },
            database: database,
            tlsMode: tls
        ))
    }

    /// The URL with any password replaced, for logs and error messages.
    public var description: String {
        switch self {
        case .sqlite(let path):
            return "sqlite://\(path)"
        case .postgres(let location):
            let credentials = location.username + (location.password == nil ? "" : ":***")
            return "postgres://\(credentials)@\(location.host):\(location.port)/\(location.database)?sslmode=\(location.tlsMode.rawValue)"
        }
    }

    public var kind: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
    }

    static func redacted(_ text: String) -> String {
        guard let at = text.firstIndex(of: "@"), let scheme = text.range(of: "://"), scheme.upperBound < at else { return text }
        let credentials = text[scheme.upperBound..<at]
        guard let colon = credentials.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}
