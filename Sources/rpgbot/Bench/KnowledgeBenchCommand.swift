import CapabilityKit
import Gateway
import ArgumentParser
import Foundation
import Logging
import Memory37
import Persistence
import PostgresNIO
import ServiceLifecycle
import RPGBotApp
import ServiceKit

/// `rpgbot bench knowledge`: retrieval quality on a query set (`--eval`), or ingest throughput
/// and search latency at generated scales, per store.
struct KnowledgeBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knowledge",
        abstract: "Measure Memory37: retrieval quality (--eval FILE) or ingest throughput and search latency per store.",
        discussion: """
            With --eval, the demo content (campaign demo), the 5e-database SRD import and Ironsworn
            classic from Datasworn (both global) are ingested into a fresh SQLite store and every
            query runs in three modes (BM25 only, vectors only, hybrid); a query scores when a
            hit's source id is one of its expected ids. Figures are printed for the tuning half,
            the held-out half and both, and per kind of question for the held-out half.
            Without --eval, generated documents are ingested at each scale into each store and
            timed, then random queries are timed.
            """
    )

    @Option(help: ArgumentHelp("A query set (eval/knowledge-queries.json) to score.", valueName: "file"))
    var eval: String?

    @Option(help: ArgumentHelp("The 5e-database repository for --eval.", valueName: "dir"))
    var srd: String = "../shared/data/5e-database"

    @Option(help: ArgumentHelp("Demo content for --eval.", valueName: "dir"))
    var content: String = "content/demo"

    @Option(help: ArgumentHelp("The Datasworn ruleset for --eval (Ironsworn classic).", valueName: "file"))
    var datasworn: String = "../shared/data/datasworn/datasworn/classic/classic.json"

    @Option(help: ArgumentHelp("Comma-separated chunk counts.", valueName: "list"))
    var chunks: String = "10000,100000"

    @Option(help: ArgumentHelp("Comma-separated stores: memory, sqlite, postgres.", valueName: "list"))
    var stores: String = "sqlite,memory"

    @Option(help: ArgumentHelp("PostgreSQL (with pgvector) for the postgres store; each run uses a fresh database created there.", valueName: "url"))
    var postgresURL: String?

    @Option(help: "Queries timed per scale and store.")
    var queries: Int = 300

    @Option(help: "Versions of the content stored: with more than 1, each scope and domain gets further published copies of its working version (aliases stay on the working ones), search is timed again, and alias switches are timed.")
    var versions: Int = 1

    @Option(help: "Alias switches timed (with --versions above 1).")
    var switches: Int = 200

    @Option(help: ArgumentHelp("The embedder: auto, minilm, hashing or openai (default: RPGBOT_EMBEDDER, as for serve). An embedder named here must be available: no fallback is measured in its place.", valueName: "kind"))
    var embedder: String?

    @Option(help: ArgumentHelp("The minilm embedder's files (default: RPGBOT_MODEL_DIR, or models/all-MiniLM-L6-v2).", valueName: "dir"))
    var modelDir: String?

    @Option(help: ArgumentHelp("Without --eval: time hybrid search as if the embedder's vectors weighed this much in fusion (the hashing embedder's weight is 0, so its hybrid search reads no vectors; --fusion-weight 1 with RPGBOT_EMBEDDING_DIMENSIONS=384 times what a 384-dimension model's hybrid search reads).", valueName: "weight"))
    var fusionWeight: Double?

    @Flag(help: "With --eval, print each query's outcome and top hits.")
    var verbose = false

    func run() async throws {
        if let eval {
            try await evaluate(eval)
        } else {
            try await scale()
        }
    }

    // MARK: - Retrieval quality

    struct Query: Decodable {
        let query: String
        let expected: [String]
        let campaign: String?
        let domains: [String]?
        let kind: String?
        /// `tune` or `holdout`.
        let split: String?
        /// `all` (default): recall counts every expected id; `any`: one of them is a full answer.
        let match: String?
    }

    /// Hit@1, Recall@5 and MRR@10 summed over queries.
    struct Score {
        var count = 0
        var hit1 = 0.0, recall5 = 0.0, mrr = 0.0

        mutating func add(hit1: Bool, recall5: Double, reciprocalRank: Double) {
            count += 1
            self.hit1 += hit1 ? 1 : 0
            self.recall5 += recall5
            mrr += reciprocalRank
        }

        var text: String {
            guard count > 0 else { return "   –       –       –  " }
            let n = Double(count)
            return String(format: "%.3f   %.3f   %.3f", hit1 / n, recall5 / n, mrr / n)
        }
    }

    struct QuerySet: Decodable {
        let queries: [Query]
    }

    func evaluate(_ path: String) async throws {
        guard let data = FileManager.default.contents(atPath: path), let set = try? JSONDecoder().decode(QuerySet.self, from: data) else {
            throw StartupError(message: "cannot read \(path) as a query set", exitCode: RPGBotCommand.usageExitCode)
        }
        let demo = DocumentLoader(defaultDomain: .lore, defaultCampaign: "demo").load(URL(fileURLWithPath: content))
        let srdDocuments = FiveEDatabaseImporter().load(URL(fileURLWithPath: srd))
        let ironsworn = DataswornImporter().load(URL(fileURLWithPath: datasworn))
        let failures = demo.failures + srdDocuments.failures + ironsworn.failures
        guard failures.isEmpty, !srdDocuments.documents.isEmpty, !ironsworn.documents.isEmpty else {
            throw StartupError(message: "cannot load the content: \(failures.prefix(3).map(\.description).joined(separator: "; "))", exitCode: 1)
        }
        let halves = ["tune", "holdout"]
        let kinds = ["name", "paraphrase", "multi", "negation", "russian"]
        try await withStore("sqlite") { service in
            let started = ContinuousClock.now
            let ingested = try await service.ingest(demo.documents + srdDocuments.documents + ironsworn.documents)
            let ingestSeconds = (ContinuousClock.now - started).inSeconds
            let counts = try await service.counts()
            let splitCounts = halves.map { half in set.queries.filter { ($0.split ?? "tune") == half }.count }
            print("knowledge evaluation: \(set.queries.count) queries (\(splitCounts[0]) tuning, \(splitCounts[1]) held out) over \(counts.documents) documents, \(counts.chunks) chunks (demo + 5e-database SRD + Ironsworn classic), SQLite, embedder \(service.embedder.model)")
            var embeddings: [Duration] = []
            for query in set.queries {
                let embedStarted = ContinuousClock.now
                _ = try await service.embedder.embed([query.query])
                embeddings.append(ContinuousClock.now - embedStarted)
            }
            embeddings.sort()
            print(String(format: "  ingest %.1f s = %.1f chunks/s (embedding included); one query's embedding p50 %.2f ms, p99 %.2f ms",
                         ingestSeconds, Double(ingested.chunksWritten) / ingestSeconds,
                         embeddings[embeddings.count / 2].inSeconds * 1000, embeddings[min(embeddings.count - 1, embeddings.count * 99 / 100)].inSeconds * 1000))
            print("  mode     tuning: Hit@1 R@5   MRR@10   held out: Hit@1 R@5   MRR@10   all: Hit@1 R@5   MRR@10")
            var heldOutKinds: [SearchMode: [String: Score]] = [:]
            for mode in [SearchMode.bm25, .vector, .hybrid] {
                var scores: [String: Score] = [:]
                for query in set.queries {
                    let domains = Set((query.domains ?? []).compactMap(KnowledgeDomain.init(rawValue:)))
                    let hits = try await service.search(query.query, filter: SearchFilter(campaignID: query.campaign, domains: domains, includeGM: true), k: 30, mode: mode)
                    var sources: [String] = []
                    for hit in hits where !sources.contains(hit.chunk.sourceID) { sources.append(hit.chunk.sourceID) }
                    let expected = Set(query.expected)
                    let first = sources.first.map(expected.contains) ?? false
                    let found = expected.intersection(sources.prefix(5)).count
                    let recall = query.match == "any" ? (found > 0 ? 1 : 0) : Double(found) / Double(expected.count)
                    let reciprocal = sources.prefix(10).firstIndex(where: expected.contains).map { 1 / Double($0 + 1) } ?? 0
                    let half = query.split ?? "tune"
                    scores[half, default: Score()].add(hit1: first, recall5: recall, reciprocalRank: reciprocal)
                    scores["all", default: Score()].add(hit1: first, recall5: recall, reciprocalRank: reciprocal)
                    if half == "holdout" {
                        heldOutKinds[mode, default: [:]][query.kind ?? "paraphrase", default: Score()].add(hit1: first, recall5: recall, reciprocalRank: reciprocal)
                    }
                    if verbose {
                        print("    [\(mode.rawValue)] [\(half)] \(first ? "ok " : "MISS") R@5 \(found)/\(expected.count) \(query.query) -> \(sources.prefix(5).joined(separator: ", "))")
                    }
                }
                print("  \(mode.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0))  \(scores["tune", default: Score()].text)    \(scores["holdout", default: Score()].text)    \(scores["all", default: Score()].text)")
            }
            print("  held out by kind, Hit@1 (questions): " + kinds.map { kind in
                let count = heldOutKinds[.hybrid]?[kind]?.count ?? 0
                let rates = [SearchMode.bm25, .vector, .hybrid].map { mode -> String in
                    guard let score = heldOutKinds[mode]?[kind], score.count > 0 else { return "–" }
                    return String(format: "%.2f", score.hit1 / Double(score.count))
                }
                return "\(kind) (\(count)) bm25 \(rates[0]) / vector \(rates[1]) / hybrid \(rates[2])"
            }.joined(separator: "; "))
        }
    }

    // MARK: - Scale

    func scale() async throws {
        let counts = try chunks.split(separator: ",").map { text -> Int in
            guard let count = Int(text.trimmingCharacters(in: .whitespaces)), count > 0 else { throw StartupError(message: "--chunks: bad count '\(text)'", exitCode: RPGBotCommand.usageExitCode) }
            return count
        }
        let kinds = stores.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for kind in kinds where !["memory", "sqlite", "postgres"].contains(kind) {
            throw StartupError(message: "--stores: unknown store '\(kind)'", exitCode: RPGBotCommand.usageExitCode)
        }
        if kinds.contains("postgres"), postgresURL == nil {
            throw StartupError(message: "--stores postgres needs --postgres-url", exitCode: RPGBotCommand.usageExitCode)
        }
        print("knowledge benchmark: generated documents of 120 words from a Zipf vocabulary of 8,000 (one chunk each), half in one campaign and half global, embedder \(knowledgeEmbedderName()); ingest in batches of 500 documents (the campaign graph not maintained); \(queries) hybrid queries (4 words of a random document, k = 8) per run, one task")
        for count in counts {
            let corpus = SyntheticCorpus(documents: count)
            for kind in kinds {
                try await withStore(kind, nodes: versions > 1 ? 2 : 1) { nodes in
                    let service = nodes[0]
                    var ingested = 0
                    let batches = stride(from: 0, to: count, by: 500).map { corpus.documents($0..<min(count, $0 + 500)) }
                    let start = ContinuousClock.now
                    for batch in batches {
                        ingested += try await service.ingest(batch).chunksWritten
                    }
                    let seconds = (ContinuousClock.now - start).inSeconds
                    let figures = try await timeSearches(service, corpus: corpus)
                    let hybrid = figures[.hybrid]!, bm25 = figures[.bm25]!, vector = figures[.vector]!
                    print(String(format: "  %-8@ %7d chunks: ingest %.1f s = %.0f chunks/s; hybrid search p50 %.2f ms, p99 %.2f ms (BM25 only %.2f / %.2f, vectors only %.2f / %.2f)",
                                 kind, ingested, seconds, Double(ingested) / seconds, hybrid.p50, hybrid.p99, bm25.p50, bm25.p99, vector.p50, vector.p99))
                    guard versions > 1 else { return }
                    try await measureVersions(kind, nodes: nodes, corpus: corpus, single: figures)
                }
            }
        }
    }

    /// The embedder the scale runs use, as the header names it.
    func knowledgeEmbedderName() -> String {
        var name = (try? ConfigurationLoader().knowledge().embedder.rawValue) ?? "auto"
        if let embedder { name = embedder }
        if let fusionWeight { name += " at fusion weight \(fusionWeight)" }
        return name
    }

    /// p50 and p99 in milliseconds of `queries` searches in each mode.
    func timeSearches(_ service: KnowledgeService, corpus: SyntheticCorpus) async throws -> [SearchMode: (p50: Double, p99: Double)] {
        var figures: [SearchMode: (p50: Double, p99: Double)] = [:]
        for mode in [SearchMode.hybrid, .bm25, .vector] {
            var latencies: [Duration] = []
            for index in 0..<queries {
                let query = corpus.query(index)
                let started = ContinuousClock.now
                _ = try await service.search(query, filter: SearchFilter(campaignID: "bench"), k: 8, mode: mode)
                latencies.append(ContinuousClock.now - started)
            }
            latencies.sort()
            figures[mode] = ((latencies[latencies.count / 2]).inSeconds * 1000, (latencies[latencies.count * 99 / 100]).inSeconds * 1000)
        }
        return figures
    }

    /// Stores `versions - 1` more published copies of every scope's and domain's working
    /// version (the aliases stay where they are), times search again, then times alias
    /// switches: from the switch on the first node until the second node's next read resolves
    /// through it (on SQLite and in memory both are this process).
    func measureVersions(_ kind: String, nodes: [KnowledgeService], corpus: SyntheticCorpus, single: [SearchMode: (p50: Double, p99: Double)]) async throws {
        let service = nodes[0]
        let start = ContinuousClock.now
        var copied = 0
        for scope in [corpus.campaign, nil] as [String?] {
            for domain in SyntheticCorpus.domains {
                for number in 2...versions {
                    let options = IngestOptions(version: "\(domain.rawValue)-v\(number)", from: KnowledgeVersion.workingID(domain), publish: true, pruneScope: .some(scope), actor: "bench")
                    copied += try await service.ingest([], options: options).chunksWritten
                }
            }
        }
        let seconds = (ContinuousClock.now - start).inSeconds
        let stored = try await service.counts().chunks
        let figures = try await timeSearches(service, corpus: corpus)
        let hybrid = figures[.hybrid]!, bm25 = figures[.bm25]!, vector = figures[.vector]!
        let change = (hybrid.p99 / single[.hybrid]!.p99 - 1) * 100
        print(String(format: "  %-8@ %d versions stored (%d chunks; copies made in %.1f s, nothing embedded): hybrid search p50 %.2f ms, p99 %.2f ms (%+.0f%% against one version; BM25 only %.2f / %.2f, vectors only %.2f / %.2f)",
                     kind, versions, stored, seconds, hybrid.p50, hybrid.p99, change, bm25.p50, bm25.p99, vector.p50, vector.p99))
        _ = copied
        let (switcher, reader) = (nodes[0], nodes[nodes.count - 1])
        var latencies: [Duration] = []
        var reads = 0
        let filter = SearchFilter(campaignID: corpus.campaign, domains: [.lore])
        // The second node catches up with everything the first ingested before it is timed (a
        // server's upkeep keeps it current every second; this one has none). A catch-up longer
        // than the store timeout leaves it degraded until it probes the store again.
        _ = try? await reader.search(corpus.query(0), filter: filter, k: 8)
        if reader.isDegraded { _ = await reader.probePrimary() }
        guard !reader.isDegraded else { throw StartupError(message: "the second node could not catch up", exitCode: 1) }
        for index in 0..<switches {
            let target = index % 2 == 0 ? "lore-v2" : KnowledgeVersion.workingID(.lore)
            let started = ContinuousClock.now
            _ = try await switcher.setAlias(KnowledgeAlias.latest(.lore), campaignID: corpus.campaign, to: target, by: "bench")
            while true {
                reads += 1
                let read = try await reader.resolve(filter)
                if read.versions[.lore] == target { break }
                if ContinuousClock.now - started > .seconds(5) { throw StartupError(message: "an alias switch was not seen within 5 s", exitCode: 1) }
            }
            latencies.append(ContinuousClock.now - started)
        }
        latencies.sort()
        let where_ = nodes.count > 1 && kind == "postgres" ? "seen by a second node's next read" : "seen by this node's next read"
        print(String(format: "  %-8@ alias switch (%@): p50 %.2f ms, p99 %.2f ms over %d switches, %.2f reads per switch",
                     kind, where_, latencies[latencies.count / 2].inSeconds * 1000, latencies[latencies.count * 99 / 100].inSeconds * 1000, switches, Double(reads) / Double(switches)))
    }

    /// A fresh store of `kind` for one measurement.
    func withStore(_ kind: String, _ body: @Sendable (KnowledgeService) async throws -> Void) async throws {
        try await withStore(kind, nodes: 1) { try await body($0[0]) }
    }

    /// A fresh store of `kind`; with two nodes on PostgreSQL, two services with their own
    /// connections and copies (elsewhere the same service twice).
    func withStore(_ kind: String, nodes: Int, _ body: @Sendable ([KnowledgeService]) async throws -> Void) async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        // The embedder and chunking come from the environment, as for `rpgbot serve`.
        var knowledge: KnowledgeConfiguration
        do {
            knowledge = try ConfigurationLoader().knowledge()
        } catch {
            throw StartupError(message: error.description, exitCode: RPGBotCommand.usageExitCode)
        }
        if let embedder {
            guard let kind = KnowledgeConfiguration.EmbedderKind(rawValue: embedder) else {
                throw StartupError(message: "--embedder: expected auto, minilm, hashing or openai, got '\(embedder)'", exitCode: RPGBotCommand.usageExitCode)
            }
            knowledge.embedder = kind
        }
        if let modelDir { knowledge.modelDirectory = URL(fileURLWithPath: modelDir) }
        if eval == nil { knowledge.fusionWeight = fusionWeight }
        let resolved = knowledge.resolveEmbedder()
        if let notice = resolved.notice {
            guard !resolved.isWarning else { throw StartupError(message: notice, exitCode: 1) }
            FileHandle.standardError.write(Data("note: \(notice)\n".utf8))
        }
        if kind == "memory" {
            let embedder = resolved.embedder
            let service = KnowledgeService(store: InMemoryKnowledgeStore(dimensions: embedder.dimensions), embedder: embedder, chunker: knowledge.chunker, logger: logger)
            try await body(Array(repeating: service, count: nodes))
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rpgbot-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        var configuration = RPGBotConfiguration(dataDirectory: directory)
        configuration.knowledge = knowledge
        if kind == "postgres", let postgresURL {
            configuration.databaseURL = try await Self.freshPostgresDatabase(postgresURL, logger: logger)
        }
        let (shared, quiet) = (configuration, logger)
        // The scale runs time ingestion and search; the graph is measured by its own benchmark.
        let graph = eval != nil
        try await KnowledgeToolbox.withKnowledge(configuration, logger: logger, maintainingGraph: graph) { service in
            guard nodes > 1, kind == "postgres" else { return try await body(Array(repeating: service, count: nodes)) }
            try await KnowledgeToolbox.withKnowledge(shared, logger: quiet, maintainingGraph: graph) { second in
                try await body([service, second])
            }
        }
    }

    static func freshPostgresDatabase(_ admin: String, logger: Logger) async throws -> DatabaseURL {
        guard case .postgres(var location) = try DatabaseURL(parsing: admin) else { throw StartupError(message: "--postgres-url is not a postgres URL", exitCode: RPGBotCommand.usageExitCode) }
        let name = "bench_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased())"
        let handle = try DatabaseHandle.open(.postgres(location), logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await handle.service.run() }
            defer { group.cancelAll() }
            guard case .postgres(let client) = handle.backend else { return }
            try await client.query(.init(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        location.database = name
        return .postgres(location)
    }

}

/// Deterministic generated documents: words drawn from 8,000 pseudo-words with Zipf's law
/// (the r-th most common word has frequency ∝ 1/r), as content words in real text are.
struct SyntheticCorpus {
    let count: Int
    let vocabulary: [String]
    /// The campaign of the even-numbered half; the odd half is global.
    let campaign: String

    init(documents: Int, campaign: String = "bench") {
        count = documents
        self.campaign = campaign
        let syllables = ["ka", "lo", "mir", "than", "dor", "el", "quo", "ris", "van", "tel", "sha", "gor", "bri", "nu", "wen", "zal", "or", "pim", "ast", "ley"]
        var words: [String] = []
        for a in syllables { for b in syllables { for c in ["", "n", "s", "th", "a", "el", "or", "is", "um", "ek", "ar", "ul", "id", "om", "ax", "yn", "ev", "ot", "ip", "ga"] { words.append(a + b + c) } } }
        vocabulary = words
    }

    func random(_ seed: inout UInt64) -> UInt64 {
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return seed >> 33
    }

    /// A log-uniform rank gives P(rank r) ∝ 1/r.
    func word(_ seed: inout UInt64) -> String {
        let u = Double(random(&seed) % 1_000_000) / 1_000_000
        return vocabulary[min(vocabulary.count - 1, Int(pow(Double(vocabulary.count), u)) - 1)]
    }

    func text(_ index: Int, words: Int) -> String {
        var seed = UInt64(index) &* 2_654_435_761 &+ 12345
        return (0..<words).map { _ in word(&seed) }.joined(separator: " ")
    }

    func documents(_ range: Range<Int>) -> [KnowledgeDocument] {
        range.map { index in
            KnowledgeDocument(
                sourceID: "doc-\(index)", campaignID: index % 2 == 0 ? campaign : nil, domain: Self.domains[index % 4],
                title: text(index &+ 7_000_000, words: 3), body: text(index, words: 120)
            )
        }
    }

    static let domains: [KnowledgeDomain] = [.lore, .srd, .npc, .episode]

    /// Four words of a random document.
    func query(_ index: Int) -> String {
        var seed = UInt64(index) &* 97 &+ 3
        let document = Int(random(&seed) % UInt64(count))
        let words = text(document, words: 120).split(separator: " ")
        let start = Int(random(&seed) % UInt64(words.count - 4))
        return words[start..<start + 4].joined(separator: " ")
    }
}
