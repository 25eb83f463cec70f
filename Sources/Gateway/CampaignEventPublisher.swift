public import JSONValues
public import ServiceKit

/// Where a broadcast result goes: a campaign's event stream. The gateway defines what it
/// needs; the composition root connects it to Party Sync when both run in one process.
public protocol CampaignEventPublisher: Sendable {
    /// Publishes `payload` as an event of `type` and returns its offset. A repeated
    /// `idempotencyKey` with the same `requestFingerprint` publishes nothing new and returns
    /// the first offset; with another fingerprint (the key was used for a different request or
    /// event) it throws a 409 `idempotency_key_reused` ``APIError``.
    func publish(campaignID: String, type: String, actor: String, role: Role, idempotencyKey: String?, requestFingerprint: String?, payload: JSONValue) async throws -> Int64

    /// Whether `idempotencyKey` already names something else this actor published in the
    /// campaign: checked before generating, so a reused key costs no model call and writes nothing.
    func isIdempotencyKeyReused(campaignID: String, actor: String, idempotencyKey: String, requestFingerprint: String) async throws -> Bool
}
