import Instrumentation
import Tracing

/// Links a job's run to the request that created it, which may have been answered long
/// before: the request's trace context is kept with the job as a W3C `traceparent`.
enum TraceLink {
    /// The current span's context as a `traceparent`, when tracing is on.
    static func current() -> String? {
        guard let context = InstrumentationContext.current else { return nil }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        return carrier["traceparent"]
    }

    static func link(_ span: any Span, to traceparent: String) {
        var context = InstrumentationContext.topLevel
        InstrumentationSystem.instrument.extract(["traceparent": traceparent], into: &context, using: DictionaryExtractor())
        span.addLink(SpanLink(context: context, attributes: [:]))
    }

    struct DictionaryInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
            carrier[key] = value
        }
    }

    struct DictionaryExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? {
            carrier[key]
        }
    }
}
