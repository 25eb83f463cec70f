import AsyncAlgorithms
import Logging
import Synchronization

/// Makes every node on one PostgreSQL one hub: delivers to this node's connections the
/// events other nodes commit.
///
/// A node hears of other nodes' commits through ``CommitAnnouncements`` (campaign and new top),
/// and reads the events themselves from the store by offset: one read per campaign per
/// wake-up, however many announcements arrived meanwhile. The channel then delivers them
/// strictly by offset, like its own commits, so every node's clients see one order, each
/// event once.
///
/// Announcements can be lost: the listening connection drops, PostgreSQL restarts, the node
/// is paused. So after every (re)subscription every live campaign is caught up from the store,
/// and while the node is not subscribed it reads its live campaigns' new events every
/// `pollInterval`. Delivery is then late, never missing.
public final class ClusterFollower: Sendable {
    /// Whether this node currently hears other nodes' commits as they happen.
    public enum Delivery: String, Sendable {
        case listening
        /// Not subscribed: other nodes' events arrive within the poll interval.
        case polling
    }

    let hub: PartySyncHub
    let announcements: any CommitAnnouncements
    let pollInterval: Duration
    let logger: Logger
    /// Campaigns to read, with the highest top announced for each.
    private let due = Mutex<[String: Int64]>([:])
    private let listening = Atomic<Bool>(false)
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(hub: PartySyncHub, announcements: any CommitAnnouncements, pollInterval: Duration, logger: Logger) {
        self.hub = hub
        self.announcements = announcements
        self.pollInterval = pollInterval
        self.logger = logger
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        hub.metrics.clusterListening(false)
        hub.channelStarted.withLock { hook in
            hook = { [weak self] campaignID in self?.schedule(campaignID, through: .max) }
        }
    }

    public var delivery: Delivery {
        listening.load(ordering: .relaxed) ? .listening : .polling
    }

    /// Runs until cancelled.
    func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.listen() }
            group.addTask { await self.deliver() }
            group.addTask { await self.poll() }
        }
        wake.finish()
    }

    /// Subscribes, and subscribes again with growing waits whenever the subscription fails.
    private func listen() async {
        var failures = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            do {
                try await announcements.listen(
                    subscribed: {
                        self.setListening(true)
                        // What was committed while this node was not subscribed.
                        for campaignID in self.hub.liveCampaigns { self.schedule(campaignID, through: .max) }
                    },
                    heard: { campaignID, top in self.schedule(campaignID, through: top) }
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
            await withDiscardingTaskGroup { group in
                for (campaignID, top) in batch {
                    group.addTask {
                        do {
                            try await self.hub.catchUp(campaignID, through: top)
                        } catch {
                            // Left for the next announcement or poll; the store is the source of truth.
                            self.logger.warning("cannot read other nodes' events", metadata: ["campaign": "\(campaignID)", "error": "\(error)"])
                            try? await Task.sleep(for: .milliseconds(250))
                            self.schedule(campaignID, through: top)
                        }
                    }
                }
            }
        }
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
}
