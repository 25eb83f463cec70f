import DequeModule
import Synchronization

/// The frames waiting to be written to one connection, bounded in bytes.
///
/// Producers (the campaign channel, the connection's own reader) never wait: a connection
/// that falls behind by more than the limit is marked slow and receives nothing more, so no
/// one else is slowed down. Event frames pass an offset filter that makes delivery exactly
/// once and in order across the replay/live seam: while a resume replays history, live events
/// are held aside, and afterwards only those beyond the replayed offset are released.
final class OutboundQueue: Sendable {
    enum Item: Sendable {
        case frame(String)
        case close(PartySyncCloseCode, reason: String)
    }

    private struct State {
        var items: Deque<Item> = []
        var bytes = 0
        var waiter: CheckedContinuation<Item?, Never>?
        var finished = false
        var slow = false
        /// Live frames (events with their offset, presence diffs without) held until the
        /// connection's `welcome` and replay are queued, and their size.
        var heldBack: [(offset: Int64?, frame: String)]? = []
        var heldBackBytes = 0
        /// The offset of the last event frame queued.
        var lastOffset: Int64 = -1
    }

    let limitBytes: Int
    private let state = Mutex(State())

    init(limitBytes: Int) {
        self.limitBytes = limitBytes
    }

    /// Queues a control frame (welcome, ack, presence, error, ping). Returns false when the
    /// connection is slow or closed.
    @discardableResult
    func enqueue(_ frame: String) -> Bool {
        push(.frame(frame), bytes: frame.utf8.count)
    }

    /// Queues a broadcast frame (a presence diff); held back like live events until the
    /// connection has its `welcome`, so that `welcome` is always the first frame.
    func enqueueBroadcast(_ frame: String) {
        let release: Bool = state.withLock { state in
            guard state.heldBack != nil else { return true }
            state.heldBack!.append((nil, frame))
            return false
        }
        if release { enqueue(frame) }
    }

    /// Queues an event frame unless it was already queued (offset at or below the last one).
    /// During a replay, live events are held back instead.
    func enqueueLive(offset: Int64, frame: String) {
        let release: Bool = state.withLock { state in
            if state.heldBack != nil {
                guard !state.finished else { return false }
                state.heldBack!.append((offset, frame))
                state.heldBackBytes += frame.utf8.count
                if state.heldBackBytes > limitBytes {
                    // Live traffic outran the replay: start over with a fresh resume.
                    state.heldBack = []
                    state.slow = true
                    state.finished = true
                    state.items.append(.close(.slowConsumer, reason: "slow consumer: reconnect and resume"))
                }
                return false
            }
            return offset > state.lastOffset
        }
        guard release else { return }
        push(.frame(frame), bytes: frame.utf8.count, offset: offset)
    }

    /// Queues a replayed event frame, first waiting until the queue is at most half full:
    /// a long replay is paced by the client's reading instead of overflowing the queue.
    /// Returns false when the connection ended meanwhile.
    func enqueueReplayed(offset: Int64, frame: String) async -> Bool {
        while true {
            let (bytes, finished) = state.withLock { ($0.bytes, $0.finished) }
            if finished { return false }
            if bytes <= limitBytes / 2 { break }
            try? await Task.sleep(for: .milliseconds(2))
            if Task.isCancelled { return false }
        }
        return push(.frame(frame), bytes: frame.utf8.count, offset: offset)
    }

    /// Ends the replay: frames that arrived meanwhile are queued in arrival order (events in
    /// offset order, as the channel delivers them), events up to `through` dropped.
    func finishReplay(through: Int64) {
        let held: [(offset: Int64?, frame: String)] = state.withLock { state in
            defer {
                state.heldBack = nil
                state.heldBackBytes = 0
            }
            state.lastOffset = max(state.lastOffset, through)
            return state.heldBack ?? []
        }
        for (offset, frame) in held {
            push(.frame(frame), bytes: frame.utf8.count, offset: offset)
        }
    }

    /// Queues a close after the frames already queued; nothing is accepted afterwards.
    func close(_ code: PartySyncCloseCode, reason: String) {
        state.withLock { state in
            guard !state.finished else { return }
            state.finished = true
            if let waiter = state.waiter {
                state.waiter = nil
                waiter.resume(returning: .close(code, reason: reason))
            } else {
                state.items.append(.close(code, reason: reason))
            }
        }
    }

    /// Whether the connection overflowed its queue.
    var isSlow: Bool { state.withLock { $0.slow } }

    var queuedBytes: Int { state.withLock { $0.bytes } }

    /// The next item for the writer, waiting if there is none; nil once closed and drained.
    func next() async -> Item? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Item?, Never>) in
            let item: Item?? = state.withLock { state in
                if let item = state.items.popFirst() {
                    if case .frame(let frame) = item { state.bytes -= frame.utf8.count }
                    return .some(item)
                }
                if state.finished { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if case .some(let item) = item {
                continuation.resume(returning: item)
            }
        }
    }

    /// Wakes a waiting writer with nil: used when the connection ends.
    func finish() {
        state.withLock { state in
            state.finished = true
            state.waiter?.resume(returning: nil)
            state.waiter = nil
        }
    }

    private func push(_ item: Item, bytes: Int, offset: Int64? = nil) -> Bool {
        state.withLock { state in
            guard !state.finished, !state.slow else { return false }
            if let offset {
                guard offset > state.lastOffset else { return true }
                state.lastOffset = offset
            }
            if let waiter = state.waiter {
                state.waiter = nil
                waiter.resume(returning: item)
                return true
            }
            if state.bytes + bytes > limitBytes {
                // Too far behind: stop feeding it and close once what is queued has been written.
                state.slow = true
                state.finished = true
                state.items.append(.close(.slowConsumer, reason: "slow consumer: reconnect and resume"))
                return false
            }
            state.items.append(item)
            state.bytes += bytes
            return true
        }
    }
}
