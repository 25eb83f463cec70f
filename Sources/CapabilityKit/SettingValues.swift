public import Foundation

/// The values given for settings — flags, then the environment — and typed readers that
/// check them: each returns nil when the setting was not given (its default applies) and
/// throws a ``ConfigurationError`` naming the setting for a value it does not accept.
public struct SettingValues: Sendable {
    /// Flag values given on the command line, keyed by ``Setting/flag``.
    public var flags: [String: String]
    public var environment: [String: String]

    public init(flags: [String: String] = [:], environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.flags = flags
        self.environment = environment
    }

    /// The raw value of a setting: its flag if given, else its environment variable if set and
    /// non-empty, else nil (the default applies).
    public func raw(_ setting: Setting) -> String? {
        if let flag = setting.flag, let value = flags[flag] {
            return value
        }
        if let value = environment[setting.environment], !value.isEmpty {
            return value
        }
        return nil
    }

    /// An API key from its own variable, else from `OPENAI_API_KEY`.
    public func apiKey(_ setting: Setting) -> String? {
        if let key = environment[setting.environment], !key.isEmpty { return key }
        if let key = environment["OPENAI_API_KEY"], !key.isEmpty { return key }
        return nil
    }

    public func string(_ setting: Setting) throws(ConfigurationError) -> String? {
        guard let value = raw(setting) else { return nil }
        guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ConfigurationError(setting: setting, value: value, reason: "it is empty")
        }
        return value
    }

    /// One of `choices`.
    public func choice(_ setting: Setting, _ choices: some Sequence<String>) throws(ConfigurationError) -> String? {
        guard let value = raw(setting) else { return nil }
        guard choices.contains(value) else { throw ConfigurationError(setting: setting, value: value) }
        return value
    }

    public func boolean(_ setting: Setting) throws(ConfigurationError) -> Bool? {
        guard let text = raw(setting) else { return nil }
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError(setting: setting, value: text)
        }
    }

    /// An http or https URL with a host, as given.
    public func httpURL(_ setting: Setting) throws(ConfigurationError) -> String? {
        guard let text = raw(setting) else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), url.host != nil else {
            throw ConfigurationError(setting: setting, value: text)
        }
        return text
    }

    /// Bytes, optionally with KiB, MiB, KB or MB; 1 byte to 1 GiB.
    public func byteSize(_ setting: Setting) throws(ConfigurationError) -> Int? {
        guard let text = raw(setting) else { return nil }
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("KB", 1000), ("MB", 1_000_000), ("B", 1)]
        var number = text.trimmingCharacters(in: .whitespaces)
        var multiplier = 1
        for (suffix, factor) in units where number.hasSuffix(suffix) {
            number = String(number.dropLast(suffix.count)).trimmingCharacters(in: .whitespaces)
            multiplier = factor
            break
        }
        guard let value = Int(number), value > 0, value <= (1 << 30) / multiplier else {
            throw ConfigurationError(setting: setting, value: text, reason: "it must be between 1 byte and 1 GiB")
        }
        return value * multiplier
    }

    /// A positive duration (``parseDuration(_:)``).
    public func duration(_ setting: Setting) throws(ConfigurationError) -> Duration? {
        guard let text = raw(setting) else { return nil }
        guard let duration = Self.parseDuration(text), duration > .zero else {
            throw ConfigurationError(setting: setting, value: text)
        }
        return duration
    }

    /// Parses `500ms`, `30s`, `2m`, `12h`, `7d`, or a bare number of seconds.
    public static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, seconds) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            // "ms" must not be read as minutes of "…m" followed by "s".
            if suffix == "s", number.hasSuffix("m") { continue }
            guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
            return .milliseconds(Int64((value * seconds * 1000).rounded()))
        }
        guard let value = Double(trimmed), value.isFinite, value >= 0 else { return nil }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    public func integer(_ setting: Setting, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let text = raw(setting) else { return nil }
        guard let value = Int(text), range.contains(value) else { throw ConfigurationError(setting: setting, value: text) }
        return value
    }

    public func positiveNumber(_ setting: Setting, minimum: Double = 0) throws(ConfigurationError) -> Double? {
        guard let text = raw(setting) else { return nil }
        guard let value = Double(text), value.isFinite, value > 0, value >= minimum else {
            throw ConfigurationError(setting: setting, value: text)
        }
        return value
    }

    public func positiveInteger(_ setting: Setting) throws(ConfigurationError) -> Int? {
        guard let text = raw(setting) else { return nil }
        guard let value = Int(text), value >= 1 else {
            throw ConfigurationError(setting: setting, value: text)
        }
        return value
    }
}
