import CompressNIO
import Console
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import TestSupport
import Testing

@Suite struct ConsoleRoutesTests {
    static func assets() throws -> ConsoleAssets {
        try ConsoleAssets.load(from: try #require(ConsoleAssets.locate(), "the console's files must be installed"))
    }

    static func application() throws -> some ApplicationProtocol {
        let router = Router(context: AppRequestContext.self)
        let catalog = RouteCatalog()
        router.add(middleware: ProblemMiddleware(catalog: catalog))
        ConsoleRoutes(assets: try assets()).register(on: CatalogedRouter(router: router, catalog: catalog))
        return Application(router: router)
    }

    @Test func rootRedirectsToTheConsole() async throws {
        try await Self.application().test(.router) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .found)
                #expect(response.headers[.location] == "/console/")
            }
        }
    }

    @Test(arguments: ["/console", "/console/", "/console/index.html"])
    func thePageIsHTMLUnderAStrictPolicy(path: String) async throws {
        try await Self.application().test(.router) { client in
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
                let policy = try #require(response.headers[HTTPField.Name("Content-Security-Policy")!])
                #expect(policy.contains("script-src 'self'") && policy.contains("default-src 'none'"))
                #expect(!policy.contains("unsafe"))
                #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
                #expect(response.headers[.eTag]?.hasPrefix("\"") == true)
                #expect(String(buffer: response.body).contains(#"<script type="module" src="/console/app.js"></script>"#))
            }
        }
    }

    @Test func filesAreGzippedWhenAcceptedAndTheSameWhenDecompressed() async throws {
        try await Self.application().test(.router) { client in
            let plain = try await client.execute(uri: "/console/app.js", method: .get)
            #expect(plain.status == .ok && plain.headers[.contentEncoding] == nil)
            #expect(plain.headers[.contentType] == "text/javascript; charset=utf-8")
            let zipped = try await client.execute(uri: "/console/app.js", method: .get, headers: [.acceptEncoding: "br, gzip;q=0.8"])
            #expect(zipped.headers[.contentEncoding] == "gzip")
            #expect(zipped.headers[.vary] == "Accept-Encoding")
            #expect(zipped.headers[.eTag] != plain.headers[.eTag])
            var body = zipped.body
            #expect(body.readableBytes < plain.body.readableBytes)
            #expect(try body.decompress(with: .gzip()) == plain.body)
            let refused = try await client.execute(uri: "/console/app.js", method: .get, headers: [.acceptEncoding: "gzip;q=0, identity"])
            #expect(refused.headers[.contentEncoding] == nil && refused.body == plain.body)
        }
    }

    @Test func aKnownETagIsAnsweredNotModified() async throws {
        try await Self.application().test(.router) { client in
            let first = try await client.execute(uri: "/console/console.css", method: .get, headers: [.acceptEncoding: "gzip"])
            let etag = try #require(first.headers[.eTag])
            let again = try await client.execute(uri: "/console/console.css", method: .get, headers: [.acceptEncoding: "gzip", .ifNoneMatch: "\"other\", W/\(etag)"])
            #expect(again.status == .notModified && again.body.readableBytes == 0)
            // The identity representation has its own tag.
            let identity = try await client.execute(uri: "/console/console.css", method: .get, headers: [.ifNoneMatch: etag])
            #expect(identity.status == .ok)
        }
    }

    @Test(arguments: ["nope.js", "..%2Fopenapi.json", ".hidden", "app.js.map"])
    func anUnknownFileIsAProblem(name: String) async throws {
        try await Self.application().test(.router) { client in
            try await client.execute(uri: "/console/\(name)", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(String(buffer: response.body).contains("console_file_not_found"))
            }
        }
    }

    /// Every file a page or module names is served, so no request of the console can 404.
    @Test func everyReferencedFileExists() throws {
        let assets = try Self.assets()
        let pattern = try Regex(##"(?:src|href)="/console/([^"#?]+)"|from\s+'\./([^']+)'|import\s+'\./([^']+)'"##)
        var referenced = Set<String>()
        for (name, asset) in assets.files where name.hasSuffix(".html") || name.hasSuffix(".js") {
            for match in String(buffer: asset.body).matches(of: pattern) {
                for index in 1...3 {
                    if let name = match.output[index].substring { referenced.insert(String(name)) }
                }
            }
        }
        #expect(referenced.contains("app.js") && referenced.count > 4)
        #expect(referenced.subtracting(assets.files.keys).isEmpty, "missing: \(referenced.subtracting(assets.files.keys))")
    }

    /// The policy forbids inline script and style: a page that used them would be broken.
    @Test func noMarkupNeedsInlineScriptOrStyle() throws {
        let assets = try Self.assets()
        for (name, asset) in assets.files where name.hasSuffix(".html") || name.hasSuffix(".js") {
            let text = String(buffer: asset.body)
            #expect(!text.contains("<script>") && !text.contains("<style"), "\(name)")
            #expect(text.firstMatch(of: try Regex(#"\son[a-z]+\s*=\s*""#)) == nil, "\(name) has an inline event handler")
            #expect(text.firstMatch(of: try Regex(#"\sstyle\s*=\s*""#)) == nil, "\(name) has a style attribute")
            #expect(!text.contains("setAttribute('style'") && !text.contains(".innerHTML") && !text.contains("eval("), "\(name)")
            #expect(!text.contains("http://") && !text.contains("https://"), "\(name) loads something from outside the server")
        }
    }
}
