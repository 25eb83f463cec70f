import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKit
import TestSupport
import Testing

/// A small application assembled from ServiceKit's parts only, served on an ephemeral port.
enum ProblemTestApp {
    struct Thing: Decodable, ResponseEncodable, Encodable {
        let name: String
        let count: Int
        let tags: [String]?
    }

    struct Unexpected: Error {
        let secret = "database password is hunter2"
    }

    static func make(bodyLimit: Int = 1024) -> some ApplicationProtocol {
        let router = Router(context: AppRequestContext.self)
        let catalog = RouteCatalog()
        router.add(middleware: ProblemMiddleware(catalog: catalog))
        router.add(middleware: BodyLimitMiddleware(limit: bodyLimit))
        let routes = CatalogedRouter(router: router, catalog: catalog)
        routes.get("things/{thing_id}") { _, context -> Thing in
            let id = try context.parameters.requireID("thing_id")
            return Thing(name: id, count: 1, tags: nil)
        }
        routes.post("things") { request, context -> Thing in
            let thing = try await request.decodeJSON(as: Thing.self, context: context)
            guard thing.count >= 0 else {
                throw APIError.validation([.init(pointer: "/count", detail: "must be 0 or more")])
            }
            return thing
        }
        routes.get("boom") { _, _ -> String in
            throw Unexpected()
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }
}

func problem(_ response: TestResponse) throws -> [String: Any] {
    #expect(response.headers[.contentType] == "application/problem+json")
    let object = try jsonObject(response.body)
    #expect(object["status"] as? Int == Int(response.status.code))
    #expect((object["type"] as? String)?.hasPrefix("https://") == true)
    #expect(object["title"] is String)
    return object
}

@Suite struct ProblemResponseTests {
    @Test func unknownRouteIs404Problem() async throws {
        try await ProblemTestApp.make().test(.live) { client in
            try await client.execute(uri: "/nowhere", method: .get) { response in
                #expect(response.status == .notFound)
                let body = try problem(response)
                #expect(body["code"] as? String == "not_found")
                #expect(body["instance"] as? String == "/nowhere")
            }
        }
    }

    @Test func wrongMethodIs405WithAllow() async throws {
        try await ProblemTestApp.make().test(.live) { client in
            try await client.execute(uri: "/things", method: .delete) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
                let code = try problem(response)["code"] as? String
                #expect(code == "method_not_allowed")
            }
            try await client.execute(uri: "/things/abc", method: .put) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET")
            }
        }
    }

    @Test func declaredOversizedBodyIs413() async throws {
        try await ProblemTestApp.make(bodyLimit: 64).test(.live) { client in
            let body = ByteBuffer(string: #"{"name":"\#(String(repeating: "x", count: 200))","count":1}"#)
            try await client.execute(uri: "/things", method: .post, headers: [.contentType: "application/json"], body: body) { response in
                #expect(response.status == .contentTooLarge)
                let problemBody = try problem(response)
                #expect(problemBody["code"] as? String == "body_too_large")
                #expect((problemBody["detail"] as? String)?.contains("64") == true)
            }
        }
    }

    @Test func chunkedOversizedBodyIs413() async throws {
        try await ProblemTestApp.make(bodyLimit: 64).test(.live) { client in
            // No Content-Length: the limit is enforced while the body is read.
            let body = ByteBuffer(string: #"{"name":"\#(String(repeating: "x", count: 200))","count":1}"#)
            try await client.execute(uri: "/things", method: .post, headers: [.contentType: "application/json", .transferEncoding: "chunked"], body: body) { response in
                #expect(response.status == .contentTooLarge)
                let code = try problem(response)["code"] as? String
                #expect(code == "body_too_large")
            }
        }
    }

    @Test func missingFieldIs422WithPointer() async throws {
        try await ProblemTestApp.make().test(.live) { client in
            try await client.execute(uri: "/things", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"name":"x"}"#)) { response in
                #expect(response.status == .unprocessableContent)
                let body = try problem(response)
                #expect(body["code"] as? String == "validation_failed")
                let errors = try #require(body["errors"] as? [[String: Any]])
                #expect(errors.first?["pointer"] as? String == "/count")
            }
        }
    }

    @Test func wrongTypeIs422NamingTheField() async throws {
        try await ProblemTestApp.make().test(.live) { client in
            let body = ByteBuffer(string: #"{"name":"x","count":1,"tags":["a",2]}"#)
            try await client.execute(uri: "/things", method: .post, headers: [.contentType: "application/json"], body: body) { response in
                #expect(response.status == .unprocessableContent)
                let errors = try #require(try problem(response)["errors"] as? [[String: Any]])
                #expect(errors.first?["pointer"] as? String == "/tags/1")
                #expect(errors.first?["detail"] as? String == "must be a string")
            }
        }
    }

    @Test func handlerValidationIs422() async throws {
        try await ProblemTestApp.make().test(.live) { client in
            let body = ByteBuffer(string: #"{"name":"x","count":-1}"#)
            try await client.execute(uri: "/things", method: .post, headers: [.contentType: "application/json"], body: body) { response in
                #expect(response.status == .unprocessableContent)
                let code = try problem(response)["code"] as? String
                #expect(code == "validation_failed")
            }
        }
    }

    @Test func malformedJSONIs400() async throws {
        try await ProblemTestApp.make().test(.live) { client in
            try await client.execute(uri: "/things", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"name": "#)) { response in
                #expect(response.status == .badRequest)
                let code = try problem(response)["code"] as? String
                #expect(code == "malformed_json")
            }
        }
    }

    @Test func emptyBodyAndWrongMediaTypeAreRefused() async throws {
        try await ProblemTestApp.make().test(.live) { client in
            try await client.execute(uri: "/things", method: .post, headers: [.contentType: "application/json"]) { response in
                #expect(response.status == .badRequest)
                let code = try problem(response)["code"] as? String
                #expect(code == "body_required")
            }
            try await client.execute(uri: "/things", method: .post, headers: [.contentType: "text/plain"], body: ByteBuffer(string: "hi")) { response in
                #expect(response.status == .unsupportedMediaType)
                let code = try problem(response)["code"] as? String
                #expect(code == "unsupported_media_type")
            }
        }
    }

    @Test func invalidPathIDIs400() async throws {
        try await ProblemTestApp.make().test(.live) { client in
            try await client.execute(uri: "/things/-bad", method: .get) { response in
                #expect(response.status == .badRequest)
                let body = try problem(response)
                #expect(body["code"] as? String == "invalid_id")
                let errors = try #require(body["errors"] as? [[String: Any]])
                #expect(errors.first?["pointer"] as? String == "/path/thing_id")
            }
            try await client.execute(uri: "/things/ok_id-1", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test func unexpectedErrorIs500WithoutInternals() async throws {
        try await ProblemTestApp.make().test(.live) { client in
            try await client.execute(uri: "/boom", method: .get) { response in
                #expect(response.status == .internalServerError)
                let text = String(buffer: response.body)
                #expect(!text.contains("hunter2"))
                #expect(!text.contains("Unexpected"))
                let code = try problem(response)["code"] as? String
                #expect(code == "internal")
            }
        }
    }
}
