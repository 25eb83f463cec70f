public import JSONValues
public import Hummingbird
public import HTTPTypes
import NIOCore

extension Response {
    /// A response whose body is `value` as compact JSON with sorted keys.
    public static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: value.canonicalText)))
    }
}
