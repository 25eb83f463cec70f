import Foundation
import Logging
import NIOCore
import Observability
import RPGBotApp
import ServiceLifecycle
import Synchronization

/// A real `rpgbot` server started in the benchmark's own process on a free port, for
/// benchmarks that measure through HTTP without a second process to manage.
enum InProcessServer {
    /// Prepares and starts the server, runs `body` with its port once it listens, then shuts
    /// it down gracefully.
    static func run(_ configuration: RPGBotConfiguration, _ body: (_ port: Int, _ server: RPGBotServer) async throws -> Void) async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let telemetry = try Observability.bootstrap(service: "rpgbot-bench", settings: configuration.observability, installGlobally: false)
        let server = try await RPGBotServer.prepare(configuration: configuration, telemetry: telemetry)
        let port = Mutex<Int?>(nil)
        let application = server.makeApplication(onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } })
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var bound: Int?
            while bound == nil {
                bound = port.withLock { $0 }
                if bound == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            do {
                try await body(bound!, server)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
        }
    }
}
