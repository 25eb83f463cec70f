import JSONValues
import Gateway
import HTTPTypes
import PartySync
import ServiceKit

/// Connects the gateway's broadcasts to Party Sync in the same process: a result becomes an
/// event of the campaign's stream, deduplicated by its Idempotency-Key like any publish. The
/// key's fingerprint is the request's, not the generated payload's, so the same request sent
/// again to another node (whose model answers differently) is still the same event.
struct PartySyncEventPublisher: CampaignEventPublisher {
    let hub: PartySyncHub

    func publish(campaignID: String, type: String, actor: String, role: Role, idempotencyKey: String?, requestFingerprint: String?, payload: JSONValue) async throws -> Int64 {
        let draft = EventDraft(
            campaignID: campaignID, type: type, actor: actor, role: role, cmid: idempotencyKey,
            payload: payload.canonicalText, requestFingerprint: requestFingerprint
        )
        do {
            return try await hub.publish(draft).offset
        } catch let error as EventLogError {
            throw Self.reused(error.description)
        }
    }

    func isIdempotencyKeyReused(campaignID: String, actor: String, idempotencyKey: String, requestFingerprint: String) async throws -> Bool {
        guard let record = try await hub.store.idempotencyRecord(campaignID: campaignID, actor: actor, cmid: idempotencyKey, idempotencyWindow: hub.settings.idempotencyWindow) else {
            return false
        }
        return record.fingerprint != EventDraft.fingerprint(ofRequest: requestFingerprint)
    }

    static func reused(_ reason: String) -> APIError {
        APIError(.conflict, code: "idempotency_key_reused", detail: "\(reason); use a new Idempotency-Key for a different request.")
    }
}
