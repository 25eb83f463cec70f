import NIOCore
import Synchronization

/// Counts the server's open connections against its limit.
final class OpenConnections: Sendable {
    let limit: Int
    private let count = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Counts `channel` until it closes; false when it is beyond the limit.
    func open(_ channel: any Channel) -> Bool {
        let open = count.add(1, ordering: .relaxed).newValue
        channel.closeFuture.whenComplete { [self] _ in count.subtract(1, ordering: .relaxed) }
        return open <= limit
    }
}
