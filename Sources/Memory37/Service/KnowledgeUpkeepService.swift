public import ServiceLifecycle

/// Keeps the knowledge layer current and healthy in the background: every second it brings a
/// PostgreSQL node's in-process copy up to date with other nodes' writes (so a node nobody
/// reads from never falls behind the change log's retention); while the layer serves from its
/// in-memory fallback, it checks the configured store every 15 seconds instead, switches back
/// when it answers and then runs `onRecovery` (the server ingests its content folder again, in
/// case it was written to the fallback only).
public struct KnowledgeUpkeepService: Service {
    let knowledge: KnowledgeService
    var refreshInterval: Duration
    var probeInterval: Duration
    var onRecovery: @Sendable () async -> Void

    public init(knowledge: KnowledgeService, refreshInterval: Duration = .seconds(1), probeInterval: Duration = KnowledgeService.probeInterval, onRecovery: @escaping @Sendable () async -> Void = {}) {
        self.knowledge = knowledge
        self.refreshInterval = refreshInterval
        self.probeInterval = probeInterval
        self.onRecovery = onRecovery
    }

    public func run() async throws {
        var sinceProbe = Duration.zero
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: refreshInterval)
            guard knowledge.isDegraded else {
                sinceProbe = .zero
                await knowledge.refresh()
                continue
            }
            sinceProbe += refreshInterval
            if sinceProbe >= probeInterval {
                sinceProbe = .zero
                if await knowledge.probePrimary() { await onRecovery() }
            }
        }
    }
}
