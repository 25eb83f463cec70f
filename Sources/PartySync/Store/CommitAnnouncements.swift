public import Logging
public import PostgresNIO

/// How a node hears that another node sharing its store committed events: the campaign and
/// its new top offset, never the events themselves (they are read from the store, in order).
///
/// Only a store several processes share has announcements: ``PostgresCommitAnnouncements``.
/// SQLite is one process per file, and the in-memory log one process by definition.
public protocol CommitAnnouncements: Sendable {
    /// Subscribes, calls `subscribed` once the subscription is in place, then `heard` for every
    /// announcement, until the task is cancelled (returns) or the subscription fails (throws).
    func listen(subscribed: @Sendable () async -> Void, heard: @escaping @Sendable (_ campaignID: String, _ top: Int64) -> Void) async throws
}

/// Announcements through PostgreSQL's `LISTEN`/`NOTIFY`: ``PostgresEventLog`` notifies
/// `campaign:top` on ``channel`` in the transaction that stores the events (so the notification
/// is sent exactly when they are committed), and every node listens on one pooled connection.
public struct PostgresCommitAnnouncements: CommitAnnouncements {
    /// The notification channel.
    public static let channel = "rpgbot_party_sync"

    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func listen(subscribed: @Sendable () async -> Void, heard: @escaping @Sendable (String, Int64) -> Void) async throws {
        try await client.withConnection { connection in
            let notifications = try await connection.listen(Self.channel)
            await subscribed()
            for try await notification in notifications {
                guard let (campaignID, top) = Self.parse(notification.payload) else {
                    logger.warning("ignored a malformed commit announcement", metadata: ["payload": "\(notification.payload.prefix(100))"])
                    continue
                }
                heard(campaignID, top)
            }
        }
    }

    /// `campaign:top`; campaign ids never contain a colon.
    static func parse(_ payload: String) -> (String, Int64)? {
        guard let colon = payload.lastIndex(of: ":"), let top = Int64(payload[payload.index(after: colon)...]) else { return nil }
        let campaignID = String(payload[..<colon])
        return campaignID.isEmpty ? nil : (campaignID, top)
    }
}
