public import JSONValues
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
    /// Problem-specific members (RFC 9457 §3.2), written beside the standard ones: e.g. the
    /// attempts of a failed generation. A name that clashes with a standard member is ignored.
    public var extensions: [String: JSONValue] = [:]

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, title, status, detail, code, instance, errors
        case traceID = "trace_id"
        case retryAfterMilliseconds = "retry_after_ms"
    }

    /// Any member name, for the extension members.
    struct ExtensionKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
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

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        title = try container.decode(String.self, forKey: .title)
        status = try container.decode(Int.self, forKey: .status)
        detail = try container.decodeIfPresent(String.self, forKey: .detail)
        code = try container.decode(String.self, forKey: .code)
        instance = try container.decodeIfPresent(String.self, forKey: .instance)
        errors = try container.decodeIfPresent([FieldError].self, forKey: .errors)
        traceID = try container.decodeIfPresent(String.self, forKey: .traceID)
        retryAfterMilliseconds = try container.decodeIfPresent(Int.self, forKey: .retryAfterMilliseconds)
        let all = try decoder.container(keyedBy: ExtensionKey.self)
        let standard = Set(CodingKeys.allCases.map(\.stringValue))
        for key in all.allKeys where !standard.contains(key.stringValue) {
            extensions[key.stringValue] = try all.decode(JSONValue.self, forKey: key)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(type, forKey: .type)
        try container.encode(title, forKey: .title)
        try container.encode(status, forKey: .status)
        try container.encodeIfPresent(detail, forKey: .detail)
        try container.encode(code, forKey: .code)
        try container.encodeIfPresent(instance, forKey: .instance)
        try container.encodeIfPresent(errors, forKey: .errors)
        try container.encodeIfPresent(traceID, forKey: .traceID)
        try container.encodeIfPresent(retryAfterMilliseconds, forKey: .retryAfterMilliseconds)
        let standard = Set(CodingKeys.allCases.map(\.stringValue))
        var all = encoder.container(keyedBy: ExtensionKey.self)
        for (name, value) in extensions where !standard.contains(name) {
            try all.encode(value, forKey: ExtensionKey(stringValue: name))
        }
    }

    /// Problem types are documented in docs/errors.md; the URI names the anchor there.
    public static func typeURI(for code: String) -> String {
        "https://rpgbot.dev/problems/\(code.replacingOccurrences(of: "_", with: "-"))"
    }
}
