/// The four knowledge-grounded generation endpoints: `/v1/generate/{scene|combat|social|epilogue}`.
/// Each has a profile of the same name in profiles.yaml and an event type for Party Sync.
public enum DomainEndpoint: String, Sendable, CaseIterable {
    case scene, combat, social, epilogue

    /// The generation profile that shapes the output.
    public var profile: String { rawValue }

    /// The Party Sync event type a broadcast result is published as.
    public var eventType: String { "gm.\(rawValue)" }
}
