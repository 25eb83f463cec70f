import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

extension HTTPClientRequest {
    /// A JSON `POST` with a bearer token, as the benchmarks send them to the server they run.
    static func jsonPost(_ url: String, token: String, body: Any) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        return request
    }
}
