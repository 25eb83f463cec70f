import Synchronization

/// Group commit for a store whose writes are asynchronous (PostgreSQL): appends that arrive
/// while a batch is being written go into the next transaction together.
///
/// There is no background task: the first caller to find no batch in progress leads, writing
/// batches until none are pending, while the others wait for their result. If the leader is
/// cancelled before its batch is written, leadership passes to a waiting caller, so nobody's
/// publish fails because another client disconnected.
final class AsyncAppendBatcher: Sendable {
    typealias Write = @Sendable ([EventDraft], Duration) async throws -> [Result<AppendOutcome, any Error>]

    enum Signal: Sendable {
        case finished(Result<AppendOutcome, any Error>)
        case lead
    }

    final class Entry: Sendable {
        let draft: EventDraft
        private let inbox = Mutex<(signals: [Signal], waiter: CheckedContinuation<Signal, Never>?)>(([], nil))

        init(draft: EventDraft) {
            self.draft = draft
        }

        func signal(_ signal: Signal) {
            inbox.withLock { inbox in
                if let waiter = inbox.waiter {
                    inbox.waiter = nil
                    waiter.resume(returning: signal)
                } else {
                    inbox.signals.append(signal)
                }
            }
        }

        func wait() async -> Signal {
            await withCheckedContinuation { continuation in
                let ready: Signal? = inbox.withLock { inbox in
                    if !inbox.signals.isEmpty { return inbox.signals.removeFirst() }
                    inbox.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }

    private struct State {
        var pending: [Entry] = []
        var leading = false
    }

    private let state = Mutex(State())
    private let write: Write
    /// Most appends written in one transaction.
    let maximumBatch: Int

    init(maximumBatch: Int = 256, write: @escaping Write) {
        self.maximumBatch = maximumBatch
        self.write = write
    }

    func append(_ draft: EventDraft, idempotencyWindow: Duration) async throws -> AppendOutcome {
        let entry = Entry(draft: draft)
        let leads = state.withLock { state in
            state.pending.append(entry)
            if state.leading { return false }
            state.leading = true
            return true
        }
        var signal: Signal = leads ? .lead : await entry.wait()
        while case .lead = signal {
            await drain(own: entry, idempotencyWindow: idempotencyWindow)
            signal = await entry.wait()
        }
        guard case .finished(let result) = signal else { preconditionFailure("leadership is handled by the loop above") }
        return try result.get()
    }

    private func drain(own: Entry, idempotencyWindow: Duration) async {
        while true {
            let batch: [Entry] = state.withLock { state in
                if state.pending.isEmpty {
                    state.leading = false
                    return []
                }
                let batch = Array(state.pending.prefix(maximumBatch))
                state.pending.removeFirst(batch.count)
                return batch
            }
            if batch.isEmpty { return }
            do {
                let results = try await write(batch.map(\.draft), idempotencyWindow)
                for (entry, result) in zip(batch, results) {
                    entry.signal(.finished(result))
                }
            } catch is CancellationError where Task.isCancelled {
                // Nothing was written. Hand the batch, and leadership, to someone still waiting.
                let others = batch.filter { $0 !== own }
                let successor: Entry? = state.withLock { state in
                    state.pending.insert(contentsOf: others, at: 0)
                    guard let successor = state.pending.first else {
                        state.leading = false
                        return nil
                    }
                    return successor
                }
                successor?.signal(.lead)
                if batch.contains(where: { $0 === own }) {
                    own.signal(.finished(.failure(CancellationError())))
                }
                return
            } catch {
                for entry in batch {
                    entry.signal(.finished(.failure(error)))
                }
            }
        }
    }
}
