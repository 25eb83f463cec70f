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

/// Where the channels report their local presence changes; empty on a single node.
final class PresenceRelay: Sendable {
    private final class Box: Sendable {
        let listener: any PresenceListener
        init(_ listener: any PresenceListener) { self.listener = listener }
    }

    private let box = Mutex<Box?>(nil)

    func set(_ listener: any PresenceListener) {
        box.withLock { $0 = Box(listener) }
    }

    var listener: (any PresenceListener)? { box.withLock { $0?.listener } }
}

/// Hears every batch this node commits, for those who announce it to other nodes.
protocol CommitListener: Sendable {
    func committed(_ events: [CampaignEvent])
}

/// Where the hub reports its commits; empty on a single node.
final class CommitRelay: Sendable {
    private final class Box: Sendable {
        let listener: any CommitListener
        init(_ listener: any CommitListener) { self.listener = listener }
    }

    private let box = Mutex<Box?>(nil)

    func set(_ listener: any CommitListener) {
        box.withLock { $0 = Box(listener) }
    }

    var listener: (any CommitListener)? { box.withLock { $0?.listener } }
}
