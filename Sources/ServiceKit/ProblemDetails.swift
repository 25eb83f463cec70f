import Foundation
public import HTTPTypes

/// An RFC 9457 problem document: the body of every error the HTTP API returns.
///
/// `code` is a stable, machine-readable identifier (`not_found`, `validation_failed`, …) that
/// clients switch on; `title` and `detail` are for people. `errors` lists the individual
/// failures of a validation problem, each with a JSON Pointer to the offending field.
public struct ProblemDetails: Codable, Sendable, Equatable {
    /// One failing field of a validation problem.
    public struct FieldError: Codable, Sendable, Equatable {
        /// JSON Pointer into the request body (or `/path/<name>`, `/query/<name>`).
        public var pointer: String
        /// What is wrong and what is accepted, in words a client developer can act on.
        public var detail: String

        public init(pointer: String, detail: String) {
            self.pointer = pointer
            self.detail = detail
        }
    }

    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    public var code: String
    public var instance: String?
    public var errors: [FieldError]?
    /// The trace of the request that failed, so a report can be matched with the logs.
    public var traceID: String?
    /// For rate-limit and overload problems: how long to wait before retrying.
    public var retryAfterMilliseconds: Int?

    enum CodingKeys: String, CodingKey {
        case type, title, status, detail, code, instance, errors
        case traceID = "trace_id"
        case retryAfterMilliseconds = "retry_after_ms"
    }

    public init(
        status: HTTPResponse.Status,
        code: String,
        title: String? = nil,
        detail: String? = nil,
        errors: [FieldError]? = nil,
        instance: String? = nil
    ) {
        self.type = ProblemDetails.typeURI(for: code)
        self.title = title ?? status.reasonPhrase
        self.status = status.code
        self.detail = detail
        self.code = code
        self.errors = errors
        self.instance = instance
    }

    /// Problem types are documented in docs/errors.md; the URI names the anchor there.
    public static func typeURI(for code: String) -> String {
        "https://rpgbot.dev/problems/\(code.replacingOccurrences(of: "_", with: "-"))"
    }
}
