/// One configurable setting: its flag, its environment variable, its default and what it
/// accepts, declared once — by the server for its own settings, by each capability for its
/// own (``Capability/settings``). `rpgbot serve` parses its flags from these declarations and
/// writes its help from them; the README's tables are checked against them; bad values are
/// reported with them.
public struct Setting: Sendable, Hashable {
    /// The long flag without dashes (`port`), or nil for environment-only settings (secrets).
    public let flag: String?
    public let environment: String
    public let defaultValue: String
    public let summary: String
    /// Accepted values, as shown in errors: `an integer 1–65535`, `json or text`.
    public let accepted: String
    /// Its value is never shown (in errors, logs).
    public let isSecret: Bool

    public init(flag: String?, environment: String, defaultValue: String, summary: String, accepted: String, isSecret: Bool = false) {
        self.flag = flag
        self.environment = environment
        self.defaultValue = defaultValue
        self.summary = summary
        self.accepted = accepted
        self.isSecret = isSecret
    }

    public var displayName: String {
        if let flag { "--\(flag) (\(environment))" } else { environment }
    }

    /// What the flag's value is, for the help: `<duration>`, `<url>`.
    public var valueName: String {
        let accepted = accepted.lowercased()
        if accepted.contains("duration") { return "duration" }
        if accepted == "true or false" { return "bool" }
        if accepted.contains("url") || accepted.hasPrefix("sqlite://") { return "url" }
        if accepted.contains("path") { return "path" }
        if accepted.contains("bytes") { return "size" }
        if accepted.contains("integer") || accepted.contains("number") { return "number" }
        return "value"
    }

    /// Help text for the flag: summary, accepted values, environment name and default.
    public var helpText: String {
        "\(summary) Accepts \(accepted). Env: \(environment). Default: \(defaultValue)."
    }
}
