/// The version `GET /version` and `rpgbot --version` report.
public enum RPGBotVersion {
    public static let current = "0.1.0"
    /// The HTTP API generation; bumped on incompatible changes.
    public static let apiVersion = "v1"
}
