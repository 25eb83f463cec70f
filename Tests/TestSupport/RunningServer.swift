public import Logging
public import NIOCore
public import ServiceLifecycle
import Synchronization

/// Runs a server service (made with the given `onServerRunning` callback) until its port is
/// bound, then `body` with the port and a way to start its graceful shutdown; shuts it down
/// after `body`, whether it returned or threw.
public func withRunningServer<T: Sendable>(
    logger: Logger,
    _ makeServer: (@escaping @Sendable (any Channel) async -> Void) -> any Service,
    _ body: (_ port: Int, _ shutdown: @escaping @Sendable () async -> Void) async throws -> T
) async throws -> T {
    let port = Mutex<Int?>(nil)
    let server = makeServer { channel in port.withLock { $0 = channel.localAddress?.port } }
    let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask {
            try await group.run()
            return nil
        }
        var bound: Int?
        for _ in 0..<1000 where bound == nil {
            bound = port.withLock { $0 }
            if bound == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        guard let bound else { throw TestSetupError("the server did not start") }
        do {
            let result = try await body(bound, { await group.triggerGracefulShutdown() })
            await group.triggerGracefulShutdown()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
    }
}
