public import Hummingbird
public import HTTPTypes
import Instrumentation
import OTel
public import Logging
import Prometheus
import Tracing

import Foundation

/// The outermost middleware: one server span per request (continuing an incoming W3C
/// `traceparent`), the trace id in an `X-Trace-Id` response header, one access-log line, and
/// the request count and duration metrics — all labelled with the route template, never the
/// raw path, so cardinality stays bounded.
public struct RequestTelemetryMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger
    let metrics: HTTPMetrics?

    public init(logger: Logger, metrics: MetricsRegistry?) {
        self.logger = logger
        self.metrics = metrics.map(HTTPMetrics.init)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var parent = InstrumentationContext.current ?? .topLevel
        InstrumentationSystem.instrument.extract(request.headers, into: &parent, using: HTTPFieldsExtractor())
        let span = InstrumentationSystem.tracer.startSpan("\(request.method.rawValue)", context: parent, ofKind: .server)
        span.attributes["http.request.method"] = request.method.rawValue
        span.attributes["url.path"] = request.uri.path

        return try await InstrumentationContext.$current.withValue(span.context) {
            let traceID = span.context.otelTraceID
            var response: Response
            do {
                response = try await next(request, context)
            } catch {
                // The problem middleware renders errors; anything reaching here is a bug or a
                // dropped connection. Record it and let Hummingbird answer.
                let route = context.endpointPath ?? "unmatched"
                finish(span: span, route: route, method: request.method, status: 500, start: start, error: error)
                throw error
            }
            if let traceID {
                response.headers[.traceID] = traceID
            }
            let route = context.endpointPath.map { $0 == "NotFound" ? "unmatched" : $0 } ?? "unmatched"
            finish(span: span, route: route, method: request.method, status: response.status.code, start: start, error: nil)
            return response
        }
    }

    private func finish(span: any Span, route: String, method: HTTPRequest.Method, status: Int, start: ContinuousClock.Instant, error: (any Error)?) {
        let elapsed = ContinuousClock.now - start
        span.operationName = "\(method.rawValue) \(route)"
        span.attributes["http.route"] = route
        span.attributes["http.response.status_code"] = status
        if let error {
            span.recordError(error)
        }
        if status >= 500 {
            span.setStatus(.init(code: .error))
        }
        metrics?.record(method: method.rawValue, route: route, status: status, duration: elapsed)
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        logger.info(
            "request",
            metadata: [
                "method": .string(method.rawValue),
                "route": .string(route),
                "status": .stringConvertible(status),
                "duration_ms": .stringConvertible((milliseconds * 1000).rounded() / 1000),
            ]
        )
        span.end()
    }
}

/// Reads W3C trace context headers from an HTTP request.
struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { carrier[$0] }
    }
}

/// `http_server_requests_total` and `http_server_request_duration_seconds`, by method, route
/// template and status.
struct HTTPMetrics: Sendable {
    let registry: MetricsRegistry

    init(registry: MetricsRegistry) {
        self.registry = registry
    }

    func record(method: String, route: String, status: Int, duration: Duration) {
        let labels = [("method", method), ("route", route), ("status", String(status))]
        registry.counter("http_server_requests_total", help: "HTTP requests served, by method, route template and status.", labels: labels)
            .increment()
        registry.durationHistogram("http_server_request_duration_seconds", help: "Time to produce the response, by method, route template and status.", labels: labels)
            .recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}

extension HTTPField.Name {
    /// `X-Trace-Id`: the trace id of the request, returned on every response.
    public static let traceID = HTTPField.Name("X-Trace-Id")!
}
