public import Hummingbird
import HTTPTypes

/// A request context whose body limit can be set per request.
public protocol BodyLimitedRequestContext: RequestContext {
    var maxUploadSize: Int { get set }
}

extension AppRequestContext: BodyLimitedRequestContext {}

/// Refuses bodies larger than the configured limit with 413 problem+json: at once when the
/// `Content-Length` says so, and while reading for chunked bodies (through `maxUploadSize`).
public struct BodyLimitMiddleware<Context: BodyLimitedRequestContext>: RouterMiddleware {
    /// 1 MiB: ample for JSON commands, small enough that a client cannot exhaust memory.
    public static var defaultLimit: Int { 1 << 20 }

    let limit: Int

    public init(limit: Int) {
        self.limit = limit
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit {
            throw APIError.contentTooLarge(limit: limit)
        }
        var context = context
        context.maxUploadSize = limit
        return try await next(request, context)
    }
}

extension APIError {
    /// 413 naming the limit, so a client knows how much to trim.
    public static func contentTooLarge(limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "body_too_large", detail: "The request body exceeds the limit of \(limit) bytes.")
    }
}
