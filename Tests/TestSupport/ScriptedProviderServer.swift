import Foundation
public import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A local HTTP server that answers `POST /v1/responses` and `POST /v1/chat/completions`
/// with scripted responses in the exact OpenAI wire format, and records every request it
/// receives. It stands in for the OpenAI API, which cannot run here.
public final class ScriptedProviderServer: Sendable {
    public struct Reply: Sendable {
        public var status: HTTPResponse.Status = .ok
        public var headers: HTTPFields = [:]
        public var body: String

        public init(status: HTTPResponse.Status = .ok, headers: HTTPFields = [:], body: String) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    public struct Received: Sendable {
        public let path: String
        public let headers: HTTPFields
        public let text: String

        /// The request body parsed as a JSON object.
        public var body: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
        }
    }

    private let script: Mutex<[Reply]>
    private let received = Mutex<[Received]>([])

    public init(_ replies: [Reply]) {
        script = Mutex(replies)
    }

    public var requests: [Received] { received.withLock { $0 } }

    /// Runs `body` with the server's base URL (`http://127.0.0.1:PORT/v1`).
    public func run<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        for path in ["v1/responses", "v1/chat/completions", "v1/embeddings", "v1/audio/speech", "v1/images/generations"] {
            router.post(RouterPath(path)) { request, context -> Response in
                let buffer = try await request.body.collect(upTo: 1 << 22)
                let text = String(buffer: buffer)
                self.received.withLock { $0.append(Received(path: "/" + path, headers: request.headers, text: text)) }
                let reply = self.script.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                guard let reply else {
                    return Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"script exhausted"}}"#)))
                }
                var headers = reply.headers
                if headers[.contentType] == nil { headers[.contentType] = "application/json" }
                return Response(status: reply.status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: reply.body)))
            }
        }
        return try await withRunningServer(logger: quietLogger, { onServerRunning in
            Application(
                router: router,
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: onServerRunning,
                logger: quietLogger
            )
        }) { port, _ in
            try await body("http://127.0.0.1:\(port)/v1")
        }
    }
}

/// Hummingbird reports keep-alive connections cut at shutdown as errors; they are expected here.
private let quietLogger: Logger = {
    var logger = Logger(label: "rpgbot.tests.provider")
    logger.logLevel = .critical
    return logger
}()

/// Response bodies as OpenAI sends them.
public enum Wire {
    public static func responses(text: String, status: String = "completed", input: Int = 100, output: Int = 50, cached: Int = 0, incompleteReason: String? = nil) -> ScriptedProviderServer.Reply {
        let incomplete = incompleteReason.map { #"{"reason":"\#($0)"}"# } ?? "null"
        return .init(body: """
            {"id":"resp_1","object":"response","created_at":1741476542,"status":"\(status)","error":null,
             "incomplete_details":\(incomplete),"model":"gpt-4o-2024-08-06",
             "output":[{"type":"message","id":"msg_1","status":"\(status)","role":"assistant",
               "content":[{"type":"output_text","text":\(quoted(text)),"annotations":[],"logprobs":[]}]}],
             "usage":{"input_tokens":\(input),"input_tokens_details":{"cached_tokens":\(cached)},"output_tokens":\(output),
               "output_tokens_details":{"reasoning_tokens":0},"total_tokens":\(input + output)}}
            """)
    }

    public static func responsesRefusal(_ text: String) -> ScriptedProviderServer.Reply {
        .init(body: """
            {"id":"resp_2","object":"response","status":"completed","error":null,"incomplete_details":null,"model":"gpt-4o-2024-08-06",
             "output":[{"type":"message","id":"msg_2","status":"completed","role":"assistant",
               "content":[{"type":"refusal","refusal":\(quoted(text))}]}],
             "usage":{"input_tokens":80,"output_tokens":12,"total_tokens":92}}
            """)
    }

    public static func chat(content: String?, refusal: String? = nil, finishReason: String = "stop", prompt: Int = 90, completion: Int = 40) -> ScriptedProviderServer.Reply {
        .init(body: """
            {"id":"chatcmpl-1","object":"chat.completion","created":1741569952,"model":"gpt-4o-mini-2024-07-18",
             "choices":[{"index":0,"message":{"role":"assistant","content":\(content.map(quoted) ?? "null"),"refusal":\(refusal.map(quoted) ?? "null"),"annotations":[]},
               "logprobs":null,"finish_reason":"\(finishReason)"}],
             "usage":{"prompt_tokens":\(prompt),"completion_tokens":\(completion),"total_tokens":\(prompt + completion),
               "prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}
            """)
    }

    public static func error(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> ScriptedProviderServer.Reply {
        .init(status: status, headers: headers, body: #"{"error":{"message":\#(quoted(message)),"type":"error","param":null,"code":null}}"#)
    }

    public static func quoted(_ text: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed]), as: UTF8.self).dropFirst().dropLast().description
    }
}
