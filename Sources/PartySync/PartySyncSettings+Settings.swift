public import CapabilityKit

extension Setting {
    public static let wsMaxFrame = Setting(flag: "ws-max-frame", environment: "RPGBOT_WS_MAX_FRAME", defaultValue: "64KiB", summary: "Largest Party Sync WebSocket message.", accepted: "bytes, optionally with KiB or MiB")
    public static let wsHelloTimeout = Setting(flag: "ws-hello-timeout", environment: "RPGBOT_WS_HELLO_TIMEOUT", defaultValue: "10s", summary: "Time a new WebSocket connection has to send hello.", accepted: "a duration")
    public static let wsPingInterval = Setting(flag: "ws-ping-interval", environment: "RPGBOT_WS_PING_INTERVAL", defaultValue: "25s", summary: "Interval of the application-level ping.", accepted: "a duration")
    public static let wsPongTimeout = Setting(flag: "ws-pong-timeout", environment: "RPGBOT_WS_PONG_TIMEOUT", defaultValue: "10s", summary: "Time allowed for a pong before the connection is closed.", accepted: "a duration")
    public static let wsCloseTimeout = Setting(flag: "ws-close-timeout", environment: "RPGBOT_WS_CLOSE_TIMEOUT", defaultValue: "10s", summary: "Time a closing connection has to read what is queued for it and answer the close handshake.", accepted: "a duration")
    public static let wsQueueBytes = Setting(flag: "ws-queue-bytes", environment: "RPGBOT_WS_QUEUE_BYTES", defaultValue: "1MiB", summary: "Outbound bytes queued per connection before it is closed as slow.", accepted: "bytes, optionally with KiB or MiB")
    public static let wsRate = Setting(flag: "ws-rate", environment: "RPGBOT_WS_RATE", defaultValue: "20", summary: "Frames per second a connection may send, sustained.", accepted: "a positive number")
    public static let wsBurst = Setting(flag: "ws-burst", environment: "RPGBOT_WS_BURST", defaultValue: "40", summary: "Frames a connection may send in a burst.", accepted: "a number, 1 or more")
    public static let replayLimit = Setting(flag: "replay-limit", environment: "RPGBOT_REPLAY_LIMIT", defaultValue: "1000", summary: "Most events one resume replays; larger gaps answer recovered: false.", accepted: "an integer, 1 or more")
    public static let idempotencyWindow = Setting(flag: "idempotency-window", environment: "RPGBOT_IDEMPOTENCY_WINDOW", defaultValue: "24h", summary: "How long a cmid or Idempotency-Key stays unique.", accepted: "a duration")
    public static let presenceGrace = Setting(flag: "presence-grace", environment: "RPGBOT_PRESENCE_GRACE", defaultValue: "10s", summary: "How long a member stays present after their last connection closes.", accepted: "a duration")
    public static let restPublishRate = Setting(flag: "rest-publish-rate", environment: "RPGBOT_REST_PUBLISH_RATE", defaultValue: "5", summary: "REST publishes per second per caller and campaign, sustained.", accepted: "a positive number")
    public static let restPublishBurst = Setting(flag: "rest-publish-burst", environment: "RPGBOT_REST_PUBLISH_BURST", defaultValue: "10", summary: "REST publishes per caller and campaign in a burst.", accepted: "a number, 1 or more")
    public static let retentionEvents = Setting(flag: "retention-events", environment: "RPGBOT_RETENTION_EVENTS", defaultValue: "100000", summary: "Events kept per campaign; older ones are trimmed.", accepted: "an integer, 1 or more")
    public static let clusterPollInterval = Setting(flag: "cluster-poll-interval", environment: "RPGBOT_CLUSTER_POLL_INTERVAL", defaultValue: "1s", summary: "On PostgreSQL, how often a node that has lost its LISTEN connection reads the new events of its live campaigns.", accepted: "a duration")
    public static let clusterHeartbeatTimeout = Setting(flag: "cluster-heartbeat-timeout", environment: "RPGBOT_CLUSTER_HEARTBEAT_TIMEOUT", defaultValue: "15s", summary: "On PostgreSQL, how long a node may go without a heartbeat before the other nodes drop its connections from presence.", accepted: "a duration of 3s or more")
    public static let retentionAge = Setting(flag: "retention-age", environment: "RPGBOT_RETENTION_AGE", defaultValue: "30d", summary: "Age beyond which events are trimmed.", accepted: "a duration")
}
