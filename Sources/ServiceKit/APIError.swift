public import Hummingbird
import NIOCore
public import HTTPTypes

import Foundation

/// An error that the HTTP API reports to the client as `application/problem+json`.
///
/// Route handlers throw these; ``ProblemMiddleware`` renders them (and every other error)
/// into a problem document, so no handler writes error bodies by hand.
public struct APIError: Error, Sendable, HTTPResponseError, CustomStringConvertible {
    public var problem: ProblemDetails
    /// Extra response headers: `Retry-After`, `Allow`, `WWW-Authenticate`…
    public var headers: HTTPFields

    public var status: HTTPResponse.Status { HTTPResponse.Status(code: problem.status) }

    public init(_ problem: ProblemDetails, headers: HTTPFields = [:]) {
        self.problem = problem
        self.headers = headers
    }

    public init(
        _ status: HTTPResponse.Status,
        code: String,
        detail: String? = nil,
        title: String? = nil,
        errors: [ProblemDetails.FieldError]? = nil,
        headers: HTTPFields = [:]
    ) {
        self.init(ProblemDetails(status: status, code: code, title: title, detail: detail, errors: errors), headers: headers)
    }

    public var description: String {
        "\(problem.status) \(problem.code): \(problem.detail ?? problem.title)"
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var problem = self.problem
        if problem.instance == nil {
            problem.instance = request.uri.path
        }
        return Self.render(problem, headers: headers)
    }

    /// Renders a problem document as a complete response.
    public static func render(_ problem: ProblemDetails, headers extra: HTTPFields = [:]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a struct of strings and integers cannot fail; fall back to a minimal body anyway.
        let data = (try? encoder.encode(problem)) ?? Data(#"{"code":"internal","status":500}"#.utf8)
        var headers = extra
        headers[.contentType] = "application/problem+json"
        headers[.contentLength] = String(data.count)
        headers[.cacheControl] = "no-store"
        return Response(
            status: HTTPResponse.Status(code: problem.status),
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}

extension APIError {
    /// 404 for a resource that does not exist.
    public static func notFound(_ detail: String, code: String = "not_found") -> APIError {
        APIError(.notFound, code: code, detail: detail)
    }

    /// 422 for a well-formed body whose fields fail validation.
    public static func validation(_ errors: [ProblemDetails.FieldError], detail: String? = nil) -> APIError {
        APIError(
            .unprocessableContent,
            code: "validation_failed",
            detail: detail ?? errors.map { "\($0.pointer): \($0.detail)" }.joined(separator: "; "),
            title: "Validation failed",
            errors: errors
        )
    }

    /// 400 for a request that cannot be read at all (malformed JSON, a bad path id).
    public static func badRequest(_ detail: String, code: String = "bad_request") -> APIError {
        APIError(.badRequest, code: code, detail: detail)
    }
}

/// An error of a capability that knows its problem+json answer without depending on the HTTP
/// layer's types where it is thrown; ``ProblemMiddleware`` renders ``apiError``.
public protocol ProblemConvertible: Error {
    var apiError: APIError { get }
}
