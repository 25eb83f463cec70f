import Logging
import ServiceKit

/// The live side of one campaign in this process: its subscribers, the order of delivery and
/// its presence roster.
///
/// Committed events may arrive out of order (publishers finish their transactions in any
/// order); the channel delivers strictly by offset, holding later events until the earlier
/// ones arrive. A gap that persists (a publisher that stopped between commit and delivery) is
/// filled from the store, the source of truth, by the hub's periodic sweep.
actor CampaignChannel {
    struct Subscriber {
        let queue: OutboundQueue
        let user: String
    }

    let campaignID: String
    private let store: any EventLog
    private let metrics: PartySyncMetrics
    private let logger: Logger
    /// The next offset to deliver; meaningful once started.
    private var nextOffset: Int64
    /// Until the hub has read the campaign's top, committed events are only held.
    private var started = false
    private var pending: [Int64: CampaignEvent] = [:]
    /// When the oldest undelivered event started waiting for an earlier one.
    private var stalledSince: ContinuousClock.Instant?
    private var subscribers: [String: Subscriber] = [:]
    private var presence = PresenceRoster()

    init(campaignID: String, store: any EventLog, metrics: PartySyncMetrics, logger: Logger) {
        self.campaignID = campaignID
        self.nextOffset = 1
        self.store = store
        self.metrics = metrics
        self.logger = logger
    }

    // MARK: - Subscribers

    /// Adds a connection; it receives every event delivered from now on, and the presence
    /// diff of its own join. Returns the presence snapshot for its `welcome`.
    func subscribe(connection: String, user: String, role: Role, queue: OutboundQueue) -> PresenceSnapshot {
        subscribers[connection] = Subscriber(queue: queue, user: user)
        let diff = presence.join(user: user, role: role, connection: connection)
        let snapshot = presence.snapshot
        if let diff {
            broadcast(diff, except: connection)
        }
        return snapshot
    }

    /// Removes a connection; its user leaves after the grace period if it was their last.
    func unsubscribe(connection: String) {
        guard let subscriber = subscribers.removeValue(forKey: connection) else { return }
        presence.disconnect(user: subscriber.user, connection: connection, now: .now)
    }

    func setPresenceState(user: String, state: JSONValue) {
        if let diff = presence.setState(user: user, state: state) {
            broadcast(diff, except: nil)
        }
    }

    /// Announces the members whose grace period ran out. Returns whether the channel is idle
    /// (no subscribers, nobody present) and can be dropped.
    func expirePresence(grace: Duration) -> Bool {
        if let diff = presence.expire(now: .now, grace: grace) {
            broadcast(diff, except: nil)
        }
        return subscribers.isEmpty && presence.isEmpty && pending.isEmpty
    }

    var subscriberCount: Int { subscribers.count }

    // MARK: - Delivery

    /// Starts delivery after `top`, the campaign's last offset read after the channel was
    /// registered: events up to it are history, later ones are delivered live.
    func start(after top: Int64) {
        started = true
        nextOffset = top + 1
        pending = pending.filter { $0.key > top }
        deliverReady()
        if !pending.isEmpty, stalledSince == nil {
            stalledSince = .now
        }
    }

    /// A committed event of this campaign, from any publisher.
    func committed(_ event: CampaignEvent) {
        guard !started || event.offset >= nextOffset else { return }
        pending[event.offset] = event
        guard started else { return }
        deliverReady()
        if !pending.isEmpty, stalledSince == nil {
            stalledSince = .now
        }
    }

    private func deliverReady() {
        while let event = pending.removeValue(forKey: nextOffset) {
            let frame = ServerFrame.event(event, replayed: false)
            for subscriber in subscribers.values {
                subscriber.queue.enqueueLive(offset: event.offset, frame: frame)
            }
            metrics.recordDelivery(of: event, recipients: subscribers.count)
            nextOffset += 1
        }
        if pending.isEmpty { stalledSince = nil }
    }

    /// Reads a missing stretch from the store when it has not arrived by itself within
    /// `patience`: called by the hub's sweep.
    func repairGap(patience: Duration) async {
        guard started, let stalledSince, ContinuousClock.now - stalledSince >= patience else { return }
        let missingFrom = nextOffset - 1
        do {
            let events = try await store.events(campaignID: campaignID, after: missingFrom, limit: 1_000)
            logger.warning("filled a delivery gap from the store", metadata: ["campaign": "\(campaignID)", "after": "\(missingFrom)", "read": "\(events.count)"])
            for event in events where event.offset >= nextOffset {
                pending[event.offset] = event
            }
            deliverReady()
        } catch {
            logger.error("cannot fill a delivery gap", metadata: ["campaign": "\(campaignID)", "error": "\(error)"])
        }
    }

    private func broadcast(_ frame: String, except: String?) {
        for (connection, subscriber) in subscribers where connection != except {
            subscriber.queue.enqueueBroadcast(frame)
        }
    }
}
