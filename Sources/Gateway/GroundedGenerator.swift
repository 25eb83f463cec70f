public import JSONValues
import Crypto
import Foundation
import HTTPTypes
public import Genlayers
import JSONSchema
public import Logging
public import Memory37
public import Memory37Graph
public import Observability
public import ServiceKit
import Tracing

/// The chain behind `/v1/generate/*`: request frame → knowledge context from Memory37 → the
/// endpoint's profile through the generation engine (which rejects and re-asks an output that
/// cites knowledge it was not given) → optionally a broadcast into the campaign's Party Sync
/// stream and a short episode memory recorded back into Memory37.
public struct GroundedGenerator: Sendable {
    public let engine: GenerationEngine
    /// nil when Memory37 is switched off: the endpoints still answer, without knowledge.
    public let knowledge: KnowledgeService?
    let builder: GenerationContextBuilder?
    let events: (any CampaignEventPublisher)?
    let metrics: GatewayMetrics
    let logger: Logger

    public init(engine: GenerationEngine, knowledge: KnowledgeService?, graph: GraphService? = nil, budgets: ContextBudgets = .standard, events: (any CampaignEventPublisher)?, metrics: MetricsRegistry? = nil, logger: Logger = Logger(label: "rpgbot.gateway")) {
        self.engine = engine
        self.knowledge = knowledge
        self.builder = knowledge.map { knowledge in
            var builder = GenerationContextBuilder(knowledge: knowledge, graph: graph, budgets: budgets)
            if let contextTokens = engine.settings.contextTokens {
                for endpoint in DomainEndpoint.allCases {
                    guard let profile = engine.catalog[endpoint.profile] else { continue }
                    let fitted = budgets.fitting(into: Self.knowledgeRoom(profile, contextTokens: contextTokens))
                    guard fitted != budgets else { continue }
                    builder.fitted[endpoint] = fitted
                    logger.notice("knowledge budgets shrunk to fit the model's context", metadata: [
                        "endpoint": "\(endpoint.rawValue)", "context_tokens": "\(contextTokens)", "budgets": "\(fitted)",
                    ])
                }
            }
            return builder
        }
        self.events = events
        self.metrics = GatewayMetrics(registry: metrics)
        self.logger = logger
    }

    /// The knowledge budgets one endpoint's prompts are packed with (nil without Memory37).
    public func knowledgeBudgets(for endpoint: DomainEndpoint) -> ContextBudgets? {
        builder?.budgets(for: endpoint)
    }

    /// Prompt tokens left for knowledge in a model context of `contextTokens`: what the answer's
    /// budget, the prompt templates and a frame leave. Knowledge is what shrinks first; the
    /// answer's budget only shrinks when even a prompt without knowledge does not fit.
    static func knowledgeRoom(_ profile: GenerationProfile, contextTokens: Int) -> Int {
        let templates = GenerationEngine.promptTokens(profile.systemPrompt.text) + GenerationEngine.promptTokens(profile.userPrompt.text)
        // A schema's longest valid answer can exceed a small window on its own; the answer is
        // promised at most half of it, and real answers are far shorter than the longest.
        let answer = min(profile.maxOutputTokens, contextTokens / 2)
        return contextTokens - answer - templates - frameAllowance
    }

    /// Prompt tokens set aside for the frame itself (place, party, NPCs, recent events, intent).
    static let frameAllowance = 400

    /// One grounded generation request, already checked for shape.
    public struct Request: Sendable {
        public var endpoint: DomainEndpoint
        public var campaignID: String
        /// The frame: what the GM and the party know now (the profile's input).
        public var frame: [String: JSONValue]
        public var caller: TokenClaims
        public var broadcast: Bool
        public var record: Bool
        public var idempotencyKey: String?
        /// Identifies the request under its Idempotency-Key: a repeat with the same key and
        /// fingerprint is the same request, with another fingerprint a reused key.
        public var fingerprint: String

        public init(endpoint: DomainEndpoint, campaignID: String, frame: [String: JSONValue], caller: TokenClaims, broadcast: Bool = false, record: Bool = false, idempotencyKey: String? = nil, fingerprint: String? = nil) {
            self.endpoint = endpoint
            self.campaignID = campaignID
            self.frame = frame
            self.caller = caller
            self.broadcast = broadcast
            self.record = record
            self.idempotencyKey = idempotencyKey
            self.fingerprint = fingerprint ?? Self.fingerprint(endpoint: endpoint, frame: frame, campaignID: campaignID, broadcast: broadcast, record: record)
        }

        /// SHA-256 of the endpoint and the request's canonical body.
        public static func fingerprint(endpoint: DomainEndpoint, frame: [String: JSONValue], campaignID: String, broadcast: Bool, record: Bool) -> String {
            var body = frame
            body["campaign_id"] = .string(campaignID)
            body["broadcast"] = .bool(broadcast)
            body["record"] = .bool(record)
            let text = endpoint.rawValue + "\u{0}" + JSONValue.object(body).canonicalText
            return SHA256.hash(data: Data(text.utf8)).hexString
        }
    }

    /// What the knowledge layer contributed.
    public enum KnowledgeState: String, Sendable {
        /// Items were looked up (there may be none that match).
        case used
        /// Memory37 is switched off.
        case off
        /// Memory37 failed; the answer was generated without knowledge.
        case failed
    }

    public struct Result: Sendable {
        public let generation: GenerationResult
        public let context: GroundingContext
        /// Item ids the output cites.
        public let cited: Set<String>
        public let knowledgeState: KnowledgeState
        public let broadcastOffset: Int64?
        public let recordedSourceID: String?
        /// The knowledge version of each domain the context was read from.
        public let knowledgeVersions: [KnowledgeDomain: String]
    }

    public func generate(_ request: Request) async throws -> Result {
        let start = ContinuousClock.now
        do {
            let result = try await withSpan("generate.\(request.endpoint.rawValue)") { span in
                span.attributes["rpgbot.campaign"] = request.campaignID
                return try await run(request, span: span)
            }
            metrics.request(request.endpoint, outcome: "ok", duration: ContinuousClock.now - start)
            return result
        } catch let failure as GenerationFailure {
            metrics.request(request.endpoint, outcome: failure.outcome, duration: ContinuousClock.now - start)
            throw failure
        } catch let error as APIError {
            metrics.request(request.endpoint, outcome: error.problem.code, duration: ContinuousClock.now - start)
            throw error
        } catch let error as any ProblemConvertible {
            metrics.request(request.endpoint, outcome: error.apiError.problem.code, duration: ContinuousClock.now - start)
            throw error
        }
    }

    private func run(_ request: Request, span: any Span) async throws -> Result {
        try checkPermissions(request)
        if request.broadcast, let events, let key = request.idempotencyKey,
           try await events.isIdempotencyKeyReused(campaignID: request.campaignID, actor: request.caller.subject, idempotencyKey: key, requestFingerprint: request.fingerprint) {
            throw APIError(.conflict, code: "idempotency_key_reused", detail: "This Idempotency-Key was already used in campaign \(request.campaignID) for a different request or event; use a new key.")
        }
        var filter = SearchFilter(campaignID: request.campaignID, includeGM: request.caller.role != .player)
        // Every read of this request goes through the same versions, resolved once.
        var versions: [KnowledgeDomain: String] = [:]
        if let knowledge, let read = try? await knowledge.resolve(filter) {
            filter = read.filter
            versions = read.versions
        }
        let profiles = try await checkReferences(request, filter: filter)

        var context = GroundingContext.empty
        var state = KnowledgeState.off
        if let builder {
            let retrievalStart = ContinuousClock.now
            do {
                context = try await withSpan("generate.retrieval") { retrieval in
                    let context = try await builder.build(request.endpoint, frame: request.frame, filter: filter, profiles: profiles)
                    retrieval.attributes["rpgbot.knowledge.items"] = context.items.count
                    retrieval.attributes["rpgbot.knowledge.tokens"] = context.tokens
                    return context
                }
                state = .used
                metrics.retrieval(request.endpoint, context: context, duration: ContinuousClock.now - retrievalStart)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                // Knowledge makes the answer better; its failure must not stop the answer.
                state = .failed
                metrics.knowledgeFailure(request.endpoint)
                logger.warning("knowledge unavailable for grounded generation; answering without it", metadata: ["endpoint": "\(request.endpoint.rawValue)", "error": "\(error)"])
            }
        }
        span.attributes["rpgbot.knowledge.items"] = context.items.count

        let references = Self.References(endpoint: request.endpoint, frame: request.frame, knowledgeIDs: context.ids)
        var input = request.frame
        input["campaign_id"] = nil
        let generation = try await engine.generate(GenerationRequest(
            profile: request.endpoint.profile, input: .object(input),
            context: Self.promptContext(context, campaignID: request.campaignID),
            additionalCheck: { output in references.check(output) },
            allowedValues: references.allowedValues(frame: request.frame)
        ))
        let cited = Self.citations(in: generation.output).intersection(context.ids)

        // Recorded before it is broadcast: a record the store cannot take fails the request
        // (503) with nothing announced, and a retry under the same key records its own output
        // under the same id before announcing it.
        var recorded: String?
        if request.record, let knowledge {
            let document = Self.episode(for: request, output: generation.output, versions: versions)
            _ = try await knowledge.ingest([document])
            recorded = document.sourceID
        }
        var offset: Int64?
        if request.broadcast, let events {
            offset = try await events.publish(
                campaignID: request.campaignID, type: request.endpoint.eventType, actor: request.caller.subject, role: request.caller.role,
                idempotencyKey: request.idempotencyKey, requestFingerprint: request.fingerprint, payload: Self.broadcastPayload(request.endpoint, output: generation.output, context: context, cited: cited)
            )
        }
        return Result(generation: generation, context: context, cited: cited, knowledgeState: state, broadcastOffset: offset, recordedSourceID: recorded, knowledgeVersions: versions)
    }

    private func checkPermissions(_ request: Request) throws {
        guard request.caller.allows(campaign: request.campaignID) else {
            throw APIError(.forbidden, code: "forbidden_campaign", detail: "The token is for campaign \(request.caller.campaign), not \(request.campaignID).")
        }
        if request.broadcast {
            guard request.caller.role != .player else {
                throw APIError(.forbidden, code: "gm_required", detail: "Only a game master (role gm or service) can broadcast into the campaign.")
            }
            guard events != nil else {
                throw APIError(.unprocessableContent, code: "broadcast_unavailable", detail: "Party Sync does not run in this server (see --services), so nothing can be broadcast.")
            }
        }
        if request.record, request.caller.role == .player {
            // A recorded episode grounds every later prompt of the campaign: campaign memory is
            // written by game masters, as ingestion is.
            throw APIError(.forbidden, code: "gm_required", detail: "Only a game master (role gm or service) can record into the campaign's memory.")
        }
        if request.record, knowledge == nil {
            throw APIError(.unprocessableContent, code: "record_unavailable", detail: "Memory37 is switched off in this server (RPGBOT_MEMORY37_ENABLED=false), so nothing can be recorded.")
        }
    }

    /// The campaign and the NPC ids the frame names must exist (as far as the caller may see);
    /// returns the NPCs' profiles, which the context reuses.
    private func checkReferences(_ request: Request, filter: SearchFilter) async throws -> [String: NPCProfile] {
        guard let knowledge else { return [:] }
        let known: Bool
        do {
            known = try await knowledge.knows(campaign: request.campaignID)
        } catch {
            // Unanswerable is not unknown: retrieval degrades on its own below.
            return [:]
        }
        guard known else {
            throw APIError.notFound("Campaign '\(request.campaignID)' has no knowledge here; ingest its content first (rpgbot ingest … --campaign \(request.campaignID)).", code: "unknown_campaign")
        }
        let frame = FrameReader(request.frame)
        let npcIDs = frame.objects("npcs").compactMap { $0["id"]?.stringValue } + frame.objects("combatants").compactMap { $0["npc_id"]?.stringValue }
        var profiles: [String: NPCProfile] = [:]
        for id in Set(npcIDs).sorted() {
            guard let profile = try? await knowledge.npcProfile(id, filter: filter) else {
                throw APIError.notFound("No NPC with the id '\(id)' is visible in campaign '\(request.campaignID)'.", code: "unknown_npc")
            }
            profiles[id] = profile
        }
        return profiles
    }

    static func promptContext(_ context: GroundingContext, campaignID: String) -> JSONValue {
        guard case .object(var members) = context.json else { return .object([:]) }
        members["campaign_id"] = .string(campaignID)
        return .object(members)
    }

    /// Every knowledge id an output cites: `lore_refs`, and `revealed_facts[].lore_ref`.
    static func citations(in output: JSONValue) -> Set<String> {
        var ids = Set((output.objectValue?["lore_refs"]?.arrayValue ?? []).compactMap(\.stringValue))
        for fact in output.objectValue?["revealed_facts"]?.arrayValue ?? [] {
            if let id = fact.objectValue?["lore_ref"]?.stringValue { ids.insert(id) }
        }
        return ids
    }

    static func broadcastPayload(_ endpoint: DomainEndpoint, output: JSONValue, context: GroundingContext, cited: Set<String>) -> JSONValue {
        .object([
            "profile": .string(endpoint.profile),
            "output": output,
            "knowledge_ids": .array(context.items.filter { cited.contains($0.id) }.map { .string($0.id) }),
        ])
    }

    /// A short episode memory of a result, so later requests can recall it. Its id derives from
    /// the Idempotency-Key when there is one (a repeat replaces, never duplicates), else from
    /// the output.
    static func episode(for request: Request, output: JSONValue, versions: [KnowledgeDomain: String] = [:]) -> KnowledgeDocument {
        let members = output.objectValue ?? [:]
        let seed = request.idempotencyKey.map { "key:\(request.caller.subject):\($0)" } ?? output.canonicalText
        let digest = SHA256.hash(data: Data(seed.utf8)).prefix(8).hexString
        let frame = FrameReader(request.frame)
        let place = frame.text("location")
        let title = members["title"]?.stringValue ?? "\(request.endpoint.rawValue.capitalized)\(place.map { " at \($0)" } ?? "")"
        var body = [members["summary"], members["narration"]].compactMap { $0?.stringValue }.joined(separator: "\n\n")
        if let intent = frame.text("intent") { body = "The players: \(intent)\n\n" + body }
        var metadata: [String: JSONValue] = ["generated_by": .string(request.endpoint.rawValue), "recorded_at": .string(Date().formatted(.iso8601))]
        if let place { metadata["location"] = .string(place) }
        if let session = frame.integer("session") { metadata["session"] = .number(Double(session)) }
        if !versions.isEmpty { metadata["knowledge_versions"] = KnowledgeRoutes.encode(versions) }
        return KnowledgeDocument(
            sourceID: "generated.\(request.endpoint.rawValue).\(digest)", campaignID: request.campaignID, domain: .episode,
            title: title, visibility: .players, metadata: metadata, body: body.isEmpty ? title : body
        )
    }
}
