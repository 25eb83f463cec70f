import AsyncHTTPClient
import Foundation
import NIOCore
import Observability
import PartySync
import RPGBotApp
import ServiceKit
import Synchronization
import TestSupport
import Testing

/// The fan-out's cost counted in work, not time, so that it cannot flake on a loaded machine:
/// event-loop wake-ups and flushes per delivered event, read from the server's own metrics.
@Suite struct DeliveryWorkTests {
    @Test(arguments: StoreKind.available.filter { $0 != .memory })
    func aFanOutWakesEachEventLoopOnceAndFlushesEachConnectionOnce(_ backend: StoreKind) async throws {
        try await LiveServer.run(backend, settings: LiveServer.settings { $0.restBurst = 1_000 }, configure: { $0.observability.metricsEnabled = true }) { server in
            let subscribers = 10
            var clients: [WebSocketTestClient] = []
            for index in 0..<subscribers {
                clients.append(try await server.join("player\(index)").0)
            }
            // Presence frames of the joins settle before the counting starts.
            for client in clients {
                while (try? await client.next(timeout: .milliseconds(300))) != nil {}
            }
            let before = try await Counters.read(server)
            let gm = try await server.token("gm", role: .gm)
            let events = 40
            // Half one at a time, half at once (so that commits group several events).
            for index in 0..<events / 2 {
                #expect(try await server.restPublish(type: "tick", payload: ["n": index], token: gm).status == 201)
            }
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in events / 2..<events {
                    group.addTask { try await server.restPublish(type: "tick", payload: ["n": index], token: gm).status }
                }
                for try await status in group { #expect(status == 201) }
            }
            for client in clients {
                #expect(offsets(try await collectEvents(client, count: events)) == Array(1...Int64(events)))
            }
            let after = try await Counters.read(server)
            let delivered = after.delivered - before.delivered
            let wakeups = after.wakeups - before.wakeups
            let flushes = after.flushes - before.flushes
            #expect(delivered == Double(events * subscribers))
            // Writing each frame on its own would take one wake-up and one flush per delivery.
            let loops = Double(NIOSingletons.groupLoopCountSuggestion)
            #expect(wakeups <= Double(events) * loops, "wake-ups \(wakeups) for \(events) events on \(loops) event loops")
            #expect(wakeups < delivered / 2)
            #expect(flushes <= delivered, "flushes \(flushes) for \(delivered) deliveries")
            #expect(flushes >= Double(subscribers), "every connection was flushed")
            for client in clients { client.close() }
        }
    }

    /// The commit observer is called the same way at the 200th commit as at the first: a
    /// closure that came back from its lock wrapped in more thunks at every read made each
    /// commit walk a chain as long as the commits before it. Counted as stack depth.
    @Test(arguments: StoreKind.available.filter { $0 != .memory })
    func theCommitObserverCostsTheSameAtEveryCommit(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            let depths = Mutex<[Int]>([])
            #expect(store.setCommitObserver { _ in
                let depth = Thread.callStackReturnAddresses.count
                depths.withLock { $0.append(depth) }
            })
            for index in 0..<200 {
                _ = try await store.append(draft(payload: #"{"n":\#(index)}"#), idempotencyWindow: .seconds(60))
            }
            let seen = depths.withLock { $0 }
            #expect(seen.count == 200)
            #expect(Set(seen).count == 1, "stack depths at the observer: first \(seen.first ?? 0), last \(seen.last ?? 0)")
        }
    }

    /// The counters this test reads from `/metrics`.
    struct Counters {
        var delivered = 0.0
        var wakeups = 0.0
        var flushes = 0.0

        static func read(_ server: LiveServer) async throws -> Counters {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: server.url("/metrics")), timeout: .seconds(10))
            let text = String(buffer: try await response.body.collect(upTo: 4 << 20))
            func value(_ name: String) throws -> Double {
                let line = try #require(text.split(separator: "\n").first { $0.hasPrefix(name + " ") }, "no \(name) in /metrics")
                return try #require(Double(line.split(separator: " ")[1]))
            }
            return Counters(
                delivered: try value("party_sync_events_delivered_total"),
                wakeups: try value("party_sync_writer_wakeups_total"),
                flushes: try value("party_sync_flushes_total")
            )
        }
    }
}
