/// The best `limit` entries seen so far: a binary heap whose root is the worst entry kept, so
/// an entry better than it costs O(log limit) to take in and a worse one a single comparison.
/// (A sorted array made each taken entry cost O(limit), which a 200-row re-rank depth felt.)
///
/// The ranking is passed to each call rather than stored, so that a caller can break ties by
/// something the heap does not hold (a chunk id) without a closure kept per entry.
struct BoundedHeap<Element> {
    let limit: Int
    private var heap: [Element] = []

    init(limit: Int) {
        self.limit = limit
        heap.reserveCapacity(max(0, limit))
    }

    var count: Int { heap.count }

    /// The entries kept, in no particular order.
    var unordered: [Element] { heap }

    /// Takes `entry` in if it ranks above the worst entry kept (or there is room).
    /// `worse(a, b)` says whether `a` ranks below `b`.
    @inline(__always)
    mutating func offer(_ entry: Element, worse: (Element, Element) -> Bool) {
        guard limit > 0 else { return }
        if heap.count < limit {
            heap.append(entry)
            var child = heap.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard worse(heap[child], heap[parent]) else { break }
                heap.swapAt(child, parent)
                child = parent
            }
            return
        }
        guard worse(heap[0], entry) else { return }
        heap[0] = entry
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { break }
            var smallest = left
            if left + 1 < heap.count, worse(heap[left + 1], heap[left]) { smallest = left + 1 }
            guard worse(heap[smallest], heap[parent]) else { break }
            heap.swapAt(smallest, parent)
            parent = smallest
        }
    }

    /// The entries kept, best first.
    func sorted(worse: (Element, Element) -> Bool) -> [Element] {
        heap.sorted { worse($1, $0) }
    }
}

/// The best `limit` rows of one index by score; equal scores rank in chunk id order, so
/// results do not depend on insertion order.
struct TopScores {
    private var heap: BoundedHeap<(score: Float, row: Int)>

    init(limit: Int) {
        heap = BoundedHeap(limit: limit)
    }

    @inline(__always)
    mutating func offer(_ score: Float, row: Int, ids: [String]) {
        heap.offer((score, row)) { Self.worse($0, $1, ids) }
    }

    /// The rows kept, best first.
    func sorted(_ ids: [String]) -> [(score: Float, row: Int)] {
        heap.sorted { Self.worse($0, $1, ids) }
    }

    @inline(__always)
    private static func worse(_ a: (score: Float, row: Int), _ b: (score: Float, row: Int), _ ids: [String]) -> Bool {
        a.score < b.score || (a.score == b.score && ids[a.row] > ids[b.row])
    }
}
