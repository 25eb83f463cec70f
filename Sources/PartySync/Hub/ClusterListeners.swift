import JSONValues
import ServiceKit
import Synchronization

/// Hears the presence changes of this node's connections, for those who share them with
/// other nodes (``ClusterFollower`` on PostgreSQL). Called under the channel's lock: it must
/// only take note, never wait.
protocol PresenceListener: Sendable {
    func joined(campaignID: String, connection: String, user: String, role: Role)
    func left(campaignID: String, connection: String)
    func stateSet(campaignID: String, user: String, state: JSONValue)
}

/// Hears what the hub does that other nodes must learn of: every batch this node commits,
/// and every channel that starts (whose campaign may have moved on elsewhere meanwhile).
/// Called on the commit path: it must only take note, never wait.
protocol HubListener: Sendable {
    func committed(_ events: [CampaignEvent])
    func channelStarted(_ campaignID: String)
}

/// Where the hub and its channels report to a listener set later; empty on a single node.
/// The listener is kept in a class of its own, so a read under the lock copies one reference.
final class ListenerSlot<Listener: Sendable>: Sendable {
    private final class Box: Sendable {
        let listener: Listener
        init(_ listener: Listener) { self.listener = listener }
    }

    private let box = Mutex<Box?>(nil)

    func set(_ listener: Listener) {
        box.withLock { $0 = Box(listener) }
    }

    var listener: Listener? { box.withLock { $0?.listener } }
}
