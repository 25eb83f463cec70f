public import Logging
public import PostgresNIO
public import ServiceKit

/// A connection of a campaign held by another node, as the shared presence table has it.
public struct RemoteConnection: Sendable, Equatable {
    public let user: String
    public let role: Role
    /// The member's state (canonical JSON text), when they set one on that node.
    public let state: String?
}

/// The presence table several nodes share: each node writes its own connections and a
/// heartbeat, and reads the others'. A node that stops beating (it died) stops counting
/// after the heartbeat timeout, so its members leave like any other.
public protocol SharedPresence: Sendable {
    /// Records that `node` is alive now.
    func beat(node: String) async throws
    func join(node: String, campaignID: String, connection: String, user: String, role: Role) async throws
    func leave(node: String, campaignID: String, connection: String) async throws
    /// Sets the state of `user`'s connections on `node` (canonical JSON text).
    func setState(node: String, campaignID: String, user: String, state: String) async throws
    /// The connections of `campaignIDs` held by other nodes that beat at or after
    /// `aliveSince` (ms since the epoch), by campaign and connection.
    func remote(campaignIDs: [String], excluding node: String, aliveSince: Int64) async throws -> [String: [String: RemoteConnection]]
    /// Removes the rows of nodes that have not beaten since `deadBefore`, and of `node` (a node
    /// that stops cleanly takes its rows with it).
    func forget(deadBefore: Int64, node: String?) async throws
}

/// ``SharedPresence`` in PostgreSQL: `party_presence` (a row per connection) and
/// `party_nodes` (a heartbeat per node). Every change notifies `presence <campaign>` on the
/// announcements channel, so the other nodes read it at once rather than at their next beat.
public struct PostgresSharedPresence: SharedPresence {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    static let channel = PostgresCommitAnnouncements.channel

    public func beat(node: String) async throws {
        let now = EventIdentity.nowMilliseconds()
        try await client.query(
            """
            INSERT INTO party_nodes (node_id, heartbeat_at) VALUES (\(node), \(now))
            ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at
            """, logger: logger)
    }

    public func join(node: String, campaignID: String, connection: String, user: String, role: Role) async throws {
        try await changeAndAnnounce(campaignID,
            """
            INSERT INTO party_presence (campaign_id, connection_id, node_id, user_id, role, state)
            VALUES (\(campaignID), \(connection), \(node), \(user), \(role.rawValue),
                    (SELECT state FROM party_presence WHERE campaign_id = \(campaignID) AND node_id = \(node) AND user_id = \(user) AND state IS NOT NULL LIMIT 1))
            ON CONFLICT (campaign_id, connection_id) DO NOTHING
            RETURNING campaign_id
            """)
    }

    public func leave(node: String, campaignID: String, connection: String) async throws {
        try await changeAndAnnounce(campaignID,
            "DELETE FROM party_presence WHERE campaign_id = \(campaignID) AND connection_id = \(connection) AND node_id = \(node) RETURNING campaign_id")
    }

    public func setState(node: String, campaignID: String, user: String, state: String) async throws {
        try await changeAndAnnounce(campaignID,
            "UPDATE party_presence SET state = \(state) WHERE campaign_id = \(campaignID) AND node_id = \(node) AND user_id = \(user) RETURNING campaign_id")
    }

    /// Runs a change that returns the campaign of each row it touched, and notifies once when
    /// it touched any, in one statement (the notification goes out when it commits).
    private func changeAndAnnounce(_ campaignID: String, _ change: PostgresQuery) async throws {
        var query = PostgresQuery(unsafeSQL: "WITH changed AS (\(change.sql)) SELECT pg_notify($\(change.binds.count + 1), 'presence ' || $\(change.binds.count + 2)) FROM (SELECT 1 FROM changed LIMIT 1) AS t")
        query.binds = change.binds
        try query.binds.append(Self.channel)
        try query.binds.append(campaignID)
        try await client.query(query, logger: logger)
    }

    public func remote(campaignIDs: [String], excluding node: String, aliveSince: Int64) async throws -> [String: [String: RemoteConnection]] {
        guard !campaignIDs.isEmpty else { return [:] }
        let rows = try await client.query(
            """
            SELECT p.campaign_id, p.connection_id, p.user_id, p.role, p.state
            FROM party_presence p JOIN party_nodes n ON n.node_id = p.node_id
            WHERE p.campaign_id = ANY(\(campaignIDs)) AND p.node_id <> \(node) AND n.heartbeat_at >= \(aliveSince)
            """, logger: logger)
        var result: [String: [String: RemoteConnection]] = [:]
        for try await (campaign, connection, user, role, state) in rows.decode((String, String, String, String, String?).self) {
            result[campaign, default: [:]][connection] = RemoteConnection(user: user, role: Role(rawValue: role) ?? .player, state: state)
        }
        return result
    }

    public func forget(deadBefore: Int64, node: String?) async throws {
        let gone = node ?? ""
        try await client.query(
            """
            WITH dead AS (
                DELETE FROM party_nodes WHERE heartbeat_at < \(deadBefore) OR node_id = \(gone) RETURNING node_id
            ) DELETE FROM party_presence WHERE node_id IN (SELECT node_id FROM dead) OR node_id = \(gone)
            """, logger: logger)
    }
}
