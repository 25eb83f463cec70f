import Logging
import Memory37
@testable import RPGBotApp
import Synchronization
import TestSupport
import Testing

@Suite struct KnowledgeUpkeepTests {
    /// Content written to the fallback while the store was down must reach the store once it
    /// answers again: the upkeep runs the recovery hook (the server's content ingestion).
    @Test func recoveryRunsTheHookOnceTheStoreAnswers() async throws {
        let store = FailingKnowledgeStore(base: InMemoryKnowledgeStore(dimensions: 256))
        var logger = Logger(label: "rpgbot.tests")
        logger.logLevel = .critical
        let knowledge = KnowledgeService(store: store, embedder: HashingEmbedder(), logger: logger)
        store.failing = true
        await knowledge.prepare()
        #expect(knowledge.isDegraded)
        let recoveries = Atomic<Int>(0)
        let upkeep = KnowledgeUpkeepService(knowledge: knowledge, refreshInterval: .milliseconds(5), probeInterval: .milliseconds(20)) {
            recoveries.add(1, ordering: .relaxed)
        }
        let running = Task { try await upkeep.run() }
        defer { running.cancel() }
        try await Task.sleep(for: .milliseconds(200))
        #expect(recoveries.load(ordering: .relaxed) == 0, "the store is still down")
        store.failing = false
        let deadline = ContinuousClock.now + .seconds(20)
        while recoveries.load(ordering: .relaxed) == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(recoveries.load(ordering: .relaxed) == 1)
        #expect(!knowledge.isDegraded)
    }
}
