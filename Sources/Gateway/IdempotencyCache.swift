import JSONValues
import Synchronization
import ServiceKit

/// Answers kept by `Idempotency-Key`, so a client that repeats a request (after a timeout, a
/// dropped connection) gets the first answer instead of a second generation, broadcast and
/// record. Keys are per caller and endpoint; only successes are kept, so a failed request can
/// be retried with the same key. Held in process memory for `lifetime`, at most `capacity`.
final class IdempotencyCache: Sendable {
    enum Lookup: Equatable {
        /// Not seen: run the request, then ``finish(_:response:)`` or ``abandon(_:)``.
        case proceed
        case replay(JSONValue)
        /// The same key is being answered right now.
        case inProgress
        /// The same key came with another body.
        case conflict
    }

    private struct Entry {
        var fingerprint: String
        var response: JSONValue?
        var expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[String: Entry]>([:])
    let lifetime: Duration
    let capacity: Int

    init(lifetime: Duration = .seconds(24 * 3600), capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    func begin(_ key: String, fingerprint: String, now: ContinuousClock.Instant = .now) -> Lookup {
        entries.withLock { entries in
            if let entry = entries[key], entry.expires > now {
                guard entry.fingerprint == fingerprint else { return .conflict }
                return entry.response.map(Lookup.replay) ?? .inProgress
            }
            if entries.count >= capacity {
                entries = entries.filter { $0.value.expires > now }
                // Still full of live answers: the oldest-expiring go first.
                if entries.count >= capacity {
                    for (key, _) in entries.sorted(by: { $0.value.expires < $1.value.expires }).prefix(entries.count - capacity + 1) {
                        entries[key] = nil
                    }
                }
            }
            entries[key] = Entry(fingerprint: fingerprint, response: nil, expires: now + lifetime)
            return .proceed
        }
    }

    func finish(_ key: String, response: JSONValue) {
        entries.withLock { $0[key]?.response = response }
    }

    func abandon(_ key: String) {
        entries.withLock { $0[key] = nil }
    }
}
