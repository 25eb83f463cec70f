import Gateway
import PartySync
import ServiceKit

/// Connects the gateway's broadcasts to Party Sync in the same process: a result becomes an
/// event of the campaign's stream, deduplicated by its Idempotency-Key like any publish.
struct PartySyncEventPublisher: CampaignEventPublisher {
    let hub: PartySyncHub

    func publish(campaignID: String, type: String, actor: String, role: Role, idempotencyKey: String?, payload: JSONValue) async throws -> Int64 {
        let draft = EventDraft(campaignID: campaignID, type: type, actor: actor, role: role, cmid: idempotencyKey, payload: payload.canonicalText)
        switch try await hub.publish(draft) {
        case .stored(let event): return event.offset
        case .duplicate(let offset, _, _): return offset
        }
    }
}
