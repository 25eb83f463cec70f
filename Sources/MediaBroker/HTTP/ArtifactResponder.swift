import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceKit

/// Serves an artifact's bytes: content type, a strong `ETag` (the SHA-256 itself), immutable
/// caching, `If-None-Match`, and single byte ranges so audio players can seek.
enum ArtifactResponder {
    static func respond(_ request: Request, sha: String, store: ArtifactStore) throws -> Response {
        guard ArtifactStore.isSHA256(sha) else {
            throw APIError.badRequest("An artifact id is a SHA-256: 64 lower-case hexadecimal digits.", code: "invalid_artifact_id")
        }
        guard let (url, contentType) = store.locate(sha), let data = try? Data(contentsOf: url) else {
            throw APIError.notFound("There is no artifact \(sha).", code: "artifact_not_found")
        }
        let etag = "\"\(sha)\""
        var headers: HTTPFields = [
            .contentType: contentType, .eTag: etag, .acceptRanges: "bytes",
            .cacheControl: "private, max-age=31536000, immutable",
        ]
        if let match = request.headers[.ifNoneMatch], match == "*" || match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag }) {
            return Response(status: .notModified, headers: headers)
        }
        if let rangeHeader = request.headers[.range] {
            guard let range = parseRange(rangeHeader, length: data.count) else {
                headers[.contentRange] = "bytes */\(data.count)"
                headers[.contentType] = "application/problem+json"
                return APIError.render(ProblemDetails(status: .rangeNotSatisfiable, code: "range_not_satisfiable", title: nil, detail: "The range \(rangeHeader) is outside the artifact's \(data.count) bytes.", errors: nil), headers: headers)
            }
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(data.count)"
            headers[.contentLength] = String(range.count)
            return Response(status: .partialContent, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data[range])))
        }
        headers[.contentLength] = String(data.count)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `bytes=a-b`, `bytes=a-` or `bytes=-n`, one range; nil when unsatisfiable or malformed.
    static func parseRange(_ header: String, length: Int) -> Range<Int>? {
        guard header.hasPrefix("bytes="), length > 0 else { return nil }
        let spec = header.dropFirst(6)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces), last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let suffix = Int(last), suffix > 0 else { return nil }
            return max(0, length - suffix)..<length
        }
        guard let start = Int(first), start >= 0, start < length else { return nil }
        if last.isEmpty { return start..<length }
        guard let end = Int(last), end >= start else { return nil }
        return start..<min(length, end + 1)
    }
}
