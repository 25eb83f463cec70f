public import Logging
public import PostgresNIO
import ServiceKit

/// The ``EventLog`` of the scale-out store: PostgreSQL through PostgresNIO.
///
/// An append locks its campaign's row (`SELECT … FOR UPDATE`) before anything else, so
/// appends to one campaign are serialised across every process on the database: the offset
/// increment, the `cmid` check and the insert see one consistent state, and offsets are
/// gapless because a failed transaction rolls its increment back.
public struct PostgresEventLog: EventLog {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func append(_ draft: EventDraft, idempotencyWindow: Duration) async throws -> AppendOutcome {
        let now = EventIdentity.nowMilliseconds()
        let windowStart = now - Int64(EventIdentity.seconds(idempotencyWindow) * 1000)
        let fingerprint = draft.cmid == nil ? "" : EventFingerprint.of(draft)
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await Self.ensureCampaign(draft.campaignID, now: now, on: connection, logger: logger)
                var epoch = ""
                var top: Int64 = 0
                let locked = try await connection.query(
                    "SELECT epoch, top FROM party_campaigns WHERE campaign_id = \(draft.campaignID) FOR UPDATE", logger: logger)
                for try await (e, t) in locked.decode((String, Int64).self) {
                    epoch = e
                    top = t
                }
                if let cmid = draft.cmid {
                    let rows = try await connection.query(
                        """
                        SELECT event_offset, event_id, fingerprint, created_at FROM party_cmids
                        WHERE campaign_id = \(draft.campaignID) AND actor = \(draft.actor) AND cmid = \(cmid)
                        """, logger: logger)
                    var previous: (offset: Int64, eventID: String, fingerprint: String, createdAt: Int64)?
                    for try await row in rows.decode((Int64, String, String, Int64).self) {
                        previous = row
                    }
                    if let previous, previous.createdAt >= windowStart {
                        guard previous.fingerprint == fingerprint else {
                            throw EventLogError.cmidConflict(cmid: cmid, originalOffset: previous.offset)
                        }
                        return AppendOutcome.duplicate(offset: previous.offset, id: previous.eventID, epoch: epoch)
                    }
                    try await connection.query(
                        "DELETE FROM party_cmids WHERE campaign_id = \(draft.campaignID) AND actor = \(draft.actor) AND cmid = \(cmid)", logger: logger)
                }
                let offset = top + 1
                try await connection.query("UPDATE party_campaigns SET top = \(offset) WHERE campaign_id = \(draft.campaignID)", logger: logger)
                let event = CampaignEvent(
                    campaignID: draft.campaignID, offset: offset, epoch: epoch, id: EventIdentity.newEventID(),
                    type: draft.type, actor: draft.actor, role: draft.role, cmid: draft.cmid, timestamp: now, payload: draft.payload
                )
                try await connection.query(
                    """
                    INSERT INTO party_events (campaign_id, event_offset, id, type, actor, role, cmid, ts, payload)
                    VALUES (\(event.campaignID), \(event.offset), \(event.id), \(event.type), \(event.actor), \(event.role.rawValue), \(event.cmid), \(event.timestamp), \(event.payload))
                    """, logger: logger)
                if let cmid = draft.cmid {
                    try await connection.query(
                        """
                        INSERT INTO party_cmids (campaign_id, actor, cmid, event_offset, event_id, fingerprint, created_at)
                        VALUES (\(draft.campaignID), \(draft.actor), \(cmid), \(event.offset), \(event.id), \(fingerprint), \(now))
                        """, logger: logger)
                }
                return AppendOutcome.stored(event)
            }
        } catch let error as PostgresTransactionError {
            if let conflict = error.closureError as? EventLogError { throw conflict }
            throw error
        }
    }

    static func ensureCampaign(_ campaignID: String, now: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO party_campaigns (campaign_id, epoch, top, created_at)
            VALUES (\(campaignID), \(EventIdentity.newEpoch()), 0, \(now)) ON CONFLICT (campaign_id) DO NOTHING
            """, logger: logger)
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
        let oldest = now - Int64(EventIdentity.seconds(maxAge) * 1000)
        let cmidCutoff = now - Int64(EventIdentity.seconds(idempotencyWindow) * 1000)
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
