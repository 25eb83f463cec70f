import Foundation
import GRDB
import Logging
@testable import PartySync
import Persistence
import ServiceKit
import TestSupport
import Testing

/// The backends every store test runs against.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible {
    case memory, sqlite, postgres

    var testDescription: String { rawValue }

    static var available: [StoreKind] {
        PostgresTestServer.isConfigured ? allCases : [.memory, .sqlite]
    }

    /// Runs `body` with a fresh, migrated store of this kind.
    func withStore<T: Sendable>(_ body: @Sendable (any EventLog) async throws -> T) async throws -> T {
        switch self {
        case .memory:
            return try await body(InMemoryEventLog())
        case .sqlite:
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            return try await withDatabase(.sqlite(path: directory.file("db.sqlite").path), body)
        case .postgres:
            return try await withDatabase(try await PostgresTestServer.makeDatabase(prefix: "ps"), body)
        }
    }

    private func withDatabase<T: Sendable>(_ url: DatabaseURL, _ body: @Sendable (any EventLog) async throws -> T) async throws -> T {
        let database = try DatabaseHandle.open(url, logger: testLogger)
        return try await withRunningDatabase(database) { database in
            let runner = MigrationRunner()
            runner.register(PartySyncMigrations.all)
            try await runner.apply(to: database)
            let store: any EventLog =
                switch database.backend {
                case .sqlite(let pool): SQLiteEventLog(pool: pool)
                case .postgres(let client): PostgresEventLog(client: client, logger: testLogger)
                }
            return try await body(store)
        }
    }
}

func draft(_ campaign: String = "demo", type: String = "chat.say", actor: String = "alice", cmid: String? = nil, payload: String = #"{"n":1}"#) -> EventDraft {
    EventDraft(campaignID: campaign, type: type, actor: actor, role: .player, cmid: cmid, payload: payload)
}

@Suite struct EventLogTests {
    static let window = Duration.seconds(3600)

    @Test(arguments: StoreKind.available)
    func offsetsAreGaplessPerCampaignAndEpochIsStable(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            var offsets: [Int64] = []
            for index in 0..<5 {
                offsets.append(try await store.append(draft(payload: #"{"n":\#(index)}"#), idempotencyWindow: Self.window).offset)
            }
            #expect(offsets == [1, 2, 3, 4, 5])
            #expect(try await store.append(draft("other"), idempotencyWindow: Self.window).offset == 1)
            let head = try await store.head(campaignID: "demo")
            #expect(head.top == 5)
            #expect(head.firstRetained == 1)
            #expect(!head.epoch.isEmpty)
            let again = try await store.head(campaignID: "demo")
            #expect(again.epoch == head.epoch)
            let fresh = try await store.head(campaignID: "never-seen")
            #expect(fresh.top == 0)
            #expect(fresh.firstRetained == 1)
        }
    }

    @Test(arguments: StoreKind.available)
    func eventsPageForwardAndBackward(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            for index in 1...10 {
                _ = try await store.append(draft(payload: #"{"n":\#(index)}"#), idempotencyWindow: Self.window)
            }
            let forward = try await store.events(campaignID: "demo", after: 3, limit: 4)
            #expect(forward.map(\.offset) == [4, 5, 6, 7])
            #expect(forward.first?.payload == #"{"n":4}"#)
            #expect(forward.allSatisfy { $0.epoch == forward.first?.epoch && !$0.epoch.isEmpty })
            let backward = try await store.events(campaignID: "demo", before: 4, limit: 10)
            #expect(backward.map(\.offset) == [3, 2, 1])
            #expect(try await store.events(campaignID: "demo", after: 10, limit: 5).isEmpty)
        }
    }

    @Test("one read returns each campaign's page after its own position", arguments: StoreKind.available)
    func eventsOfManyCampaignsInOneRead(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            for index in 1...6 {
                _ = try await store.append(draft("north", payload: #"{"n":\#(index)}"#), idempotencyWindow: Self.window)
                if index <= 3 { _ = try await store.append(draft("south", payload: #"{"s":\#(index)}"#), idempotencyWindow: Self.window) }
            }
            let pages = try await store.events(after: ["north": 2, "south": 0, "west": 0, "east-never-seen": 5], limit: 3)
            #expect(pages["north"]?.map(\.offset) == [3, 4, 5])
            #expect(pages["north"]?.first?.payload == #"{"n":3}"#)
            #expect(pages["south"]?.map(\.offset) == [1, 2, 3])
            #expect(pages["south"]?.allSatisfy { $0.campaignID == "south" && !$0.epoch.isEmpty } == true)
            #expect(pages["west"] == nil && pages["east-never-seen"] == nil)
            #expect(try await store.events(after: ["north": 6, "south": 3], limit: 3).isEmpty)
            #expect(try await store.events(after: [:], limit: 3).isEmpty)
        }
    }

    @Test(arguments: StoreKind.available)
    func repeatedCmidIsADuplicateWithTheOriginalOffset(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            let first = try await store.append(draft(cmid: "m-1"), idempotencyWindow: Self.window)
            guard case .stored(let event) = first else { Issue.record("not stored"); return }
            for _ in 0..<2 {
                let again = try await store.append(draft(cmid: "m-1"), idempotencyWindow: Self.window)
                #expect(again == .duplicate(offset: event.offset, id: event.id, epoch: event.epoch))
            }
            #expect(try await store.head(campaignID: "demo").top == 1)
            // Another sender may use the same cmid.
            let other = try await store.append(draft(actor: "bob", cmid: "m-1"), idempotencyWindow: Self.window)
            #expect(other.offset == 2)
            // The same cmid with another payload is refused.
            await #expect(throws: EventLogError.cmidConflict(cmid: "m-1", originalOffset: 1)) {
                try await store.append(draft(cmid: "m-1", payload: #"{"n":2}"#), idempotencyWindow: Self.window)
            }
            #expect(try await store.head(campaignID: "demo").top == 2)
        }
    }

    @Test("a request fingerprint identifies a repeat whatever the payload; the record of a cmid can be looked up", arguments: StoreKind.available)
    func requestFingerprintAndLookup(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            #expect(try await store.idempotencyRecord(campaignID: "demo", actor: "gm", cmid: "K1", idempotencyWindow: Self.window) == nil)
            var generated = EventDraft(campaignID: "demo", type: "gm.scene", actor: "gm", role: .gm, cmid: "K1", payload: #"{"text":"first answer"}"#, requestFingerprint: "req-a")
            let first = try await store.append(generated, idempotencyWindow: Self.window)
            // The same request answered differently by the model is still the same event.
            generated.payload = #"{"text":"second answer"}"#
            #expect(try await store.append(generated, idempotencyWindow: Self.window).offset == first.offset)
            let record = try #require(try await store.idempotencyRecord(campaignID: "demo", actor: "gm", cmid: "K1", idempotencyWindow: Self.window))
            #expect(record.offset == first.offset && record.fingerprint == generated.fingerprint)
            // Another request, or a plain event, under the key is a conflict.
            generated.requestFingerprint = "req-b"
            await #expect(throws: EventLogError.cmidConflict(cmid: "K1", originalOffset: first.offset)) {
                try await store.append(generated, idempotencyWindow: Self.window)
            }
            await #expect(throws: EventLogError.cmidConflict(cmid: "K1", originalOffset: first.offset)) {
                try await store.append(EventDraft(campaignID: "demo", type: "gm.scene", actor: "gm", role: .gm, cmid: "K1", payload: #"{"text":"first answer"}"#), idempotencyWindow: Self.window)
            }
            // Outside the window the record is gone.
            try await Task.sleep(for: .milliseconds(20))
            #expect(try await store.idempotencyRecord(campaignID: "demo", actor: "gm", cmid: "K1", idempotencyWindow: .milliseconds(5)) == nil)
        }
    }

    @Test(arguments: StoreKind.available)
    func concurrentAppendsGetDistinctGaplessOffsets(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            let offsets = try await withThrowingTaskGroup(of: Int64.self) { group in
                for index in 0..<60 {
                    group.addTask {
                        try await store.append(draft(actor: "u\(index % 6)", cmid: "c\(index)", payload: #"{"i":\#(index)}"#), idempotencyWindow: Self.window).offset
                    }
                }
                var all: [Int64] = []
                for try await offset in group { all.append(offset) }
                return all
            }
            #expect(offsets.sorted() == Array(1...60))
            let stored = try await store.events(campaignID: "demo", after: 0, limit: 100)
            #expect(stored.map(\.offset) == Array(1...60))
        }
    }

    /// Retention by age removes what is older than `maxAge`, campaign by campaign, and leaves
    /// the younger events, the other campaigns' young events and the count limit alone.
    @Test(arguments: StoreKind.available)
    func trimByAgeRemovesOnlyTheOlderEvents(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            for index in 1...5 {
                _ = try await store.append(draft(payload: #"{"n":\#(index)}"#), idempotencyWindow: Self.window)
            }
            _ = try await store.append(draft("other", payload: #"{"n":0}"#), idempotencyWindow: Self.window)
            try await Task.sleep(for: .seconds(4))
            let younger = ContinuousClock.now
            for index in 6...8 {
                _ = try await store.append(draft(payload: #"{"n":\#(index)}"#), idempotencyWindow: Self.window)
            }
            // The cut falls 2 s before the younger events, however long their appends took on a
            // loaded machine: 2 s after the older ones, with 2 s to spare either side.
            let maxAge = (ContinuousClock.now - younger) + .seconds(2)
            let removed = try await store.trim(keepEvents: 100, maxAge: maxAge, idempotencyWindow: Self.window)
            #expect(removed == 6)
            #expect(try await store.events(campaignID: "demo", after: 0, limit: 100).map(\.offset) == [6, 7, 8])
            #expect(try await store.events(campaignID: "other", after: 0, limit: 100).isEmpty)
            let head = try await store.head(campaignID: "other")
            #expect(head.top == 1)
            #expect(head.firstRetained == 2)
            #expect(try await store.append(draft("other", payload: #"{"n":1}"#), idempotencyWindow: Self.window).offset == 2)
        }
    }

    @Test(arguments: StoreKind.available)
    func trimKeepsTheNewestEventsAndForgetsExpiredCmids(_ kind: StoreKind) async throws {
        try await kind.withStore { store in
            for index in 1...10 {
                _ = try await store.append(draft(cmid: "c\(index)", payload: #"{"n":\#(index)}"#), idempotencyWindow: Self.window)
            }
            let removed = try await store.trim(keepEvents: 4, maxAge: .seconds(3600), idempotencyWindow: Self.window)
            #expect(removed == 6)
            let head = try await store.head(campaignID: "demo")
            #expect(head.top == 10)
            #expect(head.firstRetained == 7)
            #expect(try await store.events(campaignID: "demo", after: 0, limit: 100).map(\.offset) == [7, 8, 9, 10])
            // Offsets keep counting after a trim.
            #expect(try await store.append(draft(payload: #"{"n":11}"#), idempotencyWindow: Self.window).offset == 11)
            // With a zero window every cmid record is expired: the cmid is new again.
            _ = try await store.trim(keepEvents: 100, maxAge: .seconds(3600), idempotencyWindow: .zero)
            #expect(try await store.append(draft(cmid: "c1", payload: #"{"n":1}"#), idempotencyWindow: .zero).offset == 12)
        }
    }
}
