public import Logging
public import Observability
import ServiceKit
import ServiceLifecycle
import Synchronization
import Tracing

/// The hub of one process: the campaign channels with live connections, and the publish path
/// every publisher (WebSocket, REST, other capabilities) goes through.
public final class PartySyncHub: Sendable {
    public let store: any EventLog
    public let settings: PartySyncSettings
    let metrics: PartySyncMetrics
    let logger: Logger
    /// Whether the store hands over committed events itself (then `publish` need not).
    private let storeDelivers: Bool

    /// The live channels by campaign; shared with the store's commit observer.
    final class ChannelTable: Sendable {
        struct Entry {
            let channel: CampaignChannel
            /// Connections and leaving members that keep the channel alive.
            var references: Int
        }

        let entries = Mutex<[String: Entry]>([:])

        func channel(_ campaignID: String) -> CampaignChannel? {
            entries.withLock { $0[campaignID]?.channel }
        }
    }

    private typealias Entry = ChannelTable.Entry
    private let channels = ChannelTable()
    /// Where channels report their local presence changes (to share them with other nodes).
    let presenceRelay = ListenerSlot<any PresenceListener>()
    /// Told of this node's commits and started channels (the cluster follower on PostgreSQL).
    let hubListener = ListenerSlot<any HubListener>()

    public init(store: any EventLog, settings: PartySyncSettings, metrics: MetricsRegistry?, logger: Logger) {
        self.store = store
        self.settings = settings
        self.metrics = PartySyncMetrics(registry: metrics)
        self.logger = logger
        let channels = self.channels
        let deliveryMetrics = self.metrics
        let hubListener = self.hubListener
        storeDelivers = store.setCommitObserver { events in
            // One round per committed batch: each event loop is woken once for all of it.
            var round = DeliveryRound(metrics: deliveryMetrics)
            for event in events {
                channels.channel(event.campaignID)?.committed(event, round: &round)
            }
            round.dispatch()
            hubListener.listener?.committed(events)
        }
    }

    /// Publishes an event: stores it under the next offset, then delivers it to the
    /// campaign's live connections. A repeated `cmid` returns the original offset and is not
    /// delivered again.
    public func publish(_ draft: EventDraft) async throws -> AppendOutcome {
        try await withSpan("party_sync.publish", ofKind: .producer) { span in
            span.attributes["rpgbot.campaign"] = draft.campaignID
            span.attributes["rpgbot.event_type"] = draft.type
            let start = ContinuousClock.now
            let outcome = try await store.append(draft, idempotencyWindow: settings.idempotencyWindow)
            settle(outcome, span: span, since: start)
            return outcome
        }
    }

    /// What follows a publish's commit, awaited or queued: its metrics and span attributes,
    /// and delivery when the store does not hand over commits itself.
    private func settle(_ outcome: AppendOutcome, span: any Span, since start: ContinuousClock.Instant) {
        switch outcome {
        case .stored(let event):
            metrics.recordPublished(commitTime: ContinuousClock.now - start)
            span.attributes["rpgbot.offset"] = Int(event.offset)
            if !storeDelivers {
                if let channel = existingChannel(event.campaignID) {
                    var round = DeliveryRound(metrics: metrics)
                    channel.committed(event, round: &round)
                    round.dispatch()
                }
                hubListener.listener?.committed([event])
            }
        case .duplicate(let offset, _, _):
            metrics.recordDuplicate()
            span.attributes["rpgbot.offset"] = Int(offset)
            span.attributes["rpgbot.duplicate"] = true
        }
    }

    /// Whether ``enqueuePublish(_:completion:)`` keeps a publisher's order.
    var queuesPublishes: Bool { store.queuesAppends }

    /// Publishes without waiting, for a store that queues appends in order
    /// (``queuesPublishes``): `completion` receives the outcome on the store's commit path,
    /// after the event was handed to the live connections, so an answer queued there joins the
    /// event's own frames. With another store, callers await ``publish(_:)`` instead.
    func enqueuePublish(_ draft: EventDraft, completion: @escaping @Sendable (Result<AppendOutcome, any Error>) -> Void) {
        let span = InstrumentationSystem.tracer.startSpan("party_sync.publish", ofKind: .producer)
        span.attributes["rpgbot.campaign"] = draft.campaignID
        span.attributes["rpgbot.event_type"] = draft.type
        let start = ContinuousClock.now
        store.enqueueAppend(draft, idempotencyWindow: settings.idempotencyWindow) { result in
            switch result {
            case .success(let outcome):
                self.settle(outcome, span: span, since: start)
            case .failure(let error):
                span.recordError(error)
                span.setStatus(.init(code: .error))
            }
            span.end()
            completion(result)
        }
    }

    // MARK: - Channels

    func existingChannel(_ campaignID: String) -> CampaignChannel? {
        channels.channel(campaignID)
    }

    /// The channel of `campaignID`, created on first use, with one more reference held by the
    /// caller until ``releaseChannel(_:)``.
    func retainChannel(_ campaignID: String) async throws -> CampaignChannel {
        if let channel = channels.entries.withLock({ entries -> CampaignChannel? in
            guard var entry = entries[campaignID] else { return nil }
            entry.references += 1
            entries[campaignID] = entry
            return entry.channel
        }) {
            return channel
        }
        // The channel is registered before the campaign's top is read, so an event committed
        // after the read finds the channel and is delivered through it.
        let placeholder = CampaignChannel(campaignID: campaignID, store: store, metrics: metrics, logger: logger, relay: presenceRelay)
        let (channel, created) = channels.entries.withLock { entries -> (CampaignChannel, Bool) in
            if var entry = entries[campaignID] {
                entry.references += 1
                entries[campaignID] = entry
                return (entry.channel, false)
            }
            entries[campaignID] = Entry(channel: placeholder, references: 1)
            return (placeholder, true)
        }
        if created {
            do {
                let head = try await store.head(campaignID: campaignID)
                channel.start(after: head.top)
            } catch {
                channels.entries.withLock { entries in
                    if entries[campaignID]?.channel === channel { entries.removeValue(forKey: campaignID) }
                }
                throw error
            }
            metrics.campaignsActive(channels.entries.withLock { $0.count })
            hubListener.listener?.channelStarted(campaignID)
        }
        return channel
    }

    /// The campaigns with a live channel.
    var liveCampaigns: [String] {
        channels.entries.withLock { Array($0.keys) }
    }

    /// Delivers the events committed elsewhere to each campaign of `tops` up to its top
    /// (everything new for `Int64.max`): read from the store after the last offset each channel
    /// delivered, all campaigns in one read per page, and handed to the channels like local
    /// commits. Campaigns without a live channel, or whose channel has already delivered its
    /// top, are not read. Returns the number of events read.
    @discardableResult
    func catchUp(_ tops: [String: Int64]) async throws -> Int {
        let page = 500
        var wanted: [String: (channel: CampaignChannel, top: Int64)] = [:]
        for (campaignID, top) in tops {
            if let channel = existingChannel(campaignID) { wanted[campaignID] = (channel, top) }
        }
        var read = 0
        while true {
            var positions: [String: Int64] = [:]
            for (campaignID, entry) in wanted {
                if let after = entry.channel.deliveredThrough, entry.top > after { positions[campaignID] = after }
            }
            guard !positions.isEmpty else { break }
            let pages = try await store.events(after: positions, limit: page)
            var round = DeliveryRound(metrics: metrics)
            var full: [String: (channel: CampaignChannel, top: Int64)] = [:]
            for (campaignID, events) in pages {
                guard let entry = wanted[campaignID] else { continue }
                read += events.count
                for event in events { entry.channel.committed(event, round: &round) }
                // A short page is the end; a page that did not move delivery on (history
                // trimmed under it) is left to the sweep's gap repair.
                if events.count == page, entry.channel.deliveredThrough != positions[campaignID] { full[campaignID] = entry }
            }
            round.dispatch()
            wanted = full
        }
        metrics.recordClusterRead(read)
        return read
    }

    func releaseChannel(_ campaignID: String) {
        channels.entries.withLock { entries in
            guard var entry = entries[campaignID] else { return }
            entry.references -= 1
            entries[campaignID] = entry
        }
    }

    /// One pass of housekeeping: presence grace periods, stalled deliveries, idle channels.
    func sweep() async {
        let snapshot = channels.entries.withLock { $0 }
        for (campaignID, entry) in snapshot {
            await entry.channel.repairGap(patience: .milliseconds(200))
            let idle = entry.channel.expirePresence(grace: settings.presenceGrace)
            if idle {
                channels.entries.withLock { entries in
                    if let current = entries[campaignID], current.references <= 0, current.channel === entry.channel {
                        entries.removeValue(forKey: campaignID)
                    }
                }
            }
        }
        metrics.campaignsActive(channels.entries.withLock { $0.count })
    }

    /// The number of campaigns with a live channel.
    public var activeCampaigns: Int { channels.entries.withLock { $0.count } }
}
