import AsyncAlgorithms
import JSONValues
import Logging
import ServiceKit
import Synchronization

/// Makes every node on one PostgreSQL one hub: delivers to this node's connections the events
/// other nodes commit, and shares presence between the nodes.
///
/// **Events.** A node announces its commits (campaign and new top) after they are committed,
/// coalesced: one statement per wake-up for all campaigns committed to meanwhile. A node hears
/// other nodes' announcements through ``CommitAnnouncements`` and reads the events themselves
/// from the store by offset: one read per wake-up for all campaigns announced meanwhile,
/// however many announcements arrived. The channels then
/// delivers them strictly by offset, like its own commits, so every node's clients see one
/// order, each event once.
///
/// Announcements can be lost: the listening connection drops, PostgreSQL restarts, the node
/// is paused. So after every (re)subscription every live campaign is caught up from the store,
/// while the node is not subscribed it reads its live campaigns' new events every
/// `pollInterval`, and at every heartbeat it reads them anyway (an announcement lost because
/// its node died between commit and announcement). Delivery is then late, never missing.
///
/// **Presence.** Each node writes its own connections to ``SharedPresence`` and beats every
/// third of the heartbeat timeout; it reads the other nodes' connections of its live campaigns
/// when told they changed, and at every beat. The channel merges them into its roster, so a
/// member connected on two nodes is one member, and the members of a node that stops beating
/// leave after the timeout plus the grace period.
public final class ClusterFollower: Sendable {
    /// Whether this node currently hears other nodes' commits as they happen.
    public enum Delivery: String, Sendable {
        case listening
        /// Not subscribed: other nodes' events arrive within the poll interval.
        case polling
    }

    /// A change of this node's presence, written in the order it happened.
    enum PresenceChange: Sendable {
        case joined(campaignID: String, connection: String, user: String, role: Role)
        case left(campaignID: String, connection: String)
        case stateSet(campaignID: String, user: String, state: String)
    }

    /// This node's id in the shared presence.
    public let node = "n_" + EventIdentity.randomToken(length: 12)
    let hub: PartySyncHub
    let announcements: any CommitAnnouncements
    let presence: (any SharedPresence)?
    let pollInterval: Duration
    let heartbeatTimeout: Duration
    let logger: Logger
    /// Campaigns to read, with the highest top announced for each.
    private let due = Mutex<[String: Int64]>([:])
    /// Campaigns whose presence on other nodes changed.
    private let presenceDue = Mutex<Set<String>>([])
    /// This node's new tops, not yet announced.
    private let unannounced = Mutex<[String: Int64]>([:])
    private let announceWakeups: AsyncStream<Void>
    private let announceWake: AsyncStream<Void>.Continuation
    private let listening = Atomic<Bool>(false)
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    private let changes: AsyncStream<PresenceChange>
    private let change: AsyncStream<PresenceChange>.Continuation
    /// Opened once the migrations have created the presence tables.
    private let tablesReady: AsyncStream<Void>
    private let openTables: AsyncStream<Void>.Continuation

    init(
        hub: PartySyncHub, announcements: any CommitAnnouncements, presence: (any SharedPresence)?, pollInterval: Duration,
        heartbeatTimeout: Duration, logger: Logger
    ) {
        self.hub = hub
        self.announcements = announcements
        self.presence = presence
        self.pollInterval = pollInterval
        self.heartbeatTimeout = heartbeatTimeout
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        (changes, change) = AsyncStream.makeStream(of: PresenceChange.self)
        (tablesReady, openTables) = AsyncStream.makeStream(of: Void.self)
        (announceWakeups, announceWake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        hub.metrics.clusterListening(false)
        if presence != nil { hub.presenceRelay.set(Relay(follower: self)) }
        hub.hubListener.set(Relay(follower: self))
    }

    /// The migrations are applied: presence can be written.
    public func storeMigrated() {
        openTables.finish()
    }

    /// Returns once ``storeMigrated()`` was called (or the task is cancelled).
    private func untilMigrated() async {
        for await _ in tablesReady {}
    }

    public var delivery: Delivery {
        listening.load(ordering: .relaxed) ? .listening : .polling
    }

    /// Runs until cancelled; a node that stops takes its presence rows with it.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.listen() }
            group.addTask { await self.deliver() }
            group.addTask { await self.poll() }
            group.addTask { await self.announce() }
            if let presence = self.presence {
                group.addTask { await self.writePresence(presence) }
                group.addTask { await self.beat(presence) }
            }
        }
        wake.finish()
        change.finish()
        announceWake.finish()
        if let presence {
            let node = self.node
            let cutoff = EventIdentity.nowMilliseconds() - Int64(heartbeatTimeout.inSeconds * 1000)
            // Not cancelled with the rest: the rows must go even though the node is stopping.
            await Task { try? await presence.forget(deadBefore: cutoff, node: node) }.value
        }
    }

    // MARK: - Events

    /// Subscribes, and subscribes again with growing waits whenever the subscription fails.
    private func listen() async {
        var failures = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            do {
                try await announcements.listen(
                    subscribed: {
                        self.setListening(true)
                        // What was committed, or changed presence, while not subscribed.
                        for campaignID in self.hub.liveCampaigns {
                            self.schedule(campaignID, through: .max)
                            self.schedulePresence(campaignID)
                        }
                    },
                    heard: { announcement in
                        switch announcement {
                        case .committed(let campaignID, let top): self.schedule(campaignID, through: top)
                        case .presenceChanged(let campaignID): self.schedulePresence(campaignID)
                        }
                    }
                )
            } catch {
                if !Task.isCancelled {
                    logger.warning("lost the subscription to other nodes' commits; polling until it is back", metadata: ["error": "\(error)"])
                }
            }
            setListening(false)
            guard !Task.isCancelled else { return }
            failures = ContinuousClock.now - started > .seconds(30) ? 1 : failures + 1
            let wait = min(Duration.milliseconds(100) * (1 << min(failures, 6)), .seconds(5))
            try? await Task.sleep(for: wait)
        }
    }

    /// Reads what is due, each wake-up, for all due campaigns at once.
    private func deliver() async {
        for await _ in wakeups {
            let batch = due.withLock { due in
                defer { due.removeAll(keepingCapacity: true) }
                return due
            }
            let presenceBatch = presenceDue.withLock { due in
                defer { due.removeAll(keepingCapacity: true) }
                return due
            }
            await withDiscardingTaskGroup { group in
                if !batch.isEmpty {
                    group.addTask {
                        do {
                            try await self.hub.catchUp(batch)
                        } catch {
                            // Tried again shortly; the store is the source of truth.
                            self.logger.warning("cannot read other nodes' events", metadata: ["campaigns": "\(batch.count)", "error": "\(error)"])
                            try? await Task.sleep(for: .milliseconds(250))
                            for (campaignID, top) in batch { self.schedule(campaignID, through: top) }
                        }
                    }
                }
                if !presenceBatch.isEmpty {
                    group.addTask { await self.readPresence(of: Array(presenceBatch)) }
                }
            }
        }
    }

    /// Announces this node's commits, all campaigns committed to since the last wake-up in one
    /// statement. A failed announcement is tried again; the other nodes' heartbeat reads
    /// bound how late its events can be meanwhile.
    private func announce() async {
        for await _ in announceWakeups {
            let tops = unannounced.withLock { tops in
                defer { tops.removeAll(keepingCapacity: true) }
                return tops
            }
            do {
                try await announcements.announce(tops: tops)
            } catch {
                guard !Task.isCancelled else { return }
                logger.warning("cannot announce commits to other nodes", metadata: ["error": "\(error)"])
                unannounced.withLock { pending in pending.merge(tops) { max($0, $1) } }
                try? await Task.sleep(for: .milliseconds(250))
                announceWake.yield()
            }
        }
    }

    fileprivate func noteCommitted(_ events: [CampaignEvent]) {
        unannounced.withLock { tops in
            for event in events { tops[event.campaignID] = max(tops[event.campaignID] ?? 0, event.offset) }
        }
        announceWake.yield()
    }

    /// While not subscribed, reads every live campaign's new events on each tick.
    private func poll() async {
        for await _ in AsyncTimerSequence(interval: pollInterval, clock: .continuous) {
            guard !listening.load(ordering: .relaxed) else { continue }
            for campaignID in hub.liveCampaigns { schedule(campaignID, through: .max) }
        }
    }

    /// Marks `campaignID` to be read up to `top`, when this node has a channel for it.
    func schedule(_ campaignID: String, through top: Int64) {
        guard hub.existingChannel(campaignID) != nil else { return }
        due.withLock { due in due[campaignID] = max(due[campaignID] ?? 0, top) }
        wake.yield()
    }

    private func setListening(_ value: Bool) {
        listening.store(value, ordering: .relaxed)
        hub.metrics.clusterListening(value)
    }

    // MARK: - Presence

    func schedulePresence(_ campaignID: String) {
        guard presence != nil, hub.existingChannel(campaignID) != nil else { return }
        presenceDue.withLock { _ = $0.insert(campaignID) }
        wake.yield()
    }

    /// Reads the other nodes' connections of `campaignIDs` and merges them into the channels.
    private func readPresence(of campaignIDs: [String]) async {
        guard let presence else { return }
        let aliveSince = EventIdentity.nowMilliseconds() - Int64(heartbeatTimeout.inSeconds * 1000)
        do {
            let remote = try await presence.remote(campaignIDs: campaignIDs, excluding: node, aliveSince: aliveSince)
            for campaignID in campaignIDs {
                hub.existingChannel(campaignID)?.mergeRemote(remote[campaignID] ?? [:])
            }
        } catch {
            logger.warning("cannot read other nodes' presence", metadata: ["error": "\(error)"])
        }
    }

    /// Writes this node's presence changes in order. A change that cannot be written is
    /// logged; the next beat after the database is back writes the whole roster again.
    private func writePresence(_ presence: any SharedPresence) async {
        await untilMigrated()
        for await change in changes {
            do {
                switch change {
                case .joined(let campaignID, let connection, let user, let role):
                    try await presence.join(node: node, campaignID: campaignID, connection: connection, user: user, role: role)
                case .left(let campaignID, let connection):
                    try await presence.leave(node: node, campaignID: campaignID, connection: connection)
                case .stateSet(let campaignID, let user, let state):
                    try await presence.setState(node: node, campaignID: campaignID, user: user, state: state)
                }
            } catch {
                logger.warning("cannot share a presence change with other nodes", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Beats, forgets dead nodes, and reads every live campaign's presence, every third of
    /// the heartbeat timeout.
    private func beat(_ presence: any SharedPresence) async {
        await untilMigrated()
        let interval = heartbeatTimeout / 3
        var beating = true
        while !Task.isCancelled {
            do {
                try await presence.beat(node: node)
                let cutoff = EventIdentity.nowMilliseconds() - Int64(heartbeatTimeout.inSeconds * 1000)
                try await presence.forget(deadBefore: cutoff, node: nil)
                if !beating {
                    logger.info("beating again; sharing this node's presence anew")
                    beating = true
                }
            } catch {
                if beating { logger.warning("cannot beat in the shared presence", metadata: ["error": "\(error)"]) }
                beating = false
            }
            let live = hub.liveCampaigns
            await readPresence(of: live)
            // A commit whose announcement was lost (its node died in between) is read here.
            for campaignID in live { schedule(campaignID, through: .max) }
            try? await Task.sleep(for: interval)
        }
    }

    /// The channels' presence changes, queued for ``writePresence(_:)``; the hub's commits,
    /// queued for ``announce()``; and its started channels, read once for what other nodes
    /// committed while they were being opened.
    private struct Relay: PresenceListener, HubListener {
        weak var follower: ClusterFollower?

        func joined(campaignID: String, connection: String, user: String, role: Role) {
            follower?.change.yield(.joined(campaignID: campaignID, connection: connection, user: user, role: role))
        }

        func left(campaignID: String, connection: String) {
            follower?.change.yield(.left(campaignID: campaignID, connection: connection))
        }

        func stateSet(campaignID: String, user: String, state: JSONValue) {
            follower?.change.yield(.stateSet(campaignID: campaignID, user: user, state: state.canonicalText))
        }

        func committed(_ events: [CampaignEvent]) {
            follower?.noteCommitted(events)
        }

        func channelStarted(_ campaignID: String) {
            follower?.schedule(campaignID, through: .max)
            follower?.schedulePresence(campaignID)
        }
    }
}
