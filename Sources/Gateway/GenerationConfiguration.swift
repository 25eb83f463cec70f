public import Foundation
public import Genlayers

/// The generation layer's configuration: the engine's settings, where the profiles are, and
/// the per-caller request rate.
public struct GenerationConfiguration: Sendable {
    public var engine = GenlayersSettings()
    public var profilesPath: URL = URL(fileURLWithPath: "profiles/profiles.yaml")
    /// Whether the path was given: a given file must exist, the default may be absent.
    public var profilesPathGiven = false
    public var requestRate: Double = 2
    public var requestBurst: Double = 10
    /// Prompt tokens per knowledge section of the grounded endpoints.
    public var contextBudgets = ContextBudgets.standard

    public init() {}
}
