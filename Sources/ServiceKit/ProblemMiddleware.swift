public import Hummingbird
import HTTPTypes
import Logging

/// Turns every error a route throws into an `application/problem+json` response.
///
/// Known errors keep their status and code; Hummingbird's own 404 becomes 405 when the path
/// exists with other methods; anything unexpected becomes a 500 whose body says nothing about
/// the internals (the error is logged instead).
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    let catalog: RouteCatalog
    let traceID: @Sendable () -> String?

    /// - Parameters:
    ///   - catalog: the routes, used to tell 405 from 404.
    ///   - traceID: the current trace id, added to problem bodies so reports match logs.
    public init(catalog: RouteCatalog, traceID: @escaping @Sendable () -> String? = { nil }) {
        self.catalog = catalog
        self.traceID = traceID
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            var apiError = problem(for: error, request: request, context: context)
            if apiError.problem.instance == nil {
                apiError.problem.instance = request.uri.path
            }
            apiError.problem.traceID = traceID()
            return APIError.render(apiError.problem, headers: apiError.headers)
        }
    }

    func problem(for error: any Error, request: Request, context: Context) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as any ProblemConvertible:
            return error.apiError
        case let error as HTTPError:
            return translate(error, request: request)
        case let error as DecodingError:
            return JSONBodyDecoder.problem(for: error)
        case let error as any HTTPResponseError where error.status.code < 500:
            return APIError(error.status, code: Self.code(for: error.status), detail: "\(error)")
        default:
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            return APIError(.internalServerError, code: "internal", detail: "An internal error occurred; the trace id identifies it in the logs.")
        }
    }

    func translate(_ error: HTTPError, request: Request) -> APIError {
        switch error.status {
        case .notFound:
            let allowed = catalog.methods(matching: request.uri.path)
            if !allowed.isEmpty, !allowed.contains(request.method) {
                let list = allowed.map(\.rawValue).joined(separator: ", ")
                return APIError(
                    .methodNotAllowed,
                    code: "method_not_allowed",
                    detail: "\(request.method.rawValue) is not supported on \(request.uri.path); use \(list).",
                    headers: [.allow: list]
                )
            }
            return APIError(.notFound, code: "not_found", detail: error.body ?? "No route matches \(request.method.rawValue) \(request.uri.path).")
        case .contentTooLarge:
            return APIError(.contentTooLarge, code: "body_too_large", detail: "The request body is larger than this endpoint accepts.")
        default:
            var headers = error.headers
            headers[.contentType] = nil
            headers[.contentLength] = nil
            return APIError(error.status, code: Self.code(for: error.status), detail: error.body, headers: headers)
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "bad_request"
        case 401: "unauthenticated"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 413: "body_too_large"
        case 415: "unsupported_media_type"
        case 422: "validation_failed"
        case 429: "rate_limited"
        case 503: "unavailable"
        default: status.code >= 500 ? "internal" : "http_\(status.code)"
        }
    }
}
