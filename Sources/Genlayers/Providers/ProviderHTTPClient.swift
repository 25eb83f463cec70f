import AsyncHTTPClient
import Foundation
import Instrumentation
import NIOCore
import NIOHTTP1

/// Posts JSON to a provider and maps every failure onto ``ProviderError``. The W3C trace
/// context of the current span is sent along, so a provider that traces joins the trace.
struct ProviderHTTPClient: Sendable {
    struct Response {
        let status: Int
        let headers: HTTPHeaders
        let body: ByteBuffer
    }

    let settings: ProviderSettings
    var client: HTTPClient = Self.sharedClient

    /// One client for every provider call of the process (like `HTTPClient.shared`, it lives
    /// as long as the process). A failed connection fails the call at once: the engine retries
    /// with its own backoff, and retrying inside the client too would hold a request for the
    /// whole timeout against a server that is down.
    static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 32
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    func post(path: String, body: [UInt8]) async throws(ProviderError) -> Response {
        let url = settings.baseURL.hasSuffix("/") ? settings.baseURL + path : settings.baseURL + "/" + path
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        if let key = settings.apiKey, !key.isEmpty {
            request.headers.add(name: "Authorization", value: "Bearer \(key)")
        }
        for header in settings.extraHeaders {
            request.headers.replaceOrAdd(name: header.name, value: header.value)
        }
        if let context = InstrumentationContext.current {
            InstrumentationSystem.instrument.inject(context, into: &request.headers, using: HTTPHeadersInjector())
        }
        request.body = .bytes(ByteBuffer(bytes: body))

        let timeout = TimeAmount(settings.timeout)
        do {
            let response = try await client.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: settings.maxResponseBytes)
            return Response(status: Int(response.status.code), headers: response.headers, body: body)
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .writeTimeout:
                throw .timeout(settings.timeout)
            case .connectTimeout:
                throw .transport("connecting to \(settings.baseURL) timed out")
            default:
                throw .transport("\(error) (\(settings.baseURL))")
            }
        } catch let error as NIOTooManyBytesError {
            throw .malformedResponse("the response is larger than \(settings.maxResponseBytes) bytes (\(error))")
        } catch {
            throw .transport("\(error) (\(settings.baseURL))")
        }
    }

    /// Maps a non-2xx status to its error; the body's `error.message` is quoted when present.
    static func failure(for response: Response) -> ProviderError {
        let detail = errorMessage(in: response.body) ?? "HTTP \(response.status)"
        let retryAfter = retryAfter(in: response.headers)
        switch response.status {
        case 429: return .rateLimited(retryAfter: retryAfter, detail: detail)
        case 408: return .timeout(.zero)
        case 500...599: return .unavailable(status: response.status, retryAfter: retryAfter, detail: detail)
        default: return .rejected(status: response.status, detail: detail)
        }
    }

    /// `Retry-After` in seconds or as an HTTP date, or OpenAI's `retry-after-ms`.
    static func retryAfter(in headers: HTTPHeaders, now: Date = Date()) -> Duration? {
        if let text = headers.first(name: "retry-after-ms"), let milliseconds = Double(text), milliseconds >= 0 {
            return .milliseconds(Int64(milliseconds))
        }
        guard let text = headers.first(name: "retry-after")?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let seconds = Double(text), seconds >= 0 {
            return .milliseconds(Int64(seconds * 1000))
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: text) else { return nil }
        return .milliseconds(Int64(max(0, date.timeIntervalSince(now)) * 1000))
    }

    /// OpenAI-style `{"error": {"message": …}}`, or a short excerpt of the body.
    static func errorMessage(in body: ByteBuffer) -> String? {
        let data = Data(body.readableBytesView)
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            if let error = object["error"] as? [String: Any], let message = error["message"] as? String { return message }
            if let message = object["error"] as? String { return message }
            if let message = object["message"] as? String { return message }
            if let detail = object["detail"] as? String { return detail }
        }
        let text = String(decoding: data.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }
}

/// Writes trace context fields into NIO's HTTP headers.
struct HTTPHeadersInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout HTTPHeaders) {
        carrier.replaceOrAdd(name: key, value: value)
    }
}
