public import Hummingbird
public import HTTPTypes
import NIOCore
import Foundation
public import ServiceKit

/// Serves the console: `GET /` redirects to it, `GET /console` is its page and
/// `GET /console/{file}` its scripts, styles and images. Every answer carries a strict
/// Content-Security-Policy; files are revalidated by `ETag` and sent gzipped when the client
/// accepts it.
public struct ConsoleRoutes: Sendable {
    /// The policy of every console response: only this server's own scripts, styles, images
    /// and connections; no inline script or style, no frames, no plugins. `blob:` lets the
    /// console show images and play audio it fetched with its token.
    public static let contentSecurityPolicy = [
        "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' blob:", "media-src 'self' blob:",
        "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ].joined(separator: "; ")

    let assets: ConsoleAssets

    public init(assets: ConsoleAssets) {
        self.assets = assets
    }

    public func register(on router: CatalogedRouter<AppRequestContext>) {
        router.get("/") { _, _ in
            Response(status: .found, headers: [.location: "/console/", .contentLength: "0", .cacheControl: "no-cache"])
        }
        router.get("console") { request, _ in
            try serve("index.html", to: request)
        }
        router.get("console/{file}") { request, context in
            let name = context.parameters.get("file") ?? ""
            return try serve(name, to: request)
        }
    }

    func serve(_ name: String, to request: Request) throws -> Response {
        guard let asset = assets[name] else {
            throw APIError(.notFound, code: "console_file_not_found", detail: "The console has no file named \(name.prefix(80)).")
        }
        let gzip = asset.gzipped != nil && Self.acceptsGzip(request.headers[values: .acceptEncoding])
        let etag = asset.etag(gzipped: gzip)
        var headers: HTTPFields = [
            .contentType: asset.contentType,
            .eTag: etag,
            // Revalidated on every load: the names carry no version, and a 304 is cheap.
            .cacheControl: "no-cache",
            .contentSecurityPolicy: Self.contentSecurityPolicy,
            .xContentTypeOptions: "nosniff",
            .referrerPolicy: "no-referrer",
        ]
        if asset.gzipped != nil { headers[.vary] = "Accept-Encoding" }
        if Self.matches(request.headers[values: .ifNoneMatch], etag: etag) {
            return Response(status: .notModified, headers: headers)
        }
        let body = gzip ? asset.gzipped! : asset.body
        if gzip { headers[.contentEncoding] = "gzip" }
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    /// Whether `Accept-Encoding` admits gzip: named (or `*`) without `q=0`.
    static func acceptsGzip(_ values: [String]) -> Bool {
        for item in values.flatMap({ $0.split(separator: ",") }) {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = parts.first, coding == "gzip" || coding == "x-gzip" || coding == "*" else { continue }
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return quality > 0
        }
        return false
    }

    /// `If-None-Match` by the weak comparison RFC 9110 asks for: `*`, or the tag with or without `W/`.
    static func matches(_ values: [String], etag: String) -> Bool {
        values.flatMap { $0.split(separator: ",") }.contains { candidate in
            let tag = candidate.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/" + etag
        }
    }
}

extension HTTPField.Name {
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
