import Dispatch
import Synchronization

/// Group commit for a store with one writer: appends that arrive while a batch is being
/// written are written together in the next transaction, so the commit rate is not bounded by
/// one transaction per event.
///
/// Batches are written on a serial dispatch queue that drains everything pending before it
/// idles: between two batches no task has to be scheduled, so a busy cooperative pool does
/// not delay commits, and a publisher that goes away cannot stall the others.
final class AppendBatcher: Sendable {
    /// Writes one batch synchronously; one result per draft, in order.
    typealias Write = @Sendable ([EventDraft], Duration) throws -> [Result<AppendOutcome, any Error>]

    /// Called on the writer's queue with an append's outcome, right after its commit.
    typealias Completion = @Sendable (Result<AppendOutcome, any Error>) -> Void

    private struct Pending {
        let draft: EventDraft
        let completion: Completion
    }

    private struct State {
        var pending: [Pending] = []
        var draining = false
    }

    private let state = Mutex(State())
    private let queue: DispatchQueue
    private let write: Write
    /// Most appends written in one transaction.
    let maximumBatch: Int

    init(label: String, maximumBatch: Int = 256, write: @escaping Write) {
        self.queue = DispatchQueue(label: label)
        self.maximumBatch = maximumBatch
        self.write = write
    }

    func append(_ draft: EventDraft, idempotencyWindow: Duration) async throws -> AppendOutcome {
        try await withCheckedThrowingContinuation { continuation in
            append(draft, idempotencyWindow: idempotencyWindow) { continuation.resume(with: $0) }
        }
    }

    /// Queues an append; `completion` runs on the writer's queue once its batch is committed
    /// (or failed), in the order the appends were queued.
    func append(_ draft: EventDraft, idempotencyWindow: Duration, completion: @escaping Completion) {
        let startDraining = state.withLock { state in
            state.pending.append(Pending(draft: draft, completion: completion))
            if state.draining { return false }
            state.draining = true
            return true
        }
        if startDraining {
            queue.async { self.drain(idempotencyWindow: idempotencyWindow) }
        }
    }

    private func drain(idempotencyWindow: Duration) {
        while true {
            let batch: [Pending] = state.withLock { state in
                guard !state.pending.isEmpty else {
                    state.draining = false
                    return []
                }
                let batch = Array(state.pending.prefix(maximumBatch))
                state.pending.removeFirst(batch.count)
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                let results = try write(batch.map(\.draft), idempotencyWindow)
                for (pending, result) in zip(batch, results) {
                    pending.completion(result)
                }
            } catch {
                for pending in batch {
                    pending.completion(.failure(error))
                }
            }
        }
    }
}
