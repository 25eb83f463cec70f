/// Told about every state change of a job that belongs to a campaign. The broker defines it;
/// the composition root connects it to Party Sync (`media.job_updated` events), so nothing is
/// sent — and nothing fails — when Party Sync does not run in the process.
public protocol MediaJobObserver: Sendable {
    func jobUpdated(_ job: MediaJob) async
}
