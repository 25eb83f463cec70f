public import Logging
public import PostgresNIO
import ServiceKit

/// The ``EventLog`` of the scale-out store: PostgreSQL through PostgresNIO.
///
/// Appends are written in batches (group commit, ``AsyncAppendBatcher``). A batch locks its
/// campaigns' rows (`SELECT … FOR UPDATE`, in id order) before anything else, so appends to one
/// campaign are serialised across every process on the database: the offset increments, the
/// `cmid` checks and the inserts see one consistent state, and offsets are gapless because a
/// failed transaction rolls its increments back.
public struct PostgresEventLog: EventLog {
    let client: PostgresClient
    let logger: Logger
    private let batcher: AsyncAppendBatcher
    private let observer: CommitObserverBox

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        let observer = CommitObserverBox()
        self.observer = observer
        self.batcher = AsyncAppendBatcher { drafts, window in
            let results = try await Self.write(drafts, idempotencyWindow: window, client: client, logger: logger)
            observer.notify(results)
            return results
        }
    }

    @discardableResult
    public func setCommitObserver(_ observer: @escaping @Sendable ([CampaignEvent]) -> Void) -> Bool {
        self.observer.set(observer)
        return true
    }

    public func append(_ draft: EventDraft, idempotencyWindow: Duration) async throws -> AppendOutcome {
        try await batcher.append(draft, idempotencyWindow: idempotencyWindow)
    }

    /// Writes a batch of appends in one transaction with a fixed number of round trips: the
    /// campaigns' rows are locked in id order (so concurrent writers cannot deadlock), `cmid`s
    /// are looked up at once, and events and `cmid` records are inserted from arrays.
    static func write(_ drafts: [EventDraft], idempotencyWindow: Duration, client: PostgresClient, logger: Logger) async throws -> [Result<AppendOutcome, any Error>] {
        let now = EventIdentity.nowMilliseconds()
        let windowStart = now - Int64(idempotencyWindow.inSeconds * 1000)
        let campaignIDs = Array(Set(drafts.map(\.campaignID))).sorted()
        do {
            return try await client.withTransaction(logger: logger) { connection in
                let epochs = campaignIDs.map { _ in EventIdentity.newEpoch() }
                try await connection.query(
                    """
                    INSERT INTO party_campaigns (campaign_id, epoch, top, created_at)
                    SELECT id, epoch, 0, \(now) FROM unnest(\(campaignIDs)::text[], \(epochs)::text[]) AS t(id, epoch)
                    ON CONFLICT (campaign_id) DO NOTHING
                    """, logger: logger)
                var heads: [String: (epoch: String, top: Int64)] = [:]
                let locked = try await connection.query(
                    "SELECT campaign_id, epoch, top FROM party_campaigns WHERE campaign_id = ANY(\(campaignIDs)) ORDER BY campaign_id FOR UPDATE",
                    logger: logger)
                for try await (id, epoch, top) in locked.decode((String, String, Int64).self) {
                    heads[id] = (epoch, top)
                }

                // Earlier uses of the cmids in this batch.
                let keyed = drafts.filter { $0.cmid != nil }
                var previous: [String: (offset: Int64, eventID: String, fingerprint: String)] = [:]
                var expired: [(String, String, String)] = []
                if !keyed.isEmpty {
                    let rows = try await connection.query(
                        """
                        SELECT c.campaign_id, c.actor, c.cmid, c.event_offset, c.event_id, c.fingerprint, c.created_at
                        FROM party_cmids c JOIN unnest(\(keyed.map(\.campaignID))::text[], \(keyed.map(\.actor))::text[], \(keyed.map { $0.cmid! })::text[]) AS k(campaign_id, actor, cmid)
                        ON c.campaign_id = k.campaign_id AND c.actor = k.actor AND c.cmid = k.cmid
                        """, logger: logger)
                    for try await (campaign, actor, cmid, offset, eventID, fingerprint, createdAt) in rows.decode((String, String, String, Int64, String, String, Int64).self) {
                        if createdAt >= windowStart {
                            previous[Self.cmidKey(campaign, actor, cmid)] = (offset, eventID, fingerprint)
                        } else {
                            expired.append((campaign, actor, cmid))
                        }
                    }
                }
                if !expired.isEmpty {
                    try await connection.query(
                        """
                        DELETE FROM party_cmids c USING unnest(\(expired.map(\.0))::text[], \(expired.map(\.1))::text[], \(expired.map(\.2))::text[]) AS k(campaign_id, actor, cmid)
                        WHERE c.campaign_id = k.campaign_id AND c.actor = k.actor AND c.cmid = k.cmid
                        """, logger: logger)
                }

                var results: [Result<AppendOutcome, any Error>] = []
                var events: [CampaignEvent] = []
                var cmidRows: [(event: CampaignEvent, fingerprint: String)] = []
                for draft in drafts {
                    guard var head = heads[draft.campaignID] else {
                        throw PostgresEventLogError.campaignMissing(draft.campaignID)
                    }
                    let fingerprint = draft.cmid == nil ? "" : draft.fingerprint
                    if let cmid = draft.cmid, let earlier = previous[Self.cmidKey(draft.campaignID, draft.actor, cmid)] {
                        if earlier.fingerprint == fingerprint {
                            results.append(.success(.duplicate(offset: earlier.offset, id: earlier.eventID, epoch: head.epoch)))
                        } else {
                            results.append(.failure(EventLogError.cmidConflict(cmid: cmid, originalOffset: earlier.offset)))
                        }
                        continue
                    }
                    head.top += 1
                    heads[draft.campaignID] = head
                    let event = CampaignEvent(
                        campaignID: draft.campaignID, offset: head.top, epoch: head.epoch, id: EventIdentity.newEventID(),
                        type: draft.type, actor: draft.actor, role: draft.role, cmid: draft.cmid, timestamp: now, payload: draft.payload
                    )
                    events.append(event)
                    if let cmid = draft.cmid {
                        cmidRows.append((event, fingerprint))
                        previous[Self.cmidKey(draft.campaignID, draft.actor, cmid)] = (event.offset, event.id, fingerprint)
                    }
                    results.append(.success(.stored(event)))
                }
                if !events.isEmpty {
                    try await connection.query(
                        """
                        INSERT INTO party_events (campaign_id, event_offset, id, type, actor, role, cmid, ts, payload)
                        SELECT c, o, i, ty, a, r, NULLIF(cm, ''), ts, p FROM unnest(
                            \(events.map(\.campaignID))::text[], \(events.map(\.offset))::bigint[], \(events.map(\.id))::text[],
                            \(events.map(\.type))::text[], \(events.map(\.actor))::text[], \(events.map(\.role.rawValue))::text[],
                            \(events.map { $0.cmid ?? "" })::text[], \(events.map(\.timestamp))::bigint[], \(events.map(\.payload))::text[]
                        ) AS t(c, o, i, ty, a, r, cm, ts, p)
                        """, logger: logger)
                    let touched = Array(Set(events.map(\.campaignID)))
                    try await connection.query(
                        """
                        UPDATE party_campaigns c SET top = t.top
                        FROM unnest(\(touched)::text[], \(touched.map { heads[$0]!.top })::bigint[]) AS t(id, top)
                        WHERE c.campaign_id = t.id
                        """, logger: logger)
                }
                if !cmidRows.isEmpty {
                    try await connection.query(
                        """
                        INSERT INTO party_cmids (campaign_id, actor, cmid, event_offset, event_id, fingerprint, created_at)
                        SELECT campaign_id, actor, cmid, event_offset, event_id, fingerprint, \(now) FROM unnest(
                            \(cmidRows.map(\.event.campaignID))::text[], \(cmidRows.map(\.event.actor))::text[], \(cmidRows.map { $0.event.cmid! })::text[],
                            \(cmidRows.map(\.event.offset))::bigint[], \(cmidRows.map(\.event.id))::text[], \(cmidRows.map(\.fingerprint))::text[]
                        ) AS t(campaign_id, actor, cmid, event_offset, event_id, fingerprint)
                        """, logger: logger)
                }
                return results
            }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error
        }
    }

    static func cmidKey(_ campaign: String, _ actor: String, _ cmid: String) -> String {
        "\(campaign)\u{0}\(actor)\u{0}\(cmid)"
    }

    static func ensureCampaign(_ campaignID: String, now: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO party_campaigns (campaign_id, epoch, top, created_at)
            VALUES (\(campaignID), \(EventIdentity.newEpoch()), 0, \(now)) ON CONFLICT (campaign_id) DO NOTHING
            """, logger: logger)
    }

    public func idempotencyRecord(campaignID: String, actor: String, cmid: String, idempotencyWindow: Duration) async throws -> IdempotencyRecord? {
        let windowStart = EventIdentity.nowMilliseconds() - Int64(idempotencyWindow.inSeconds * 1000)
        let rows = try await client.query(
            """
            SELECT event_offset, event_id, fingerprint FROM party_cmids
            WHERE campaign_id = \(campaignID) AND actor = \(actor) AND cmid = \(cmid) AND created_at >= \(windowStart)
            """, logger: logger)
        for try await (offset, eventID, fingerprint) in rows.decode((Int64, String, String).self) {
            return IdempotencyRecord(offset: offset, eventID: eventID, fingerprint: fingerprint)
        }
        return nil
    }

    public func head(campaignID: String) async throws -> CampaignHead {
        let now = EventIdentity.nowMilliseconds()
        return try await client.withConnection { connection in
            try await Self.ensureCampaign(campaignID, now: now, on: connection, logger: logger)
            let rows = try await connection.query(
                """
                SELECT c.epoch, c.top, (SELECT MIN(event_offset) FROM party_events e WHERE e.campaign_id = c.campaign_id)
                FROM party_campaigns c WHERE c.campaign_id = \(campaignID)
                """, logger: logger)
            var head: CampaignHead?
            for try await (epoch, top, first) in rows.decode((String, Int64, Int64?).self) {
                head = CampaignHead(epoch: epoch, top: top, firstRetained: first ?? top + 1)
            }
            guard let head else { throw PostgresEventLogError.campaignMissing(campaignID) }
            return head
        }
    }

    public func events(campaignID: String, after: Int64, limit: Int) async throws -> [CampaignEvent] {
        try await fetch(
            """
            SELECT e.campaign_id, e.event_offset, c.epoch, e.id, e.type, e.actor, e.role, e.cmid, e.ts, e.payload
            FROM party_events e JOIN party_campaigns c ON c.campaign_id = e.campaign_id
            WHERE e.campaign_id = \(campaignID) AND e.event_offset > \(after) ORDER BY e.event_offset LIMIT \(limit)
            """)
    }

    /// One statement for all campaigns: each campaign's page is an index range scan of its own.
    public func events(after positions: [String: Int64], limit: Int) async throws -> [String: [CampaignEvent]] {
        guard !positions.isEmpty else { return [:] }
        let campaignIDs = Array(positions.keys)
        let afters = campaignIDs.map { positions[$0]! }
        let events = try await fetch(
            """
            SELECT e.campaign_id, e.event_offset, c.epoch, e.id, e.type, e.actor, e.role, e.cmid, e.ts, e.payload
            FROM unnest(\(campaignIDs)::text[], \(afters)::bigint[]) AS w(campaign_id, after)
            JOIN party_campaigns c ON c.campaign_id = w.campaign_id
            CROSS JOIN LATERAL (
                SELECT * FROM party_events p
                WHERE p.campaign_id = w.campaign_id AND p.event_offset > w.after ORDER BY p.event_offset LIMIT \(limit)
            ) e
            ORDER BY e.campaign_id, e.event_offset
            """)
        return Dictionary(grouping: events, by: \.campaignID)
    }

    public func events(campaignID: String, before: Int64, limit: Int) async throws -> [CampaignEvent] {
        try await fetch(
            """
            SELECT e.campaign_id, e.event_offset, c.epoch, e.id, e.type, e.actor, e.role, e.cmid, e.ts, e.payload
            FROM party_events e JOIN party_campaigns c ON c.campaign_id = e.campaign_id
            WHERE e.campaign_id = \(campaignID) AND e.event_offset < \(before) ORDER BY e.event_offset DESC LIMIT \(limit)
            """)
    }

    private func fetch(_ query: PostgresQuery) async throws -> [CampaignEvent] {
        var events: [CampaignEvent] = []
        let rows = try await client.query(query, logger: logger)
        for try await (campaign, offset, epoch, id, type, actor, role, cmid, ts, payload) in rows.decode(
            (String, Int64, String, String, String, String, String, String?, Int64, String).self
        ) {
            events.append(CampaignEvent(
                campaignID: campaign, offset: offset, epoch: epoch, id: id, type: type, actor: actor,
                role: Role(rawValue: role) ?? .player, cmid: cmid, timestamp: ts, payload: payload
            ))
        }
        return events
    }

    public func trim(keepEvents: Int, maxAge: Duration, idempotencyWindow: Duration) async throws -> Int {
        let now = EventIdentity.nowMilliseconds()
        let oldest = now - Int64(maxAge.inSeconds * 1000)
        let cmidCutoff = now - Int64(idempotencyWindow.inSeconds * 1000)
        var removed = 0
        for try await count in try await client.query(
            "WITH gone AS (DELETE FROM party_events WHERE ts < \(oldest) RETURNING 1) SELECT count(*) FROM gone", logger: logger
        ).decode(Int.self) { removed += count }
        for try await count in try await client.query(
            """
            WITH gone AS (
                DELETE FROM party_events e USING party_campaigns c
                WHERE c.campaign_id = e.campaign_id AND e.event_offset <= c.top - \(keepEvents) RETURNING 1
            ) SELECT count(*) FROM gone
            """, logger: logger
        ).decode(Int.self) { removed += count }
        try await client.query("DELETE FROM party_cmids WHERE created_at < \(cmidCutoff)", logger: logger)
        return removed
    }
}

enum PostgresEventLogError: Error, CustomStringConvertible {
    case campaignMissing(String)

    var description: String {
        switch self {
        case .campaignMissing(let id): "campaign \(id) has no row after it was created"
        }
    }
}
