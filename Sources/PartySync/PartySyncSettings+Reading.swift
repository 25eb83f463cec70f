public import CapabilityKit

extension PartySyncSettings {
    /// Reads Party Sync's settings (``PartySyncCapability/settings``); unset ones keep their defaults.
    public init(reading values: SettingValues) throws(ConfigurationError) {
        self.init()
        maxFrameBytes = try values.byteSize(.wsMaxFrame) ?? maxFrameBytes
        helloTimeout = try values.duration(.wsHelloTimeout) ?? helloTimeout
        pingInterval = try values.duration(.wsPingInterval) ?? pingInterval
        pongTimeout = try values.duration(.wsPongTimeout) ?? pongTimeout
        closeTimeout = try values.duration(.wsCloseTimeout) ?? closeTimeout
        outboundQueueBytes = try values.byteSize(.wsQueueBytes) ?? outboundQueueBytes
        connectionRate = try values.positiveNumber(.wsRate) ?? connectionRate
        connectionBurst = try values.positiveNumber(.wsBurst, minimum: 1) ?? connectionBurst
        replayLimit = try values.positiveInteger(.replayLimit) ?? replayLimit
        idempotencyWindow = try values.duration(.idempotencyWindow) ?? idempotencyWindow
        presenceGrace = try values.duration(.presenceGrace) ?? presenceGrace
        restRate = try values.positiveNumber(.restPublishRate) ?? restRate
        restBurst = try values.positiveNumber(.restPublishBurst, minimum: 1) ?? restBurst
        retentionEvents = try values.positiveInteger(.retentionEvents) ?? retentionEvents
        retentionAge = try values.duration(.retentionAge) ?? retentionAge
        clusterPollInterval = try values.duration(.clusterPollInterval) ?? clusterPollInterval
        if let timeout = try values.duration(.clusterHeartbeatTimeout) {
            guard timeout >= .seconds(3) else {
                throw ConfigurationError(setting: .clusterHeartbeatTimeout, value: values.raw(.clusterHeartbeatTimeout) ?? "", reason: "shorter than 3s")
            }
            clusterHeartbeatTimeout = timeout
        }
    }
}
