import Synchronization

/// The interfaces capabilities publish for each other and for the composition root, one
/// value per type: Party Sync publishes its hub, the gateway its knowledge service. A consumer
/// asks by the type it needs and gets nil when the capability that provides it does not run.
public final class CapabilityInterfaces: Sendable {
    private let values = Mutex<[ObjectIdentifier: any Sendable]>([:])

    public init() {}

    /// Publishes `value` under `type` (replacing an earlier one of that type).
    public func publish<T: Sendable>(_ value: T, as type: T.Type = T.self) {
        values.withLock { $0[ObjectIdentifier(type)] = value }
    }

    /// The value published under `type`, if any.
    public func get<T: Sendable>(_ type: T.Type) -> T? {
        values.withLock { $0[ObjectIdentifier(type)] } as? T
    }
}
