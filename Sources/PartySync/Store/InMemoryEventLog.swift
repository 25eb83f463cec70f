import ServiceKit

/// An ``EventLog`` in process memory, for the store tests: nothing survives the process, and
/// every campaign gets a new epoch when it restarts.
actor InMemoryEventLog: EventLog {
    struct Campaign {
        var epoch: String
        var top: Int64
        var events: [CampaignEvent]
    }

    struct CmidRecord {
        var offset: Int64
        var id: String
        var fingerprint: String
        var createdAt: Int64
    }

    private var campaigns: [String: Campaign] = [:]
    private var cmids: [String: CmidRecord] = [:]

    public init() {}

    public func append(_ draft: EventDraft, idempotencyWindow: Duration) async throws -> AppendOutcome {
        var campaign = campaigns[draft.campaignID] ?? Campaign(epoch: EventIdentity.newEpoch(), top: 0, events: [])
        let now = EventIdentity.nowMilliseconds()
        let cmidKey = draft.cmid.map { "\(draft.campaignID)\u{0}\(draft.actor)\u{0}\($0)" }
        if let cmidKey, let record = cmids[cmidKey], now - record.createdAt < Int64(idempotencyWindow.inSeconds * 1000) {
            guard record.fingerprint == draft.fingerprint else {
                throw EventLogError.cmidConflict(cmid: draft.cmid ?? "", originalOffset: record.offset)
            }
            return .duplicate(offset: record.offset, id: record.id, epoch: campaign.epoch)
        }
        campaign.top += 1
        let event = CampaignEvent(
            campaignID: draft.campaignID, offset: campaign.top, epoch: campaign.epoch, id: EventIdentity.newEventID(),
            type: draft.type, actor: draft.actor, role: draft.role, cmid: draft.cmid, timestamp: now, payload: draft.payload
        )
        campaign.events.append(event)
        campaigns[draft.campaignID] = campaign
        if let cmidKey {
            cmids[cmidKey] = CmidRecord(offset: event.offset, id: event.id, fingerprint: draft.fingerprint, createdAt: now)
        }
        return .stored(event)
    }

    public func idempotencyRecord(campaignID: String, actor: String, cmid: String, idempotencyWindow: Duration) async throws -> IdempotencyRecord? {
        let now = EventIdentity.nowMilliseconds()
        guard let record = cmids["\(campaignID)\u{0}\(actor)\u{0}\(cmid)"],
              now - record.createdAt < Int64(idempotencyWindow.inSeconds * 1000) else { return nil }
        return IdempotencyRecord(offset: record.offset, eventID: record.id, fingerprint: record.fingerprint)
    }

    public func head(campaignID: String) async throws -> CampaignHead {
        let campaign = campaigns[campaignID] ?? Campaign(epoch: EventIdentity.newEpoch(), top: 0, events: [])
        campaigns[campaignID] = campaign
        return CampaignHead(epoch: campaign.epoch, top: campaign.top, firstRetained: campaign.events.first?.offset ?? campaign.top + 1)
    }

    public func events(campaignID: String, after: Int64, limit: Int) async throws -> [CampaignEvent] {
        guard let campaign = campaigns[campaignID], limit > 0 else { return [] }
        let start = campaign.events.partitioningIndex { $0.offset > after }
        return Array(campaign.events[start...].prefix(limit))
    }

    public func events(campaignID: String, before: Int64, limit: Int) async throws -> [CampaignEvent] {
        guard let campaign = campaigns[campaignID], limit > 0 else { return [] }
        let end = campaign.events.partitioningIndex { $0.offset >= before }
        return Array(campaign.events[..<end].suffix(limit).reversed())
    }

    public func trim(keepEvents: Int, maxAge: Duration, idempotencyWindow: Duration) async throws -> Int {
        let now = EventIdentity.nowMilliseconds()
        let oldest = now - Int64(maxAge.inSeconds * 1000)
        var removed = 0
        for (id, var campaign) in campaigns {
            let before = campaign.events.count
            campaign.events.removeAll { $0.timestamp < oldest }
            if campaign.events.count > keepEvents {
                campaign.events.removeFirst(campaign.events.count - keepEvents)
            }
            removed += before - campaign.events.count
            campaigns[id] = campaign
        }
        let cmidCutoff = now - Int64(idempotencyWindow.inSeconds * 1000)
        cmids = cmids.filter { $0.value.createdAt >= cmidCutoff }
        return removed
    }
}

extension Array {
    /// The first index whose element satisfies `predicate`, for a predicate that is false
    /// then true along the array (binary search).
    func partitioningIndex(where predicate: (Element) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if predicate(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
