import NIOCore
import NIOPosix

/// Sends `request` as raw bytes on a new loopback connection to `port` and returns what comes
/// back until the server closes the connection, or nil when `timeout` passes first: for
/// requests an HTTP client library would refuse to send. Non-blocking (NIO), so a server in
/// the same process keeps every thread it needs while the test waits.
public func rawHTTPExchange(port: Int, request: [UInt8], timeout: Duration = .seconds(10)) async throws -> String? {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await withThrowingTaskGroup(of: String?.self) { group in
        group.addTask {
            try await channel.executeThenClose { inbound, outbound in
                // The server may answer and close before it has read everything: what it
                // said still counts.
                try? await outbound.write(ByteBuffer(bytes: request))
                var received = ByteBuffer()
                do {
                    for try await chunk in inbound { received.writeImmutableBuffer(chunk) }
                } catch is CancellationError {
                    return nil
                } catch {
                    // A reset after the answer: keep what arrived.
                }
                return Task.isCancelled ? nil : String(buffer: received)
            }
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        // A timeout closes the connection, which ends the reader too.
        try? await channel.channel.close()
        return first
    }
}
