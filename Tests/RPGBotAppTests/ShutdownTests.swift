import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import RPGBotApp
import ServiceKit
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

@Suite struct ShutdownTests {
    /// A graceful shutdown lets a request that is already running finish with its response,
    /// then closes the database.
    @Test func gracefulShutdownDrainsInFlightRequests() async throws {
        try await withTemporaryDirectory { directory in
            let server = try await makeServer(directory)
            let port = Mutex<Int?>(nil)
            let started = Mutex<Bool>(false)
            let application = server.makeApplication(
                additionalRoutes: { routes in
                    routes.get("slow") { _, _ -> String in
                        started.withLock { $0 = true }
                        try? await Task.sleep(for: .milliseconds(800))
                        return "done"
                    }
                },
                onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }
            )
            let group = ServiceGroup(configuration: .init(services: [application], logger: testLogger))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var bound: Int?
                for _ in 0..<1000 where bound == nil {
                    bound = port.withLock { $0 }
                    if bound == nil { try await Task.sleep(for: .milliseconds(10)) }
                }
                let listening = try #require(bound)
                let response = Task {
                    let reply = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(listening)/slow"), timeout: .seconds(10))
                    return (reply.status.code, String(buffer: try await reply.body.collect(upTo: 1024)))
                }
                while !started.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
                await group.triggerGracefulShutdown()
                let (status, body) = try await response.value
                #expect(status == 200)
                #expect(body == "done")
                try await tasks.waitForAll()
            }
            // The server is gone: a new connection is refused.
            let listening = try #require(port.withLock { $0 })
            await #expect(throws: (any Error).self) {
                _ = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(listening)/health"), timeout: .seconds(2))
            }
        }
    }
}
