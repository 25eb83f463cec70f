import JSONValues
import Foundation
import Logging
import MediaBroker
import PartySync
import ServiceKit

/// Delivers media job changes to the job's campaign as `media.job_updated` events. A failure
/// to publish is logged, never passed back to the job.
struct PartySyncMediaObserver: MediaJobObserver {
    let hub: PartySyncHub
    let logger: Logger

    func jobUpdated(_ job: MediaJob) async {
        guard let campaign = job.campaignID else { return }
        var payload: [String: JSONValue] = ["job_id": .string(job.id), "kind": .string(job.kind.rawValue), "status": .string(job.status.rawValue)]
        if let artifact = job.artifact {
            payload["artifact"] = .object(["sha256": .string(artifact.sha256), "content_type": .string(artifact.contentType), "url": .string("/v1/media/artifacts/\(artifact.sha256)")])
        }
        let draft = EventDraft(
            campaignID: campaign, type: "media.job_updated", actor: "media-broker", role: .service,
            // One event per job state: a repeat of the same change is deduplicated.
            cmid: "media:\(job.id):\(job.status.rawValue):\(job.attempts)", payload: JSONValue.object(payload).canonicalText
        )
        do {
            _ = try await hub.publish(draft)
        } catch {
            logger.warning("media job update not delivered to the campaign", metadata: ["job": "\(job.id)", "error": "\(error)"])
        }
    }
}
