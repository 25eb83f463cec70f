import JSONValues
import Logging
import NIOCore
import ServiceKit
import Synchronization

/// The live side of one campaign in this process: its subscribers, the order of delivery and
/// its presence roster.
///
/// Committed events may arrive out of order (publishers finish their transactions in any
/// order); the channel delivers strictly by offset, holding later events until the earlier
/// ones arrive. A gap that persists (a publisher that stopped between commit and delivery) is
/// filled from the store, the source of truth, by the hub's periodic sweep.
///
/// A lock rather than an actor: delivery is called synchronously from the store's commit path,
/// so an event reaches the connection queues without waiting for a task to be scheduled.
final class CampaignChannel: Sendable {
    struct Subscriber {
        let queue: OutboundQueue
        let user: String
    }

    private struct State {
        /// The next offset to deliver; meaningful once started.
        var nextOffset: Int64 = 1
        /// Until the hub has read the campaign's top, committed events are only held.
        var started = false
        var pending: [Int64: CampaignEvent] = [:]
        /// When the oldest undelivered event started waiting for an earlier one.
        var stalledSince: ContinuousClock.Instant?
        var subscribers: [String: Subscriber] = [:]
        var presence = PresenceRoster()
        /// The campaign's connections on other nodes, as last read.
        var remote: [String: RemoteConnection] = [:]
    }

    let campaignID: String
    private let store: any EventLog
    private let metrics: PartySyncMetrics
    private let logger: Logger
    private let relay: ListenerSlot<any PresenceListener>
    private let state = Mutex(State())

    init(campaignID: String, store: any EventLog, metrics: PartySyncMetrics, logger: Logger, relay: ListenerSlot<any PresenceListener> = ListenerSlot()) {
        self.campaignID = campaignID
        self.store = store
        self.metrics = metrics
        self.logger = logger
        self.relay = relay
    }

    // MARK: - Subscribers

    /// Adds a connection; it receives every event delivered from now on, and the presence
    /// diff of its own join. Returns the presence snapshot for its `welcome`.
    func subscribe(connection: String, user: String, role: Role, queue: OutboundQueue) -> PresenceSnapshot {
        var round = DeliveryRound(metrics: metrics)
        let snapshot = state.withLock { state in
            state.subscribers[connection] = Subscriber(queue: queue, user: user)
            if let diff = state.presence.join(user: user, role: role, connection: connection) {
                Self.broadcast(diff, to: state.subscribers, except: connection, round: &round)
            }
            relay.listener?.joined(campaignID: campaignID, connection: connection, user: user, role: role)
            return state.presence.snapshot
        }
        round.dispatch()
        return snapshot
    }

    /// Removes a connection; its user leaves after the grace period if it was their last.
    func unsubscribe(connection: String) {
        state.withLock { state in
            guard let subscriber = state.subscribers.removeValue(forKey: connection) else { return }
            state.presence.disconnect(user: subscriber.user, connection: connection, now: .now)
            relay.listener?.left(campaignID: campaignID, connection: connection)
        }
    }

    /// The campaign's connections on other nodes, freshly read: a connection that appeared
    /// joins, one that is gone disconnects (its member leaves after the grace period unless
    /// connected elsewhere), and states set there are announced, like local ones.
    func mergeRemote(_ remote: [String: RemoteConnection]) {
        var round = DeliveryRound(metrics: metrics)
        state.withLock { state in
            let previous = state.remote
            state.remote = remote
            for (connection, held) in remote where previous[connection] == nil {
                if let diff = state.presence.join(user: held.user, role: held.role, connection: connection) {
                    Self.broadcast(diff, to: state.subscribers, except: nil, round: &round)
                }
            }
            for (connection, held) in previous where remote[connection] == nil {
                state.presence.disconnect(user: held.user, connection: connection, now: .now)
            }
            // A state set on another node since the last read.
            let before = Dictionary(previous.values.compactMap { held in held.state.map { (held.user, $0) } }, uniquingKeysWith: { first, _ in first })
            for held in remote.values {
                guard let text = held.state, before[held.user] != text, let value = try? JSONValue.parse(text) else { continue }
                if let diff = state.presence.setState(user: held.user, state: value) {
                    Self.broadcast(diff, to: state.subscribers, except: nil, round: &round)
                }
            }
        }
        round.dispatch()
    }

    func setPresenceState(user: String, state presenceState: JSONValue) {
        var round = DeliveryRound(metrics: metrics)
        state.withLock { state in
            if let diff = state.presence.setState(user: user, state: presenceState) {
                Self.broadcast(diff, to: state.subscribers, except: nil, round: &round)
            }
            relay.listener?.stateSet(campaignID: campaignID, user: user, state: presenceState)
        }
        round.dispatch()
    }

    /// Announces the members whose grace period ran out. Returns whether the channel is idle
    /// (no subscribers, nobody present) and can be dropped.
    func expirePresence(grace: Duration) -> Bool {
        var round = DeliveryRound(metrics: metrics)
        let idle = state.withLock { state in
            if let diff = state.presence.expire(now: .now, grace: grace) {
                Self.broadcast(diff, to: state.subscribers, except: nil, round: &round)
            }
            return state.subscribers.isEmpty && state.presence.isEmpty && state.pending.isEmpty
        }
        round.dispatch()
        return idle
    }

    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    // MARK: - Delivery

    /// Starts delivery after `top`, the campaign's last offset read after the channel was
    /// registered: events up to it are history, later ones are delivered live.
    func start(after top: Int64) {
        var round = DeliveryRound(metrics: metrics)
        state.withLock { state in
            state.started = true
            state.nextOffset = top + 1
            state.pending = state.pending.filter { $0.key > top }
            deliverReady(&state, round: &round)
        }
        round.dispatch()
    }

    /// The last offset delivered or known as history when delivery started: where a read of
    /// newer events starts. Nil until the channel has started.
    var deliveredThrough: Int64? {
        state.withLock { $0.started ? $0.nextOffset - 1 : nil }
    }

    /// A committed event of this campaign, from any publisher; repeated calls are harmless.
    /// The frames are queued to the subscribers, and written when `round` is dispatched.
    func committed(_ event: CampaignEvent, round: inout DeliveryRound) {
        state.withLock { state in
            guard !state.started || event.offset >= state.nextOffset else { return }
            state.pending[event.offset] = event
            guard state.started else { return }
            deliverReady(&state, round: &round)
        }
    }

    private func deliverReady(_ state: inout State, round: inout DeliveryRound) {
        while let event = state.pending.removeValue(forKey: state.nextOffset) {
            // Encoded once; every recipient's frame shares these bytes.
            let frame = WireFrame.text(ServerFrame.event(event, replayed: false))
            for subscriber in state.subscribers.values {
                subscriber.queue.enqueueLive(offset: event.offset, frame: frame, round: &round)
            }
            metrics.recordDelivery(of: event, recipients: state.subscribers.count)
            state.nextOffset += 1
        }
        if state.pending.isEmpty {
            state.stalledSince = nil
        } else if state.stalledSince == nil {
            state.stalledSince = .now
        }
    }

    /// Reads a missing stretch from the store when it has not arrived by itself within
    /// `patience`: called by the hub's sweep.
    func repairGap(patience: Duration) async {
        let missingFrom: Int64? = state.withLock { state in
            guard state.started, let since = state.stalledSince, ContinuousClock.now - since >= patience else { return nil }
            return state.nextOffset - 1
        }
        guard let missingFrom else { return }
        do {
            let events = try await store.events(campaignID: campaignID, after: missingFrom, limit: 1_000)
            logger.warning("filled a delivery gap from the store", metadata: ["campaign": "\(campaignID)", "after": "\(missingFrom)", "read": "\(events.count)"])
            var round = DeliveryRound(metrics: metrics)
            for event in events {
                committed(event, round: &round)
            }
            round.dispatch()
        } catch {
            logger.error("cannot fill a delivery gap", metadata: ["campaign": "\(campaignID)", "error": "\(error)"])
        }
    }

    private static func broadcast(_ frame: String, to subscribers: [String: Subscriber], except: String?, round: inout DeliveryRound) {
        let bytes = WireFrame.text(frame)
        for (connection, subscriber) in subscribers where connection != except {
            subscriber.queue.enqueueBroadcast(bytes, round: &round)
        }
    }
}
