import Crypto
import Foundation
public import Persistence

/// The tables of Party Sync. `event_offset` rather than `offset`: OFFSET is an SQL keyword.
public enum PartySyncMigrations {
    public static let all: [Migration] = [
        Migration(
            id: "party_sync.001_event_log",
            sqlite: [
                """
                CREATE TABLE party_campaigns (
                    campaign_id TEXT PRIMARY KEY,
                    epoch TEXT NOT NULL,
                    top INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL
                ) WITHOUT ROWID
                """,
                """
                CREATE TABLE party_events (
                    campaign_id TEXT NOT NULL,
                    event_offset INTEGER NOT NULL,
                    id TEXT NOT NULL UNIQUE,
                    type TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    role TEXT NOT NULL,
                    cmid TEXT,
                    ts INTEGER NOT NULL,
                    payload TEXT NOT NULL,
                    PRIMARY KEY (campaign_id, event_offset)
                ) WITHOUT ROWID
                """,
                "CREATE INDEX party_events_ts ON party_events (ts)",
                """
                CREATE TABLE party_cmids (
                    campaign_id TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    cmid TEXT NOT NULL,
                    event_offset INTEGER NOT NULL,
                    event_id TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    PRIMARY KEY (campaign_id, actor, cmid)
                ) WITHOUT ROWID
                """,
                "CREATE INDEX party_cmids_created ON party_cmids (created_at)",
            ],
            postgres: [
                """
                CREATE TABLE party_campaigns (
                    campaign_id TEXT PRIMARY KEY,
                    epoch TEXT NOT NULL,
                    top BIGINT NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE party_events (
                    campaign_id TEXT NOT NULL,
                    event_offset BIGINT NOT NULL,
                    id TEXT NOT NULL UNIQUE,
                    type TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    role TEXT NOT NULL,
                    cmid TEXT,
                    ts BIGINT NOT NULL,
                    payload TEXT NOT NULL,
                    PRIMARY KEY (campaign_id, event_offset)
                )
                """,
                "CREATE INDEX party_events_ts ON party_events (ts)",
                """
                CREATE TABLE party_cmids (
                    campaign_id TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    cmid TEXT NOT NULL,
                    event_offset BIGINT NOT NULL,
                    event_id TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (campaign_id, actor, cmid)
                )
                """,
                "CREATE INDEX party_cmids_created ON party_cmids (created_at)",
            ]
        ),
        // Presence across the nodes of one PostgreSQL; a SQLite file has one process.
        Migration(
            id: "party_sync.002_shared_presence",
            sqlite: [],
            postgres: [
                """
                CREATE TABLE party_nodes (
                    node_id TEXT PRIMARY KEY,
                    heartbeat_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE party_presence (
                    campaign_id TEXT NOT NULL,
                    connection_id TEXT NOT NULL,
                    node_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    role TEXT NOT NULL,
                    state TEXT,
                    PRIMARY KEY (campaign_id, connection_id)
                )
                """,
                "CREATE INDEX party_presence_node ON party_presence (node_id)",
            ]
        ),
        // Every index of the event table is written by every commit, and the two dropped here
        // were never read on the hot path: nothing looks an event up by id, and retention by
        // age walks each campaign's events in offset order instead (``SQLiteEventLog/trim``).
        // The id's uniqueness is a constraint, so the table is rebuilt without it.
        Migration(
            id: "party_sync.003_lean_event_table",
            sqlite: [
                """
                CREATE TABLE party_events_lean (
                    campaign_id TEXT NOT NULL,
                    event_offset INTEGER NOT NULL,
                    id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    role TEXT NOT NULL,
                    cmid TEXT,
                    ts INTEGER NOT NULL,
                    payload TEXT NOT NULL,
                    PRIMARY KEY (campaign_id, event_offset)
                ) WITHOUT ROWID
                """,
                """
                INSERT INTO party_events_lean (campaign_id, event_offset, id, type, actor, role, cmid, ts, payload)
                SELECT campaign_id, event_offset, id, type, actor, role, cmid, ts, payload FROM party_events
                """,
                "DROP TABLE party_events",
                "ALTER TABLE party_events_lean RENAME TO party_events",
            ],
            postgres: []
        ),
    ]
}

/// The fingerprint that tells a repeated `cmid` (same type and payload) from a reused one:
/// SHA-256 over the type and the canonical payload.
enum EventFingerprint {
    static func of(_ draft: EventDraft) -> String {
        var hasher = SHA256()
        hasher.update(data: Array(draft.type.utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(draft.payload.utf8))
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in hasher.finalize() {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
