public import JSONValues
public import Hummingbird
import NIOCore

public import Foundation

extension Request {
    /// Decodes a JSON request body, turning every way it can be wrong into a precise problem:
    /// 413 when it exceeds the body limit, 415 for another media type, 400 for malformed JSON,
    /// 422 naming the field for a missing key or a value of the wrong type.
    public func decodeJSON<T: Decodable>(as type: T.Type, context: some RequestContext) async throws -> T {
        if let contentType = headers[.contentType], !Self.isJSONMediaType(contentType) {
            throw APIError(
                .unsupportedMediaType,
                code: "unsupported_media_type",
                detail: "Send the body as application/json (got \(contentType))."
            )
        }
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else {
            throw APIError.badRequest("The request needs a JSON body.", code: "body_required")
        }
        return try JSONBodyDecoder.decode(type, from: Data(buffer.readableBytesView))
    }

    /// The JSON body parsed without loss (``ExactJSON``: numbers as written), with the same
    /// problems as ``decodeJSON(as:context:)`` for a body that is missing, too large, of another
    /// media type or not JSON.
    public func decodeExactJSON(context: some RequestContext) async throws -> ExactJSON {
        if let contentType = headers[.contentType], !Self.isJSONMediaType(contentType) {
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", detail: "Send the body as application/json (got \(contentType)).")
        }
        let buffer = try await body.collect(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else {
            throw APIError.badRequest("The request needs a JSON body.", code: "body_required")
        }
        do {
            return try ExactJSON.parse(buffer.readableBytesView)
        } catch {
            throw APIError.badRequest("The body is not valid JSON (\(error)).", code: "malformed_json")
        }
    }

    public static func isJSONMediaType(_ value: String) -> Bool {
        let mediaType = value.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }
}

/// Decodes JSON and translates `DecodingError` into problem details with JSON Pointers.
public enum JSONBodyDecoder {
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw problem(for: error)
        }
    }

    static func problem(for error: DecodingError) -> APIError {
        switch error {
        case .keyNotFound(let key, let context):
            let pointer = jsonPointer(context.codingPath + [key])
            return .validation([.init(pointer: pointer, detail: "is required")])
        case .typeMismatch(let expected, let context):
            return .validation([.init(pointer: jsonPointer(context.codingPath), detail: "must be \(describe(expected))")])
        case .valueNotFound(let expected, let context):
            return .validation([.init(pointer: jsonPointer(context.codingPath), detail: "must be \(describe(expected)), not null")])
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                return .badRequest("The body is not valid JSON.", code: "malformed_json")
            }
            return .validation([.init(pointer: jsonPointer(context.codingPath), detail: context.debugDescription)])
        @unknown default:
            return .badRequest("The body could not be read.", code: "malformed_json")
        }
    }

    /// RFC 6901 pointer for a coding path (`/party/0/name`).
    public static func jsonPointer(_ path: [any CodingKey]) -> String {
        if path.isEmpty { return "" }
        return path.map { key -> String in
            let token = key.intValue.map(String.init) ?? key.stringValue
            return "/" + JSONValue.escapePointerToken(token)
        }.joined()
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        default:
            if String(describing: type).hasPrefix("Array") { "an array" } else { "an object" }
        }
    }
}
