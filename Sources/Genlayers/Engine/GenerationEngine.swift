import JSONValues
import Foundation
import JSONSchema
public import Logging
public import Observability
import ServiceKit
import Tracing

/// Runs a generation: renders the profile's prompts, calls the provider, parses and validates
/// the answer, and re-asks with the errors until the output is valid or the profile's
/// `max_retries` are spent (the loop Instructor made popular). Transport failures (429, 5xx,
/// timeouts) are retried separately with backoff, honouring `Retry-After`.
///
/// The guarantee: a returned ``GenerationResult`` holds output valid against the profile's
/// schema (and the request's additional check); anything else is a ``GenerationFailure``.
public struct GenerationEngine: Sendable {
    public let catalog: ProfileCatalog
    public let settings: GenlayersSettings
    private let providers: [String: any LanguageModelProvider]
    private let metrics: GenlayersMetrics
    private let logger: Logger

    /// The longest answer text kept when it is fed back to the model.
    static let feedbackExcerptLimit = 8000
    /// The longest start of a cut-off answer fed back.
    static let truncatedExcerptLimit = 600

    public init(catalog: ProfileCatalog, providers: [any LanguageModelProvider], settings: GenlayersSettings, metrics: MetricsRegistry? = nil, logger: Logger = Logger(label: "rpgbot.genlayers")) {
        self.catalog = catalog
        self.settings = settings
        self.providers = Dictionary(providers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.metrics = GenlayersMetrics(registry: metrics)
        self.logger = logger
    }

    /// The providers every configuration has: offline, and both OpenAI dialects on the
    /// configured server.
    public static func standardProviders(_ settings: ProviderSettings) -> [any LanguageModelProvider] {
        [OfflineProvider(), OpenAIResponsesProvider(settings: settings), OpenAIChatProvider(settings: settings)]
    }

    public static let providerNames: Set<String> = [OfflineProvider.providerName, OpenAIResponsesProvider.providerName, OpenAIChatProvider.providerName]

    /// - Throws: ``GenerationFailure``.
    public func generate(_ request: GenerationRequest) async throws -> GenerationResult {
        guard let profile = catalog[request.profile] else { throw GenerationFailure.unknownProfile(request.profile) }
        let providerName = request.provider ?? profile.provider ?? settings.provider
        guard let provider = providers[providerName] else { throw GenerationFailure.unknownProvider(providerName) }
        if let inputSchema = profile.inputSchema {
            let errors = inputSchema.validate(request.input)
            if !errors.isEmpty {
                metrics.recordGeneration(profile: profile.name, provider: provider.name, outcome: "invalid_input", attempts: 0, usage: TokenUsage(), duration: .zero)
                throw GenerationFailure.invalidInput(errors)
            }
        }
        return try await withSpan("generation \(profile.name)", ofKind: .internal) { span in
            span.attributes["rpgbot.generation.profile"] = profile.name
            span.attributes["gen_ai.provider.name"] = provider.name
            let start = ContinuousClock.now
            do {
                let result = try await run(profile: profile, provider: provider, request: request, span: span)
                span.attributes["rpgbot.generation.attempts"] = result.attempts.count
                span.attributes["gen_ai.response.model"] = result.model
                span.attributes["gen_ai.usage.input_tokens"] = result.usage.inputTokens
                span.attributes["gen_ai.usage.output_tokens"] = result.usage.outputTokens
                metrics.recordGeneration(profile: profile.name, provider: provider.name, outcome: "success", attempts: result.attempts.count, usage: result.usage, duration: result.latency)
                return result
            } catch let failure as GenerationFailure {
                let usage: TokenUsage =
                    switch failure {
                    case .refused(_, _, let usage, _), .invalidOutput(_, let usage, _), .provider(_, _, let usage): usage
                    default: TokenUsage()
                    }
                span.attributes["rpgbot.generation.outcome"] = failure.outcome
                span.setStatus(SpanStatus(code: .error, message: failure.outcome))
                metrics.recordGeneration(profile: profile.name, provider: provider.name, outcome: failure.outcome, attempts: failure.attempts.count, usage: usage, duration: ContinuousClock.now - start)
                logger.warning("generation failed", metadata: ["profile": "\(profile.name)", "provider": "\(provider.name)", "outcome": "\(failure.outcome)", "attempts": "\(failure.attempts.count)", "reason": "\(failure)"])
                throw failure
            }
        }
    }

    private func run(profile: GenerationProfile, provider: any LanguageModelProvider, request: GenerationRequest, span: any Span) async throws(GenerationFailure) -> GenerationResult {
        let start = ContinuousClock.now
        let shaping = settings.requestShaping
        let (schemaDocument, schemaText) = shaping ? Self.schemaSent(profile: profile, request: request, grammar: provider.grammar) : (profile.schemaDocument, profile.schemaText)
        let repairing = profile.repair && shaping
        let values: [String: JSONValue] = [
            "input": request.input,
            "context": request.context,
            "input_json": .string(request.input.canonicalText),
            "context_json": .string(request.context.canonicalText),
            "schema_json": .string(schemaText),
            "profile": .string(profile.name),
        ]
        var messages = [
            ModelMessage(.system, profile.systemPrompt.render(values)),
            ModelMessage(.user, profile.userPrompt.render(values)),
        ]
        let model = request.model ?? profile.model ?? provider.defaultModel
        let maxOutputTokens = shaping
            ? Self.outputBudget(profile: profile, schema: schemaDocument, messages: messages, contextTokens: settings.contextTokens)
            : (profile.sizesOutputFromSchema ? 1200 : profile.maxOutputTokens)
        var attempts: [AttemptRecord] = []
        var usage = TokenUsage()
        var answeringModel = model

        for number in 1...(profile.maxRetries + 1) {
            let modelRequest = ModelRequest(
                schemaName: profile.name, schemaDescription: profile.description.isEmpty ? nil : profile.description,
                schemaText: schemaText, strict: profile.strict, messages: messages, model: model,
                temperature: profile.temperature, maxOutputTokens: maxOutputTokens,
                structured: StructuredRequest(schema: schemaDocument, input: request.input, context: request.context, offlineTemplate: profile.offlineTemplate, attempt: number)
            )
            let attemptStart = ContinuousClock.now
            let reply: ModelReply
            do {
                reply = try await call(provider, modelRequest, attempt: number)
            } catch {
                attempts.append(AttemptRecord(number: number, outcome: .providerError, errors: [error.description], latencyMilliseconds: Self.milliseconds(ContinuousClock.now - attemptStart)))
                throw .provider(error, attempts: attempts, usage: usage)
            }
            usage = usage + reply.usage
            answeringModel = reply.model
            let latency = Self.milliseconds(ContinuousClock.now - attemptStart)

            let answer: String
            switch reply.content {
            case .refusal(let text):
                attempts.append(AttemptRecord(number: number, outcome: .refusal, errors: [text], latencyMilliseconds: latency))
                throw .refused(text, attempts: attempts, usage: usage, model: answeringModel)
            case .truncated(let partial, let reason):
                // A tighter budget than the one just overrun, and only the start of the cut-off
                // answer: fed back whole it would fill the context the re-ask needs.
                let error = "the answer was cut off (\(reason)) after about \(maxOutputTokens) tokens, before the JSON was complete; answer again with a complete JSON object of at most about \(maxOutputTokens / 2) tokens: one or two short sentences per text field, the fewest list items allowed"
                attempts.append(AttemptRecord(number: number, outcome: .truncated, errors: [error], latencyMilliseconds: latency, answer: partial))
                messages += Self.feedback(answer: partial, errors: [error], limit: Self.truncatedExcerptLimit)
                continue
            case .text(let text):
                answer = text
            }
            var output: JSONValue
            var repairs: [OutputRepair.Repair] = []
            do {
                let parsed = try AnswerParser.parse(answer, replacingBadEscapes: repairing)
                output = parsed.value
                if parsed.replacedEscapes { repairs.append(OutputRepair.Repair(kind: .escapeReplaced, pointer: "")) }
            } catch {
                let message = "(root): the answer is not valid JSON (\(error.reason)); answer with one JSON object only, no prose"
                attempts.append(AttemptRecord(number: number, outcome: .invalidJSON, errors: [message], latencyMilliseconds: latency, answer: answer))
                messages += Self.feedback(answer: answer, errors: [message])
                continue
            }
            let errors = Self.errors(of: output, profile: profile, request: request)
            var lines = errors.prefix(20).map { "\($0.instanceLocation.isEmpty ? "(root)" : $0.instanceLocation): \($0.message)" }
            if !errors.isEmpty {
                guard repairing, let (repaired, made) = Self.repaired(output, errors: errors, profile: profile, request: request) else {
                    attempts.append(AttemptRecord(number: number, outcome: .schemaViolation, errors: lines, latencyMilliseconds: latency, answer: answer))
                    messages += Self.feedback(answer: answer, errors: lines)
                    continue
                }
                output = repaired
                repairs += made
            } else if !repairs.isEmpty {
                lines = ["(root): an escape that is no character"]
            }
            if repairs.isEmpty {
                attempts.append(AttemptRecord(number: number, outcome: .valid, errors: [], latencyMilliseconds: latency))
            } else {
                attempts.append(AttemptRecord(number: number, outcome: .repaired, errors: lines, latencyMilliseconds: latency, answer: answer, repairs: repairs))
                metrics.recordRepairs(profile: profile.name, repairs)
            }
            return GenerationResult(profile: profile.name, output: output, attempts: attempts, usage: usage, provider: provider.name, model: answeringModel, latency: ContinuousClock.now - start)
        }
        throw .invalidOutput(attempts: attempts, usage: usage, model: answeringModel)
    }

    /// What the model is given: the profile's schema narrowed to this request's values, then
    /// rewritten into what the provider's grammar enforces, as text in the author's order.
    static func schemaSent(profile: GenerationProfile, request: GenerationRequest, grammar: GrammarDialect) -> (JSONValue, String) {
        var schema = profile.schemaDocument
        if !request.allowedValues.isEmpty { schema = SchemaNarrowing.narrowed(schema, allowed: request.allowedValues) }
        schema = grammar.enforceable(schema)
        guard schema != profile.schemaDocument else { return (profile.schemaDocument, profile.schemaText) }
        return (schema, SchemaText.text(of: schema, order: profile.schemaMemberOrder))
    }

    /// The answer's token budget: the profile's, or sized from the schema sent when the profile
    /// leaves it out; within a known context window, what the prompt leaves of it.
    static func outputBudget(profile: GenerationProfile, schema: JSONValue, messages: [ModelMessage], contextTokens: Int?) -> Int {
        var budget = profile.sizesOutputFromSchema ? min(profile.maxOutputTokens, OutputBudget.tokens(for: schema)) : profile.maxOutputTokens
        if let contextTokens {
            // Chat templates add a few tokens per message.
            let prompt = messages.reduce(0) { $0 + promptTokens($1.content) + 8 }
            budget = min(budget, max(contextTokens - prompt, minimumOutputTokens))
        }
        return budget
    }

    /// Tokens a prompt text takes, estimated on the high side: common tokenizers average about
    /// four characters of English per token; a tenth more covers names and punctuation.
    public static func promptTokens(_ text: String) -> Int {
        (text.utf8.count * 11 + 39) / 40
    }

    /// The smallest answer budget ever sent, even when the prompt leaves less of the context.
    static let minimumOutputTokens = 64

    /// The output with its mechanical faults repaired, if that makes it valid. Two rounds: the
    /// request's own check (citations) only runs once the schema is satisfied.
    static func repaired(_ output: JSONValue, errors: [ValidationError], profile: GenerationProfile, request: GenerationRequest) -> (JSONValue, [OutputRepair.Repair])? {
        var (current, remaining, repairs) = (output, errors, [OutputRepair.Repair]())
        for _ in 0..<2 {
            guard let (next, made) = OutputRepair.repair(current, errors: remaining, schema: profile.schemaDocument, allowed: request.allowedValues) else { return nil }
            current = next
            repairs += made
            remaining = Self.errors(of: current, profile: profile, request: request)
            if remaining.isEmpty { return (current, repairs) }
        }
        return nil
    }

    /// The schema's errors, else the request's own check's.
    static func errors(of output: JSONValue, profile: GenerationProfile, request: GenerationRequest) -> [ValidationError] {
        let errors = profile.schema.validate(output)
        guard errors.isEmpty, let check = request.additionalCheck else { return errors }
        return check(output)
    }

    /// One model call, retried after transient failures with exponential backoff and jitter;
    /// a `Retry-After` is honoured unless it asks for more than the longest backoff.
    private func call(_ provider: any LanguageModelProvider, _ request: ModelRequest, attempt: Int) async throws(ProviderError) -> ModelReply {
        var transportTry = 0
        while true {
            let start = ContinuousClock.now
            do {
                let reply = try await withSpan("generation.attempt", ofKind: .client) { span in
                    span.attributes["rpgbot.generation.attempt"] = attempt
                    span.attributes["gen_ai.request.model"] = request.model
                    return try await provider.complete(request)
                }
                metrics.recordProviderCall(provider: provider.name, outcome: "ok", duration: ContinuousClock.now - start)
                return reply
            } catch {
                let error = (error as? ProviderError) ?? .transport("\(error)")
                metrics.recordProviderCall(provider: provider.name, outcome: Self.label(error), duration: ContinuousClock.now - start)
                guard error.isTransient, transportTry < settings.transportRetries else { throw error }
                let backoff = Self.backoff(try: transportTry, initial: settings.initialBackoff, maximum: settings.maxBackoff)
                let wait = error.retryAfter ?? backoff
                guard wait <= settings.maxBackoff else { throw error }
                logger.notice("provider call failed; retrying", metadata: ["provider": "\(provider.name)", "error": "\(error)", "wait_ms": "\(Self.milliseconds(wait))"])
                transportTry += 1
                do {
                    try await Task.sleep(for: wait)
                } catch {
                    throw .transport("cancelled while waiting to retry")
                }
            }
        }
    }

    static func backoff(try number: Int, initial: Duration, maximum: Duration) -> Duration {
        let exponential = initial * (1 << min(number, 16))
        let capped = min(exponential, maximum)
        return capped * Double.random(in: 0.5...1.0)
    }

    /// The failed answer and the errors, as the next two messages of the conversation.
    static func feedback(answer: String, errors: [String], limit: Int = feedbackExcerptLimit) -> [ModelMessage] {
        let excerpt = answer.count > limit ? String(answer.prefix(limit)) + "…" : answer
        let list = errors.map { "- \($0)" }.joined(separator: "\n")
        return [
            ModelMessage(.assistant, excerpt.isEmpty ? "(empty answer)" : excerpt),
            ModelMessage(.user, "Your previous answer does not match the required JSON schema:\n\(list)\nCorrect your JSON ONLY RESPONSE, based on the errors above. Answer with the complete corrected JSON object and nothing else."),
        ]
    }

    static func label(_ error: ProviderError) -> String {
        switch error {
        case .rateLimited: "rate_limited"
        case .unavailable: "unavailable"
        case .timeout: "timeout"
        case .transport: "transport"
        case .rejected: "rejected"
        case .malformedResponse: "malformed_response"
        }
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
