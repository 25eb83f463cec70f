/// A setting with a value that cannot be used. The message names the setting (flag and
/// environment variable), the offending value and what is accepted.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public let setting: Setting
    public let value: String
    public let reason: String?

    public init(setting: Setting, value: String, reason: String? = nil) {
        self.setting = setting
        self.value = value
        self.reason = reason
    }

    public var description: String {
        let shown = setting.isSecret ? "<redacted>" : "'\(value)'"
        var message = "invalid value \(shown) for \(setting.displayName)"
        if let reason { message += ": \(reason)" }
        return message + "; accepted: \(setting.accepted)"
    }
}
