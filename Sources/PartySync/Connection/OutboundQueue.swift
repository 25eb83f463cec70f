import NIOCore
import Synchronization

/// The frames on their way to one connection, bounded in bytes.
///
/// Producers (the campaign channel, the connection's own reader) never wait: a frame is
/// appended under the queue's lock, and the first frame of a burst schedules one drain on the
/// connection's event loop, which writes everything queued by then and flushes once. A
/// fan-out therefore costs one event-loop wake-up per loop and one flush per connection,
/// however many frames it carries (see ``DeliveryRound``), and no promise or closure per frame.
///
/// A connection that falls behind by more than the limit (frames queued plus bytes its channel
/// still buffers) is marked slow and receives nothing more, so no one else is slowed down; its
/// close (4002) follows what it already has. Event frames pass an offset filter that makes
/// delivery exactly once and in order across the replay/live seam: while a resume replays
/// history, live frames are held aside, and afterwards only events beyond the replayed offset
/// are released.
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
        var heldBack: [(offset: Int64?, frame: ByteBuffer)]? = []
        var heldBackBytes = 0
        /// The offset of the last event frame queued.
        var lastOffset: Int64 = -1
        /// Frames not yet handed to the channel, and their size.
        var pending: [ByteBuffer] = []
        var pendingBytes = 0
        /// Whether a drain is scheduled (or about to be, by a ``DeliveryRound``).
        var drainScheduled = false
    }

    let limitBytes: Int
    let sink: any FrameSink
    private let state = Mutex(State())
    /// Bytes the channel buffered at its last drain (written, not yet taken by the socket).
    private let channelBuffered = Atomic<Int>(0)
    let metrics: PartySyncMetrics

    init(limitBytes: Int, sink: any FrameSink, metrics: PartySyncMetrics) {
        self.limitBytes = limitBytes
        self.sink = sink
        self.metrics = metrics
    }

    /// Queues a control frame (welcome, ack, presence, error, ping) and schedules its write.
    /// Returns false when the connection is slow or closed.
    @discardableResult
    func enqueue(_ frame: String) -> Bool {
        let (accepted, schedule) = state.withLock { push(WireFrame.text(frame), offset: nil, state: &$0) }
        if schedule { scheduleDrain() }
        return accepted
    }

    /// Queues a broadcast frame (a presence diff); held back like live events until the
    /// connection has its `welcome`, so that `welcome` is always the first frame.
    func enqueueBroadcast(_ frame: ByteBuffer, round: inout DeliveryRound) {
        let schedule = state.withLock { state in
            if state.heldBack != nil {
                state.heldBack!.append((nil, frame))
                return false
            }
            return push(frame, offset: nil, state: &state).schedule
        }
        if schedule { round.add(self) }
    }

    /// Queues an event frame unless it was already queued (offset at or below the last one).
    /// During a replay, live events are held back instead.
    func enqueueLive(offset: Int64, frame: ByteBuffer, round: inout DeliveryRound) {
        let schedule = state.withLock { state in
            if state.heldBack != nil {
                guard !state.finished else { return false }
                state.heldBack!.append((offset, frame))
                state.heldBackBytes += frame.readableBytes
                if state.heldBackBytes > limitBytes {
                    // Live traffic outran the replay: start over with a fresh resume.
                    state.heldBack = []
                    markSlow(&state)
                }
                return false
            }
            return push(frame, offset: offset, state: &state).schedule
        }
        if schedule { round.add(self) }
    }

    /// Queues a replayed event frame, first waiting until at most half the limit is unwritten:
    /// a long replay is paced by the client's reading instead of overflowing.
    /// Returns false when the connection ended meanwhile.
    func enqueueReplayed(offset: Int64, frame: String) async -> Bool {
        while true {
            if state.withLock({ $0.finished }) { return false }
            if queuedBytes <= limitBytes / 2 { break }
            // The figure is the channel's as of its last drain: ask again before waiting.
            let sink = self.sink
            if let buffered = try? await sink.eventLoop.submit({ sink.bufferedBytes() }).get() {
                channelBuffered.store(buffered, ordering: .relaxed)
                if queuedBytes <= limitBytes / 2 { break }
            }
            try? await Task.sleep(for: .milliseconds(2))
            if Task.isCancelled { return false }
        }
        let (accepted, schedule) = state.withLock { push(WireFrame.text(frame), offset: offset, state: &$0) }
        if schedule { scheduleDrain() }
        return accepted
    }

    /// Ends the replay: frames that arrived meanwhile are queued in arrival order (events in
    /// offset order, as the channel delivers them), events up to `through` dropped.
    func finishReplay(through: Int64) {
        let schedule = state.withLock { state in
            let held = state.heldBack ?? []
            state.heldBack = nil
            state.heldBackBytes = 0
            state.lastOffset = max(state.lastOffset, through)
            var schedule = false
            for (offset, frame) in held {
                schedule = push(frame, offset: offset, state: &state).schedule || schedule
            }
            return schedule
        }
        if schedule { scheduleDrain() }
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

    /// Bytes queued or buffered by the channel and not yet taken by the socket.
    var queuedBytes: Int {
        state.withLock { $0.pendingBytes } + channelBuffered.load(ordering: .relaxed)
    }

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

    /// Ends the queue: nothing more is accepted (what is queued is still written), a waiting
    /// closer is released.
    func finish() {
        state.withLock { state in
            state.finished = true
            if state.closeRequest == nil {
                state.waiter?.resume(returning: nil)
                state.waiter = nil
            }
        }
    }

    /// Writes what is queued, on the connection's event loop, before a close frame follows.
    func drainBeforeClose() async {
        let sink = self.sink
        _ = try? await sink.eventLoop.submit { self.drain() }.get()
    }

    // MARK: - On the event loop

    /// Writes every queued frame and flushes once. Returns whether anything was written.
    @discardableResult
    func drain() -> Bool {
        sink.eventLoop.assertInEventLoop()
        let frames = state.withLock { state -> [ByteBuffer] in
            state.drainScheduled = false
            let frames = state.pending
            state.pending = []
            state.pendingBytes = 0
            return frames
        }
        guard !frames.isEmpty else { return false }
        channelBuffered.store(sink.write(frames), ordering: .relaxed)
        return true
    }

    private func scheduleDrain() {
        metrics.recordWriterWakeups(1)
        sink.eventLoop.execute {
            if self.drain() { self.metrics.recordFlushes(1) }
        }
    }

    // MARK: - Under the lock

    /// Appends a frame; `schedule` says whether the caller must arrange a drain.
    private func push(_ frame: ByteBuffer, offset: Int64?, state: inout State) -> (accepted: Bool, schedule: Bool) {
        guard !state.finished, !state.slow else { return (false, false) }
        if let offset {
            guard offset > state.lastOffset else { return (true, false) }
            state.lastOffset = offset
        }
        let bytes = frame.readableBytes
        if state.pendingBytes + channelBuffered.load(ordering: .relaxed) + bytes > limitBytes {
            markSlow(&state)
            return (false, false)
        }
        state.pending.append(frame)
        state.pendingBytes += bytes
        guard !state.drainScheduled else { return (true, false) }
        state.drainScheduled = true
        return (true, true)
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
}
