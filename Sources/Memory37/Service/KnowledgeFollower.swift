public import Foundation

/// An index kept beside the knowledge store and derived from its documents — the campaign
/// graph is one. The knowledge service asks it to check each document before anything is
/// written, and tells it which versions changed after every write and cleanup, so that it can
/// follow without the knowledge layer knowing what it derives.
public protocol KnowledgeFollower: Sendable {
    /// Why the document cannot be ingested (a relation without a target, a step cycle), or
    /// nil: the ingestion then fails for that document alone.
    func check(_ document: KnowledgeDocument) -> String?

    /// Brings the index up to date with the store for `versions` (nil: every version).
    /// Returns warnings for the ingestion's report (a relation to a document not ingested yet).
    /// A failure here must not undo the write: the follower catches up on its next call.
    func knowledgeChanged(in versions: Set<KnowledgeVersionRef>?) async -> [String]

    /// Deletes what expired in the index itself (its own lifetimes), after a cleanup.
    func cleanup(now: Date, dryRun: Bool) async -> Int
}
