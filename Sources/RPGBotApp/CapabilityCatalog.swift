import CapabilityKit

/// The capability services this build can run, by the names `--services` accepts: those of
/// ``RPGBotServer/capabilities(for:)``.
public enum CapabilityCatalog {
    public static let available: [String] = RPGBotServer.capabilities(for: RPGBotConfiguration(services: [])).map(\.name)

    static var acceptedList: String {
        available.isEmpty ? "the capabilities built in (none in this build)" : available.joined(separator: ", ")
    }
}
