import Memory37
import ServiceLifecycle

/// While the knowledge layer serves from its in-memory fallback, checks the configured store
/// every 15 seconds and switches back when it answers.
struct KnowledgeProbeService: Service {
    let knowledge: KnowledgeService
    var interval: Duration = .seconds(15)

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            await knowledge.probePrimary()
        }
    }
}
