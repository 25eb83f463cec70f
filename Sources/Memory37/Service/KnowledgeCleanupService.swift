public import Logging
public import ServiceLifecycle

/// Deletes expired knowledge and retired versions past their grace period, on an interval.
/// On PostgreSQL every node runs it and one at a time does the work (an advisory lock); the
/// others skip that round.
public struct KnowledgeCleanupService: Service {
    let knowledge: KnowledgeService
    let interval: Duration
    let logger: Logger

    public init(knowledge: KnowledgeService, interval: Duration, logger: Logger) {
        self.knowledge = knowledge
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        // An interval of an hour must not hold up a shutdown: the wait ends when one begins.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: interval)
                } catch {
                    return
                }
                guard !knowledge.isDegraded else { continue }
                await runOnce()
            }
        }
    }

    private func runOnce() async {
        do {
            let report = try await knowledge.cleanup()
            if report.expiredChunks + report.retiredChunks > 0 || !report.retiredVersions.isEmpty {
                logger.notice("knowledge cleanup", metadata: [
                    "expired_chunks": "\(report.expiredChunks)", "retired_versions": "\(report.retiredVersions.map(\.description))",
                    "retired_chunks": "\(report.retiredChunks)",
                ])
            }
        } catch is CancellationError {
        } catch {
            logger.warning("knowledge cleanup failed; it runs again next interval", metadata: ["error": "\(error)"])
        }
    }
}
