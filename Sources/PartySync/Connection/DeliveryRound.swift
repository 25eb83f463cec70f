import NIOCore

/// The connections given frames during one delivery pass (a committed batch of events, a
/// presence change), grouped by event loop, so that each loop is woken once for the whole
/// pass rather than once per recipient.
///
/// Queues join a round only when they had no drain scheduled; ``dispatch()`` must follow
/// once the frames are queued (outside any lock), or those queues would wait for the next
/// frame to be written.
struct DeliveryRound: ~Copyable {
    private var loops: [(loop: any EventLoop, queues: [OutboundQueue])] = []
    private let metrics: PartySyncMetrics

    init(metrics: PartySyncMetrics) {
        self.metrics = metrics
    }

    mutating func add(_ queue: OutboundQueue) {
        let loop = queue.sink.eventLoop
        // A handful of loops (one per core): a linear search beats hashing.
        if let index = loops.firstIndex(where: { $0.loop === loop }) {
            loops[index].queues.append(queue)
        } else {
            loops.append((loop, [queue]))
        }
    }

    /// Wakes each loop once to drain its queues: each writes what it has and flushes once.
    consuming func dispatch() {
        guard !loops.isEmpty else { return }
        metrics.recordWriterWakeups(loops.count)
        for (loop, queues) in loops {
            let metrics = self.metrics
            loop.execute {
                var flushes = 0
                for queue in queues where queue.drain() {
                    flushes += 1
                }
                metrics.recordFlushes(flushes)
            }
        }
    }
}
