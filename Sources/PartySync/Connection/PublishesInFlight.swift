import Synchronization

/// The publishes of one connection handed to the store and not yet answered.
///
/// A connection's reader does not wait for each commit: it queues the publish and reads on,
/// and the answer is queued from the commit path. It waits only when a frame must see every
/// earlier publish answered (a `history` read must include them), or when too many are
/// outstanding, so a stalled store cannot make a connection queue without bound.
final class PublishesInFlight: Sendable {
    private struct Waiter {
        let atMost: Int
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var count = 0
        var waiters: [Waiter] = []
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.count } }

    func started() {
        state.withLock { $0.count += 1 }
    }

    func finished() {
        let ready: [Waiter] = state.withLock { state in
            state.count -= 1
            guard !state.waiters.isEmpty else { return [] }
            let count = state.count
            let ready = state.waiters.filter { $0.atMost >= count }
            state.waiters.removeAll { $0.atMost >= count }
            return ready
        }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// Returns once at most `atMost` publishes are outstanding.
    func wait(untilAtMost atMost: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                if state.count <= atMost { return true }
                state.waiters.append(Waiter(atMost: atMost, continuation: continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
