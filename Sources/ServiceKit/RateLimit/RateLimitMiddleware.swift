public import Hummingbird
import HTTPTypes

/// Applies a ``TokenBucketRateLimiter`` to a route group; a refused request gets
/// 429 problem+json with `Retry-After` (seconds) and `retry_after_ms`.
public struct RateLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let limiter: TokenBucketRateLimiter
    let key: @Sendable (Request, Context) -> String

    /// - Parameter key: the bucket a request draws from, e.g. the caller's `sub` and campaign.
    public init(limiter: TokenBucketRateLimiter, key: @escaping @Sendable (Request, Context) -> String) {
        self.limiter = limiter
        self.key = key
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch limiter.acquire(key(request, context)) {
        case .allowed:
            return try await next(request, context)
        case .limited(let retryAfter):
            throw APIError.rateLimited(retryAfter: retryAfter)
        }
    }
}

extension APIError {
    /// 429 with `Retry-After` rounded up to whole seconds and the exact wait in `retry_after_ms`.
    public static func rateLimited(retryAfter: Duration, detail: String = "Too many requests; slow down.") -> APIError {
        let milliseconds = retryAfter.wholeMilliseconds
        var error = APIError(.tooManyRequests, code: "rate_limited", detail: detail, headers: [.retryAfter: String(max(1, (milliseconds + 999) / 1000))])
        error.problem.retryAfterMilliseconds = milliseconds
        return error
    }
}
