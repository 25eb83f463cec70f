public import ServiceKit

/// Where a broadcast result goes: a campaign's event stream. The gateway defines what it
/// needs; the composition root connects it to Party Sync when both run in one process.
public protocol CampaignEventPublisher: Sendable {
    /// Publishes `payload` as an event of `type` and returns its offset. A repeated
    /// `idempotencyKey` publishes nothing new and returns the first offset.
    func publish(campaignID: String, type: String, actor: String, role: Role, idempotencyKey: String?, payload: JSONValue) async throws -> Int64
}
