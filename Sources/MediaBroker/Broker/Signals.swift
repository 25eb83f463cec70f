import Foundation
import Synchronization

/// Wake-ups by name: a worker waits for `work:tts`, a `Prefer: wait` request waits for its job
/// id; a wait ends when signalled, when its time is up, or when its task is cancelled.
final class Signals: Sendable {
    private let waiting = Mutex<[String: [UUID: CheckedContinuation<Void, Never>]]>([:])

    func signal(_ name: String) {
        let continuations = waiting.withLock { $0.removeValue(forKey: name) } ?? [:]
        for continuation in continuations.values { continuation.resume() }
    }

    func wait(for name: String, upTo timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                try? await Task.sleep(for: timeout)
            }
            group.addTask {
                let id = UUID()
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let cancelled = self.waiting.withLock { waiting -> Bool in
                            if Task.isCancelled { return true }
                            waiting[name, default: [:]][id] = continuation
                            return false
                        }
                        if cancelled { continuation.resume() }
                    }
                } onCancel: {
                    self.waiting.withLock { $0[name]?.removeValue(forKey: id) }?.resume()
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
}
