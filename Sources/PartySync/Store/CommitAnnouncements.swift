public import Logging
public import PostgresNIO
import ServiceKit

/// What one node tells the others sharing its store.
public enum ClusterAnnouncement: Sendable, Equatable {
    /// Events were committed to the campaign, up to `top`. Never the events themselves: they
    /// are read from the store, in order.
    case committed(campaignID: String, top: Int64)
    /// The campaign's presence changed on some node.
    case presenceChanged(campaignID: String)
}

/// How a node hears what other nodes sharing its store did.
///
/// Only a store several processes share has announcements: ``PostgresCommitAnnouncements``.
/// SQLite is one process per file, and the in-memory log one process by definition.
public protocol CommitAnnouncements: Sendable {
    /// Subscribes, calls `subscribed` once the subscription is in place, then `heard` for every
    /// announcement, until the task is cancelled (returns) or the subscription fails (throws).
    func listen(subscribed: @Sendable () async -> Void, heard: @escaping @Sendable (ClusterAnnouncement) -> Void) async throws

    /// Tells the other nodes the new tops of campaigns this node committed to.
    func announce(tops: [String: Int64]) async throws
}

/// Announcements through PostgreSQL's `LISTEN`/`NOTIFY`: a node notifies `campaign:top` on
/// ``channel`` after its commits (``announce(tops:)``), ``PostgresSharedPresence`` notifies
/// `presence campaign`, and every node listens on one pooled connection.
///
/// The notification is sent after the commit, not inside the appending transaction: a
/// transaction that notifies holds PostgreSQL's notification lock while it commits, which
/// serialised every append and raised the single-node p99 by half.
public struct PostgresCommitAnnouncements: CommitAnnouncements {
    /// The notification channel.
    public static let channel = "rpgbot_party_sync"

    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func listen(subscribed: @Sendable () async -> Void, heard: @escaping @Sendable (ClusterAnnouncement) -> Void) async throws {
        try await client.withConnection { connection in
            let notifications = try await connection.listen(Self.channel)
            await subscribed()
            for try await notification in notifications {
                guard let announcement = Self.parse(notification.payload) else {
                    logger.warning("ignored a malformed cluster announcement", metadata: ["payload": "\(notification.payload.prefix(100))"])
                    continue
                }
                heard(announcement)
            }
        }
    }

    public func announce(tops: [String: Int64]) async throws {
        guard !tops.isEmpty else { return }
        let campaigns = Array(tops.keys)
        let rows = try await client.query(
            "SELECT pg_notify(\(Self.channel), t.id || ':' || t.top)::text FROM unnest(\(campaigns)::text[], \(campaigns.map { tops[$0]! })::bigint[]) AS t(id, top)",
            logger: logger)
        for try await _ in rows.decode(String.self) {}
    }

    /// `campaign:top` or `presence campaign`; campaign ids contain neither a colon nor a space.
    static func parse(_ payload: String) -> ClusterAnnouncement? {
        if payload.hasPrefix("presence ") {
            let campaignID = String(payload.dropFirst("presence ".count))
            return PathIdentifier.isValid(campaignID) ? .presenceChanged(campaignID: campaignID) : nil
        }
        guard let colon = payload.lastIndex(of: ":"), let top = Int64(payload[payload.index(after: colon)...]) else { return nil }
        let campaignID = String(payload[..<colon])
        return PathIdentifier.isValid(campaignID) ? .committed(campaignID: campaignID, top: top) : nil
    }
}
