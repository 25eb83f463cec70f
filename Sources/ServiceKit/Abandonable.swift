import Synchronization

/// Runs `operation` in a task of its own and returns its result — or throws
/// `CancellationError` as soon as the caller is cancelled, without waiting for it.
///
/// A store call whose database went away may wait for a connection that never comes and
/// ignore cancellation; the loops that make such calls (the media broker's workers) must
/// still stop at shutdown. The abandoned call is cancelled too and ends whenever its client
/// gives up.
public func abandoningOnCancel<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let gate = ResumeOnce<T>()
    let work = Task {
        do {
            gate.finish(.success(try await operation()))
        } catch {
            gate.finish(.failure(error))
        }
    }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { gate.install($0) }
    } onCancel: {
        gate.finish(.failure(CancellationError()))
        work.cancel()
    }
}

/// Resumes one continuation exactly once with the first result offered, whichever comes
/// first: the result or the continuation.
final class ResumeOnce<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
        var resumed = false
    }
    private let state = Mutex(State())

    func install(_ continuation: CheckedContinuation<T, any Error>) {
        let ready = state.withLock { state -> Result<T, any Error>? in
            if let result = state.result {
                state.resumed = true
                return result
            }
            state.continuation = continuation
            return nil
        }
        if let ready { continuation.resume(with: ready) }
    }

    func finish(_ result: Result<T, any Error>) {
        let waiting = state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard !state.resumed, state.result == nil else { return nil }
            guard let continuation = state.continuation else {
                state.result = result
                return nil
            }
            state.resumed = true
            state.continuation = nil
            return continuation
        }
        waiting?.resume(with: result)
    }
}

/// `operation`'s result, or nil when it takes longer than `timeout` (it is then abandoned,
/// see ``abandoningOnCancel(_:)``): a store call stuck on an unreachable database must not
/// stop the loop that makes it from trying again, or from ending, nor keep a reader waiting
/// when a fallback could answer.
public func withDeadline<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await abandoningOnCancel(operation) }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}
