public import HTTPTypes
public import ServiceKit

/// Why a write was refused: the configured store failed or is known to be down, and a write
/// kept only in the in-memory fallback would be lost when the store comes back. Answered over
/// HTTP as 503 `knowledge_store_unavailable` with `Retry-After`; documents written before the
/// failure stay written, so sending the same request again stores exactly the rest.
public struct KnowledgeStoreUnavailable: ProblemConvertible, Sendable, CustomStringConvertible {
    /// The store's own error, when a write failed (nil when the service was already degraded).
    public let underlying: (any Error)?
    /// When to try again: the service checks the store this often while degraded.
    public let retryAfter: Duration

    public var description: String {
        let cause = underlying.map { ": \($0)" } ?? " (serving reads from the in-memory fallback)"
        return "the knowledge store is unavailable\(cause)"
    }

    /// The problem+json answer; the store's error stays in the log, not in the response.
    public var apiError: APIError {
        APIError(
            .serviceUnavailable, code: "knowledge_store_unavailable",
            detail: "The knowledge store is unavailable, so nothing more was stored; documents stored before it failed are kept. Send the same request again later: unchanged documents are skipped.",
            headers: [.retryAfter: String(max(1, retryAfter.components.seconds))]
        )
    }
}

/// A knowledge store call that failed during ingestion, told apart from failures of the
/// documents or of the embedder.
struct StoreCallFailure: Error {
    let underlying: any Error

    static func wrapping<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw StoreCallFailure(underlying: error)
        }
    }
}
