public import CapabilityKit

extension PartySyncSettings {
    /// Reads Party Sync's settings (``PartySyncCapability/settings``); unset ones keep their defaults.
    public init(reading values: SettingValues) throws(ConfigurationError) {
        self.init()
        self.maxFrameBytes = try values.byteSize(.wsMaxFrame) ?? self.maxFrameBytes
        self.helloTimeout = try values.duration(.wsHelloTimeout) ?? self.helloTimeout
        self.pingInterval = try values.duration(.wsPingInterval) ?? self.pingInterval
        self.pongTimeout = try values.duration(.wsPongTimeout) ?? self.pongTimeout
        self.closeTimeout = try values.duration(.wsCloseTimeout) ?? self.closeTimeout
        self.outboundQueueBytes = try values.byteSize(.wsQueueBytes) ?? self.outboundQueueBytes
        self.connectionRate = try values.positiveNumber(.wsRate) ?? self.connectionRate
        self.connectionBurst = try values.positiveNumber(.wsBurst, minimum: 1) ?? self.connectionBurst
        self.replayLimit = try values.positiveInteger(.replayLimit) ?? self.replayLimit
        self.idempotencyWindow = try values.duration(.idempotencyWindow) ?? self.idempotencyWindow
        self.presenceGrace = try values.duration(.presenceGrace) ?? self.presenceGrace
        self.restRate = try values.positiveNumber(.restPublishRate) ?? self.restRate
        self.restBurst = try values.positiveNumber(.restPublishBurst, minimum: 1) ?? self.restBurst
        self.retentionEvents = try values.positiveInteger(.retentionEvents) ?? self.retentionEvents
        self.retentionAge = try values.duration(.retentionAge) ?? self.retentionAge
    }
}
