public import GRDB
import ServiceKit

/// The ``EventLog`` of the embedded default: SQLite through GRDB.
///
/// SQLite has one writer at a time, so the offset increment, the event row and the `cmid`
/// record of each append are serialised in immediate transactions; appends that arrive
/// together share one transaction (group commit, see ``AppendBatcher``).
public struct SQLiteEventLog: EventLog {
    let pool: DatabasePool
    private let batcher: AppendBatcher
    private let observer: CommitObserverBox

    public init(pool: DatabasePool) {
        self.pool = pool
        let observer = CommitObserverBox()
        self.observer = observer
        // Batches are written through GRDB's synchronous API on the batcher's own queue: its
        // async API hops through an actor executor twice per write, which under a thousand
        // connections doubled the publish-to-delivery latency.
        self.batcher = AppendBatcher(label: "rpgbot.party-sync.sqlite-append") { drafts, window in
            let results = try Self.write(drafts, idempotencyWindow: window, pool: pool)
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

    public var queuesAppends: Bool { true }

    public func enqueueAppend(_ draft: EventDraft, idempotencyWindow: Duration, completion: @escaping @Sendable (Result<AppendOutcome, any Error>) -> Void) {
        batcher.append(draft, idempotencyWindow: idempotencyWindow, completion: completion)
    }

    /// Writes a batch of appends in one immediate transaction. Each append gets its own
    /// outcome (a `cmid` conflict fails only that one); an SQL error fails the whole batch and
    /// leaves nothing behind.
    static func write(_ drafts: [EventDraft], idempotencyWindow: Duration, pool: DatabasePool) throws -> [Result<AppendOutcome, any Error>] {
        let now = EventIdentity.nowMilliseconds()
        let windowStart = now - Int64(idempotencyWindow.inSeconds * 1000)
        return try pool.writeWithoutTransaction { db in
            var results: [Result<AppendOutcome, any Error>] = []
            try db.inTransaction(.immediate) {
                for draft in drafts {
                    do {
                        results.append(.success(try appendOne(draft, now: now, windowStart: windowStart, db: db)))
                    } catch let conflict as EventLogError {
                        results.append(.failure(conflict))
                    }
                }
                return .commit
            }
            return results
        }
    }

    static func appendOne(_ draft: EventDraft, now: Int64, windowStart: Int64, db: GRDB.Database) throws -> AppendOutcome {
        let fingerprint = draft.cmid == nil ? "" : draft.fingerprint
        // Cached statements: an append is on the hot path and runs the same SQL every time.
        let known = try Bool.fetchOne(
            try db.cachedStatement(sql: "SELECT 1 FROM party_campaigns WHERE campaign_id = ?"), arguments: [draft.campaignID]
        ) ?? false
        if !known {
            try db.cachedStatement(sql: "INSERT INTO party_campaigns (campaign_id, epoch, top, created_at) VALUES (?, ?, 0, ?)")
                .execute(arguments: [draft.campaignID, EventIdentity.newEpoch(), now])
        }
        if let cmid = draft.cmid, let row = try Row.fetchOne(
            try db.cachedStatement(sql: "SELECT event_offset, event_id, fingerprint, created_at FROM party_cmids WHERE campaign_id = ? AND actor = ? AND cmid = ?"),
            arguments: [draft.campaignID, draft.actor, cmid]
        ) {
            let createdAt: Int64 = row["created_at"]
            if createdAt >= windowStart {
                let offset: Int64 = row["event_offset"]
                guard row["fingerprint"] as String == fingerprint else {
                    throw EventLogError.cmidConflict(cmid: cmid, originalOffset: offset)
                }
                let epoch = try String.fetchOne(
                    try db.cachedStatement(sql: "SELECT epoch FROM party_campaigns WHERE campaign_id = ?"), arguments: [draft.campaignID]
                ) ?? ""
                return .duplicate(offset: offset, id: row["event_id"], epoch: epoch)
            }
            try db.execute(sql: "DELETE FROM party_cmids WHERE campaign_id = ? AND actor = ? AND cmid = ?", arguments: [draft.campaignID, draft.actor, cmid])
        }
        guard let head = try Row.fetchOne(
            try db.cachedStatement(sql: "UPDATE party_campaigns SET top = top + 1 WHERE campaign_id = ? RETURNING top, epoch"),
            arguments: [draft.campaignID]
        ) else {
            throw DatabaseError(message: "campaign row missing after insert")
        }
        let event = CampaignEvent(
            campaignID: draft.campaignID, offset: head["top"], epoch: head["epoch"], id: EventIdentity.newEventID(),
            type: draft.type, actor: draft.actor, role: draft.role, cmid: draft.cmid, timestamp: now, payload: draft.payload
        )
        try db.cachedStatement(sql: """
            INSERT INTO party_events (campaign_id, event_offset, id, type, actor, role, cmid, ts, payload)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
            .execute(arguments: [event.campaignID, event.offset, event.id, event.type, event.actor, event.role.rawValue, event.cmid, event.timestamp, event.payload])
        if let cmid = draft.cmid {
            try db.cachedStatement(sql: "INSERT INTO party_cmids (campaign_id, actor, cmid, event_offset, event_id, fingerprint, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .execute(arguments: [draft.campaignID, draft.actor, cmid, event.offset, event.id, fingerprint, now])
        }
        return .stored(event)
    }

    public func idempotencyRecord(campaignID: String, actor: String, cmid: String, idempotencyWindow: Duration) async throws -> IdempotencyRecord? {
        let windowStart = EventIdentity.nowMilliseconds() - Int64(idempotencyWindow.inSeconds * 1000)
        return try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT event_offset, event_id, fingerprint FROM party_cmids WHERE campaign_id = ? AND actor = ? AND cmid = ? AND created_at >= ?",
                arguments: [campaignID, actor, cmid, windowStart]
            ).map { IdempotencyRecord(offset: $0["event_offset"], eventID: $0["event_id"], fingerprint: $0["fingerprint"]) }
        }
    }

    public func head(campaignID: String) async throws -> CampaignHead {
        let now = EventIdentity.nowMilliseconds()
        return try await pool.write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO party_campaigns (campaign_id, epoch, top, created_at) VALUES (?, ?, 0, ?)",
                arguments: [campaignID, EventIdentity.newEpoch(), now]
            )
            let row = try Row.fetchOne(db, sql: "SELECT epoch, top FROM party_campaigns WHERE campaign_id = ?", arguments: [campaignID])!
            let top: Int64 = row["top"]
            let first = try Int64.fetchOne(db, sql: "SELECT MIN(event_offset) FROM party_events WHERE campaign_id = ?", arguments: [campaignID])
            return CampaignHead(epoch: row["epoch"], top: top, firstRetained: first ?? top + 1)
        }
    }

    public func events(campaignID: String, after: Int64, limit: Int) async throws -> [CampaignEvent] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT e.*, c.epoch FROM party_events e JOIN party_campaigns c ON c.campaign_id = e.campaign_id WHERE e.campaign_id = ? AND e.event_offset > ? ORDER BY e.event_offset LIMIT ?",
                arguments: [campaignID, after, limit]
            ).map(Self.event)
        }
    }

    public func events(campaignID: String, before: Int64, limit: Int) async throws -> [CampaignEvent] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT e.*, c.epoch FROM party_events e JOIN party_campaigns c ON c.campaign_id = e.campaign_id WHERE e.campaign_id = ? AND e.event_offset < ? ORDER BY e.event_offset DESC LIMIT ?",
                arguments: [campaignID, before, limit]
            ).map(Self.event)
        }
    }

    public func trim(keepEvents: Int, maxAge: Duration, idempotencyWindow: Duration) async throws -> Int {
        let now = EventIdentity.nowMilliseconds()
        let oldest = now - Int64(maxAge.inSeconds * 1000)
        let cmidCutoff = now - Int64(idempotencyWindow.inSeconds * 1000)
        return try await pool.write { db in
            // Campaign by campaign, along each campaign's offsets: at most `keepEvents`, and
            // none older than the first event young enough to keep. Each read goes no further
            // than what it removes, and a clock that stepped back between two commits never
            // makes a younger event go.
            var removed = 0
            let campaigns = try Row.fetchAll(db, sql: "SELECT campaign_id, top FROM party_campaigns")
            for campaign in campaigns {
                let campaignID: String = campaign["campaign_id"]
                let top: Int64 = campaign["top"]
                let firstYoung = try Int64.fetchOne(
                    db, sql: "SELECT event_offset FROM party_events WHERE campaign_id = ? AND ts >= ? ORDER BY event_offset LIMIT 1",
                    arguments: [campaignID, oldest])
                let firstKept = max(firstYoung ?? top + 1, top - Int64(keepEvents) + 1)
                try db.execute(
                    sql: "DELETE FROM party_events WHERE campaign_id = ? AND event_offset < ?",
                    arguments: [campaignID, firstKept])
                removed += db.changesCount
            }
            try db.execute(sql: "DELETE FROM party_cmids WHERE created_at < ?", arguments: [cmidCutoff])
            return removed
        }
    }

    static func event(_ row: Row) -> CampaignEvent {
        CampaignEvent(
            campaignID: row["campaign_id"], offset: row["event_offset"], epoch: row["epoch"], id: row["id"], type: row["type"],
            actor: row["actor"], role: Role(rawValue: row["role"]) ?? .player, cmid: row["cmid"], timestamp: row["ts"], payload: row["payload"]
        )
    }
}

