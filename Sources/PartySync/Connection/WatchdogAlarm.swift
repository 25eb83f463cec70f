import NIOCore
import Synchronization

/// Wakes a connection's watchdog at its next deadline, or earlier when another task changed
/// something it must act on (a close frame sent, say).
///
/// The deadline is a timer on the connection's event loop: arming it is a heap insertion on a
/// loop that is awake anyway, where a sleeping task costs a kernel timer and a thread wake-up.
/// A thousand idle connections then cost a wake-up each per ping interval, not one per second.
final class WatchdogAlarm: Sendable {
    private struct State {
        var waiter: CheckedContinuation<Void, Never>?
        /// A nudge that came while the watchdog was awake: its next sleep returns at once.
        var nudged = false
        var timer: Scheduled<Void>?
        /// Tells a timer of an earlier sleep from the current one.
        var generation = 0
    }

    private let eventLoop: any EventLoop
    private let state = Mutex(State())

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// Returns at `deadline`, on ``nudge()``, or when the task is cancelled.
    func sleep(until deadline: ContinuousClock.Instant) async {
        let delay = TimeAmount(max(.zero, deadline - .now))
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let generation: Int? = state.withLock { state in
                    if state.nudged || Task.isCancelled {
                        state.nudged = false
                        return nil
                    }
                    state.waiter = continuation
                    state.generation += 1
                    return state.generation
                }
                guard let generation else {
                    continuation.resume()
                    return
                }
                let timer = eventLoop.scheduleTask(in: delay) { self.ring(generation) }
                state.withLock { state in
                    if state.generation == generation, state.waiter != nil { state.timer = timer } else { timer.cancel() }
                }
            }
        } onCancel: {
            self.nudge()
        }
    }

    /// Wakes the watchdog now, or at the start of its next sleep if it is awake.
    func nudge() {
        let (waiter, timer) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Scheduled<Void>?) in
            guard let waiter = state.waiter else {
                state.nudged = true
                return (nil, nil)
            }
            state.waiter = nil
            defer { state.timer = nil }
            return (waiter, state.timer)
        }
        timer?.cancel()
        waiter?.resume()
    }

    private func ring(_ generation: Int) {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard state.generation == generation, let waiter = state.waiter else { return nil }
            state.waiter = nil
            state.timer = nil
            return waiter
        }
        waiter?.resume()
    }
}
