/// The capability services this build can run, by the names `--services` accepts.
///
/// Each capability (Party Sync, the media broker, the knowledge and generation gateway)
/// adds its name here when it is built in; until then `--services` refuses it by name.
public enum CapabilityCatalog {
    public static let available: [String] = ["party-sync", "media-broker", "gateway"]

    static var acceptedList: String {
        available.isEmpty ? "the capabilities built in (none in this build)" : available.joined(separator: ", ")
    }
}
