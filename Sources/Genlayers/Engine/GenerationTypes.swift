public import JSONValues
public import JSONSchema
public import ServiceKit

/// One generation to run.
public struct GenerationRequest: Sendable {
    public var profile: String
    /// What the caller wants generated from: checked against the profile's input schema.
    public var input: JSONValue
    /// Background the prompt may use (knowledge, campaign state); free-form.
    public var context: JSONValue
    /// Overrides of the profile's provider and model.
    public var provider: String?
    public var model: String?
    /// Checks beyond the schema (for example that cited ids were given); their errors are fed
    /// back to the model like schema errors.
    public var additionalCheck: (@Sendable (JSONValue) -> [ValidationError])?
    /// Fields that may only hold one of these values, by instance path pattern (`/lore_refs/*`):
    /// the schema the model is given lists them as an `enum` (``SchemaNarrowing``), and with
    /// the profile's `repair` a value outside them is dropped from its list.
    public var allowedValues: [String: [String]]

    public init(profile: String, input: JSONValue = .object([:]), context: JSONValue = .object([:]), provider: String? = nil, model: String? = nil, additionalCheck: (@Sendable (JSONValue) -> [ValidationError])? = nil, allowedValues: [String: [String]] = [:]) {
        self.profile = profile
        self.input = input
        self.context = context
        self.provider = provider
        self.model = model
        self.additionalCheck = additionalCheck
        self.allowedValues = allowedValues
    }
}

/// What one model call came to.
public struct AttemptRecord: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        case valid
        /// Valid after mechanical repairs (``OutputRepair``), listed in `repairs`.
        case repaired
        case invalidJSON = "invalid_json"
        case schemaViolation = "schema_violation"
        case truncated
        case refusal
        case providerError = "provider_error"
    }

    public let number: Int
    public let outcome: Outcome
    /// What was wrong, as fed back to the model.
    public let errors: [String]
    public let latencyMilliseconds: Double
    /// The start of a rejected answer, for whoever investigates (nil for valid ones).
    public let answerExcerpt: String?
    /// What was repaired, for a `repaired` attempt.
    public let repairs: [OutputRepair.Repair]

    static let excerptLength = 300

    public init(number: Int, outcome: Outcome, errors: [String], latencyMilliseconds: Double, answer: String? = nil, repairs: [OutputRepair.Repair] = []) {
        self.number = number
        self.outcome = outcome
        self.errors = errors
        self.latencyMilliseconds = latencyMilliseconds
        self.repairs = repairs
        self.answerExcerpt = answer.map { $0.count > Self.excerptLength ? String($0.prefix(Self.excerptLength)) + "…" : $0 }
    }

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "attempt": .number(Double(number)),
            "outcome": .string(outcome.rawValue),
            "errors": .array(errors.map { .string($0) }),
            "latency_ms": .number((latencyMilliseconds * 10).rounded() / 10),
        ]
        if let answerExcerpt { object["answer_excerpt"] = .string(answerExcerpt) }
        if !repairs.isEmpty {
            object["repairs"] = .array(repairs.map { .object(["pointer": .string($0.pointer), "kind": .string($0.kind.rawValue)]) })
        }
        return .object(object)
    }
}

/// A generation that produced output valid against its profile's schema.
public struct GenerationResult: Sendable {
    public let profile: String
    public let output: JSONValue
    public let attempts: [AttemptRecord]
    /// Summed over every attempt.
    public let usage: TokenUsage
    public let provider: String
    public let model: String
    public let latency: Duration

    public var latencyMilliseconds: Double {
        Double(latency.components.seconds) * 1000 + Double(latency.components.attoseconds) / 1e15
    }
}

/// Why a generation returned no output. Output that fails validation is never returned:
/// it ends here as ``invalidOutput``.
public enum GenerationFailure: Error, Sendable, CustomStringConvertible {
    case unknownProfile(String)
    case unknownProvider(String)
    /// The request's input does not match the profile's input schema.
    case invalidInput([ValidationError])
    /// The model declined; not retried.
    case refused(String, attempts: [AttemptRecord], usage: TokenUsage, model: String)
    /// Every attempt's answer was invalid (bad JSON, schema violation, truncated).
    case invalidOutput(attempts: [AttemptRecord], usage: TokenUsage, model: String)
    /// The provider could not be reached or rejected the request, after the transport retries.
    case provider(ProviderError, attempts: [AttemptRecord], usage: TokenUsage)

    public var attempts: [AttemptRecord] {
        switch self {
        case .refused(_, let attempts, _, _), .invalidOutput(let attempts, _, _), .provider(_, let attempts, _): attempts
        default: []
        }
    }

    public var outcome: String {
        switch self {
        case .unknownProfile: "unknown_profile"
        case .unknownProvider: "unknown_provider"
        case .invalidInput: "invalid_input"
        case .refused: "refused"
        case .invalidOutput: "invalid_output"
        case .provider: "provider_error"
        }
    }

    public var description: String {
        switch self {
        case .unknownProfile(let name): "no generation profile named '\(name)'"
        case .unknownProvider(let name): "no provider named '\(name)'"
        case .invalidInput(let errors): "the input does not match the profile's input schema: " + errors.map(\.description).joined(separator: "; ")
        case .refused(let text, _, _, _): "the model refused: \(text)"
        case .invalidOutput(let attempts, _, _):
            "no valid output after \(attempts.count) attempts; last errors: " + (attempts.last?.errors.joined(separator: "; ") ?? "")
        case .provider(let error, let attempts, _): "the provider failed after \(attempts.count) attempts: \(error)"
        }
    }
}
