/// Every limit and timing of Party Sync, resolved from configuration (see the README's
/// settings table); the defaults are the documented ones.
public struct PartySyncSettings: Sendable, Equatable {
    /// Largest WebSocket message accepted, in bytes.
    public var maxFrameBytes: Int = 64 * 1024
    /// How long a new connection may take to send `hello`.
    public var helloTimeout: Duration = .seconds(10)
    /// Interval of the server's application-level `ping`.
    public var pingInterval: Duration = .seconds(25)
    /// How long after a `ping` a `pong` may arrive.
    public var pongTimeout: Duration = .seconds(10)
    /// Most events one resume may replay; a larger gap answers `recovered: false`.
    public var replayLimit: Int = 1_000
    /// How long a `cmid` stays unique per campaign and sender.
    public var idempotencyWindow: Duration = .seconds(24 * 3600)
    /// How long a member stays present after their last connection closes.
    public var presenceGrace: Duration = .seconds(10)
    /// How long a peer has, once its close frame is queued, to read what is ahead of it and
    /// answer the close handshake; then the connection is dropped.
    public var closeTimeout: Duration = .seconds(10)
    /// Bytes queued for one connection before it is closed as a slow consumer.
    public var outboundQueueBytes: Int = 1 << 20
    /// Per-connection publish rate: sustained messages per second and burst.
    public var connectionRate: Double = 20
    public var connectionBurst: Double = 40
    /// Rate-limited frames within `abuseWindow` that close the connection.
    public var abuseThreshold: Int = 200
    public var abuseWindow: Duration = .seconds(10)
    /// Invalid frames (not JSON, binary, unknown or malformed frames) within `abuseWindow` that
    /// close the connection: a client that keeps sending garbage is cut off like a flooding one.
    public var invalidFrameThreshold: Int = 50
    /// REST publish rate per caller: requests per second and burst.
    public var restRate: Double = 5
    public var restBurst: Double = 10
    /// Retention per campaign: at most this many events, none older than `retentionAge`.
    public var retentionEvents: Int = 100_000
    public var retentionAge: Duration = .seconds(30 * 24 * 3600)
    /// How often retention and expired idempotency records are trimmed.
    public var trimInterval: Duration = .seconds(60)
    /// On PostgreSQL, how often a node without its LISTEN connection reads the new events of
    /// its live campaigns (other nodes' commits are late then, never missing).
    public var clusterPollInterval: Duration = .seconds(1)
    /// On PostgreSQL, how long a node may miss heartbeats (one every third of it) before the
    /// other nodes drop its connections from presence: a node that died.
    public var clusterHeartbeatTimeout: Duration = .seconds(15)
    /// Longest event `type`.
    public var maxTypeLength: Int = 64
    /// Largest page of `history` and `GET …/events`.
    public var maxHistoryPage: Int = 500

    public init() {}
}
