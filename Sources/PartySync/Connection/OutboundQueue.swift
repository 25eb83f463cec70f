import Synchronization

/// Writes text frames to a connection without waiting: the write completes later and calls
/// `completion` (from any thread) when the frame has left, or failed to.
protocol FrameWriter: Sendable {
    func write(_ text: String, completion: @escaping @Sendable () -> Void)
}

/// The frames on their way to one connection, bounded in bytes.
///
/// Producers (the campaign channel, the connection's own reader) never wait: frames go
/// straight to the connection's writer, in the order they are queued, and the bytes not yet
/// written are counted. A connection that falls behind by more than the limit is marked slow
/// and receives nothing more, so no one else is slowed down; its close (4002) follows what it
/// already has. Event frames pass an offset filter that makes delivery exactly once and in
/// order across the replay/live seam: while a resume replays history, live frames are held
/// aside, and afterwards only events beyond the replayed offset are released.
final class OutboundQueue: Sendable {
    /// What the connection's closer waits for.
    enum Item: Sendable {
        case close(PartySyncCloseCode, reason: String)
    }

    private struct State {
        var closeRequest: Item?
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
    private let writer: any FrameWriter
    private let state = Mutex(State())
    /// Bytes handed to the writer and not yet written. Completions only touch this counter,
    /// never the lock, so a write that completes at once cannot deadlock.
    private let outstanding = Atomic<Int>(0)

    init(limitBytes: Int, writer: any FrameWriter) {
        self.limitBytes = limitBytes
        self.writer = writer
    }

    /// Queues a control frame (welcome, ack, presence, error, ping). Returns false when the
    /// connection is slow or closed.
    @discardableResult
    func enqueue(_ frame: String) -> Bool {
        state.withLock { push(frame, offset: nil, state: &$0) }
    }

    /// Queues a broadcast frame (a presence diff); held back like live events until the
    /// connection has its `welcome`, so that `welcome` is always the first frame.
    func enqueueBroadcast(_ frame: String) {
        state.withLock { state in
            if state.heldBack != nil {
                state.heldBack!.append((nil, frame))
                return
            }
            _ = push(frame, offset: nil, state: &state)
        }
    }

    /// Queues an event frame unless it was already queued (offset at or below the last one).
    /// During a replay, live events are held back instead.
    func enqueueLive(offset: Int64, frame: String) {
        state.withLock { state in
            if state.heldBack != nil {
                guard !state.finished else { return }
                state.heldBack!.append((offset, frame))
                state.heldBackBytes += frame.utf8.count
                if state.heldBackBytes > limitBytes {
                    // Live traffic outran the replay: start over with a fresh resume.
                    state.heldBack = []
                    markSlow(&state)
                }
                return
            }
            _ = push(frame, offset: offset, state: &state)
        }
    }

    /// Queues a replayed event frame, first waiting until at most half the limit is unwritten:
    /// a long replay is paced by the client's reading instead of overflowing.
    /// Returns false when the connection ended meanwhile.
    func enqueueReplayed(offset: Int64, frame: String) async -> Bool {
        while true {
            if state.withLock({ $0.finished }) { return false }
            if outstanding.load(ordering: .relaxed) <= limitBytes / 2 { break }
            try? await Task.sleep(for: .milliseconds(2))
            if Task.isCancelled { return false }
        }
        return state.withLock { push(frame, offset: offset, state: &$0) }
    }

    /// Ends the replay: frames that arrived meanwhile are queued in arrival order (events in
    /// offset order, as the channel delivers them), events up to `through` dropped.
    func finishReplay(through: Int64) {
        state.withLock { state in
            let held = state.heldBack ?? []
            state.heldBack = nil
            state.heldBackBytes = 0
            state.lastOffset = max(state.lastOffset, through)
            for (offset, frame) in held {
                _ = push(frame, offset: offset, state: &state)
            }
        }
    }

    /// Asks for the connection to be closed after the frames already queued.
    func close(_ code: PartySyncCloseCode, reason: String) {
        state.withLock { state in
            guard !state.finished else { return }
            state.finished = true
            request(.close(code, reason: reason), state: &state)
        }
    }

    /// Whether the connection overflowed.
    var isSlow: Bool { state.withLock { $0.slow } }

    /// Bytes queued and not yet written.
    var queuedBytes: Int { outstanding.load(ordering: .relaxed) }

    /// The close request, once there is one; nil when the connection ended without one.
    func next() async -> Item? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Item?, Never>) in
            let ready: Item?? = state.withLock { state in
                if let request = state.closeRequest {
                    state.closeRequest = nil
                    return .some(request)
                }
                if state.finished { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if case .some(let item) = ready {
                continuation.resume(returning: item)
            }
        }
    }

    /// Ends the queue: nothing more is written, a waiting closer is released.
    func finish() {
        state.withLock { state in
            state.finished = true
            if state.closeRequest == nil {
                state.waiter?.resume(returning: nil)
                state.waiter = nil
            }
        }
    }

    // MARK: - Under the lock

    private func push(_ frame: String, offset: Int64?, state: inout State) -> Bool {
        guard !state.finished, !state.slow else { return false }
        if let offset {
            guard offset > state.lastOffset else { return true }
            state.lastOffset = offset
        }
        let bytes = frame.utf8.count
        if outstanding.load(ordering: .relaxed) + bytes > limitBytes {
            markSlow(&state)
            return false
        }
        outstanding.add(bytes, ordering: .relaxed)
        let counter = OutstandingBytes(queue: self, bytes: bytes)
        writer.write(frame) { counter.release() }
        return true
    }

    private func markSlow(_ state: inout State) {
        // Too far behind: stop feeding it; the close follows what it already has.
        state.slow = true
        state.finished = true
        request(.close(.slowConsumer, reason: "slow consumer: reconnect and resume"), state: &state)
    }

    private func request(_ item: Item, state: inout State) {
        if let waiter = state.waiter {
            state.waiter = nil
            waiter.resume(returning: item)
        } else {
            state.closeRequest = item
        }
    }

    fileprivate func released(_ bytes: Int) {
        outstanding.subtract(bytes, ordering: .relaxed)
    }
}

/// Returns a frame's bytes to the budget when its write completes.
private struct OutstandingBytes: Sendable {
    let queue: OutboundQueue
    let bytes: Int

    func release() { queue.released(bytes) }
}
