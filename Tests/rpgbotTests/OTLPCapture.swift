import Foundation
import Hummingbird
import NIOCore
import Synchronization
import TestSupport

/// A minimal OTLP/HTTP endpoint for tests: accepts `POST /v1/traces`, answers with an empty
/// (valid) protobuf `ExportTraceServiceResponse`, and keeps the raw request bodies.
final class OTLPCapture: Sendable {
    private let bodies = Mutex<[Data]>([])
    private let requestPaths = Mutex<[String]>([])

    var paths: [String] { requestPaths.withLock { $0 } }

    /// Serves on an ephemeral loopback port while `body` runs with that port.
    func run(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        let router = Router()
        router.post("**") { request, context -> Response in
            let buffer = try await request.body.collect(upTo: 16 << 20)
            self.requestPaths.withLock { $0.append(request.uri.path) }
            self.bodies.withLock { $0.append(Data(buffer.readableBytesView)) }
            return Response(status: .ok, headers: [.contentType: "application/x-protobuf"])
        }
        let portBox = Mutex<Int?>(nil)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portBox.withLock { $0 = channel.localAddress?.port } }
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            var port: Int?
            for _ in 0..<500 where port == nil {
                port = portBox.withLock { $0 }
                if port == nil { try await Task.sleep(for: .milliseconds(10)) }
            }
            guard let port else { throw TestSetupError("capture server did not start") }
            defer { group.cancelAll() }
            try await body(port)
        }
    }

    /// Waits for a request body that satisfies `predicate`.
    func waitForRequest(timeout: Duration = .seconds(20), _ predicate: (Data) -> Bool) async throws -> Data {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let match = bodies.withLock({ $0.first(where: predicate) }) { return match }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSetupError("no matching OTLP request arrived; got \(bodies.withLock { $0.count }) requests")
    }
}
