import Foundation
import Synchronization

/// The durable, ordered event stream of every campaign.
///
/// The store is the source of truth for order: `append` assigns the next gapless offset of
/// the campaign in the same transaction that stores the event, so any number of hubs (or
/// processes) sharing the store agree on one order. Implementations: ``InMemoryEventLog``,
/// ``SQLiteEventLog``, ``PostgresEventLog``; one test suite runs against all three.
public protocol EventLog: Sendable {
    /// Stores `draft` under the next offset, or returns the original for a repeated `cmid`.
    /// Throws ``EventLogError/cmidConflict(cmid:originalOffset:)`` for a reused `cmid` with
    /// a different payload.
    func append(_ draft: EventDraft, idempotencyWindow: Duration) async throws -> AppendOutcome

    /// Whether ``enqueueAppend(_:idempotencyWindow:completion:)`` keeps the order of the
    /// appends queued by one caller and completes them on the commit path.
    var queuesAppends: Bool { get }

    /// Queues `draft` for appending without waiting: `completion` receives what
    /// ``append(_:idempotencyWindow:)`` would return. When ``queuesAppends`` is true, it runs on
    /// the store's commit path, after the commit observer saw the event, and appends queued by
    /// one caller are stored and completed in the order they were queued; otherwise each
    /// append runs in a task of its own, in no particular order.
    func enqueueAppend(_ draft: EventDraft, idempotencyWindow: Duration, completion: @escaping @Sendable (Result<AppendOutcome, any Error>) -> Void)

    /// The record of `cmid` sent by `actor` in the campaign, when it was used within the
    /// window: lets a publisher refuse a reused key before doing expensive work for it.
    func idempotencyRecord(campaignID: String, actor: String, cmid: String, idempotencyWindow: Duration) async throws -> IdempotencyRecord?

    /// The campaign's epoch, top and first retained offset; creates the campaign (with a new
    /// epoch) if it has never been seen.
    func head(campaignID: String) async throws -> CampaignHead

    /// Up to `limit` events with offsets greater than `after`, in order.
    func events(campaignID: String, after: Int64, limit: Int) async throws -> [CampaignEvent]

    /// Up to `limit` events with offsets smaller than `before`, newest first.
    func events(campaignID: String, before: Int64, limit: Int) async throws -> [CampaignEvent]

    /// For each campaign in `positions`, up to `limit` events with offsets greater than its
    /// position, in order: the events of many campaigns in one read.
    func events(after positions: [String: Int64], limit: Int) async throws -> [String: [CampaignEvent]]

    /// Removes events beyond the retention (keeping at most `keepEvents` per campaign, none
    /// older than `maxAge`) and expired `cmid` records. Returns the number of events removed.
    func trim(keepEvents: Int, maxAge: Duration, idempotencyWindow: Duration) async throws -> Int

    /// Registers a function that receives the events of each commit as soon as they are
    /// durable, before `append` returns to its callers: the hub delivers from there without
    /// waiting for the publishing tasks to be scheduled. Returns false for a store that does not
    /// report commits; the hub then delivers when `append` returns.
    @discardableResult
    func setCommitObserver(_ observer: @escaping @Sendable ([CampaignEvent]) -> Void) -> Bool
}

extension EventLog {
    /// One read per campaign; a store that can read many campaigns at once overrides this.
    public func events(after positions: [String: Int64], limit: Int) async throws -> [String: [CampaignEvent]] {
        var events: [String: [CampaignEvent]] = [:]
        for (campaignID, after) in positions {
            let page = try await self.events(campaignID: campaignID, after: after, limit: limit)
            if !page.isEmpty { events[campaignID] = page }
        }
        return events
    }

    @discardableResult
    public func setCommitObserver(_ observer: @escaping @Sendable ([CampaignEvent]) -> Void) -> Bool { false }

    public var queuesAppends: Bool { false }

    public func enqueueAppend(_ draft: EventDraft, idempotencyWindow: Duration, completion: @escaping @Sendable (Result<AppendOutcome, any Error>) -> Void) {
        Task {
            do {
                completion(.success(try await append(draft, idempotencyWindow: idempotencyWindow)))
            } catch {
                completion(.failure(error))
            }
        }
    }
}

/// Holds a store's commit observer.
final class CommitObserverBox: Sendable {
    /// The closure in a class of its own: reading it under the lock copies one reference. A
    /// closure kept as the lock's optional value came back wrapped in a further reabstraction
    /// thunk at every read, and each commit walked the whole chain (29% of the server's CPU
    /// under load).
    private final class Observer: Sendable {
        let body: @Sendable ([CampaignEvent]) -> Void
        init(_ body: @escaping @Sendable ([CampaignEvent]) -> Void) { self.body = body }
    }

    private let observer = Mutex<Observer?>(nil)

    func set(_ observer: @escaping @Sendable ([CampaignEvent]) -> Void) {
        let holder = Observer(observer)
        self.observer.withLock { $0 = holder }
    }

    func notify(_ results: [Result<AppendOutcome, any Error>]) {
        let events = results.compactMap { result -> CampaignEvent? in
            if case .success(.stored(let event)) = result { return event }
            return nil
        }
        guard !events.isEmpty, let observer = observer.withLock({ $0 }) else { return }
        observer.body(events)
    }
}

enum EventIdentity {
    /// A new event id: `ev_` and 20 random base32 characters (100 bits).
    static func newEventID() -> String {
        "ev_" + randomToken(length: 20)
    }

    /// A new epoch: 12 random base32 characters.
    static func newEpoch() -> String {
        randomToken(length: 12)
    }

    private static let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789".utf8)

    /// `length` random characters of a 32-letter alphabet (5 bits each), from one 64-bit draw
    /// per 12 characters: the system generator is a system call, so it is asked rarely.
    static func randomToken(length: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        var bits: UInt64 = 0
        var available = 0
        while bytes.count < length {
            if available < 5 {
                bits = generator.next()
                available = 64
            }
            bytes.append(alphabet[Int(bits & 31)])
            bits >>= 5
            available -= 5
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
