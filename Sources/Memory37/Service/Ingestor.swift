import JSONValues
import Foundation
import ServiceKit

/// What one ingestion did, by source id.
public struct IngestReport: Sendable {
    public var added: [String] = []
    public var updated: [String] = []
    public var unchanged: [String] = []
    public var removed: [String] = []
    public var failed: [DocumentLoader.Failure] = []
    /// What the indexes that follow the store noticed (a relation to a document not ingested yet).
    public var warnings: [String] = []
    /// Documents copied unchanged from the version ingestion started from.
    public var carried: [String] = []
    public var chunksWritten = 0
    /// Chunks whose vectors the embedder made; the rest reused a stored vector of the same text.
    public var chunksEmbedded = 0
    /// The version written (nil: each document's working version).
    public var version: KnowledgeVersion?
    /// The alias switched to the version, if asked.
    public var alias: AliasChange?

    public init() {}

    public var summary: String {
        var text = "added \(added.count), updated \(updated.count), unchanged \(unchanged.count), removed \(removed.count), failed \(failed.count)"
        if !carried.isEmpty { text += ", carried over \(carried.count)" }
        return text + "; \(chunksEmbedded) of \(chunksWritten) chunks embedded"
    }
}

/// Turns documents into embedded chunks and writes the ones whose content changed, each into
/// its version.
struct Ingestor: Sendable {
    let embedder: any Embedder
    let chunker: Chunker
    /// Chunks embedded per call.
    static let embeddingBatch = 128

    /// Where an ingestion writes.
    struct Plan: Sendable {
        /// The version every document goes to; nil: each document's working version.
        var version: String? { target?.version }
        /// With a version: its scope and id (the scope even when no document is given).
        var target: KnowledgeVersionRef?
        /// With `version`: the version whose documents the written one starts from.
        var from: String?
        /// Versions (of scopes) whose documents not named by this ingestion are deleted, each
        /// limited to the domains given (nil: all).
        var prune: [KnowledgeVersionRef: Set<KnowledgeDomain>?] = [:]
    }

    /// Ingests into `store`. A `mirror` (the in-memory fallback) receives every document it
    /// does not hold in its current version, from the same chunks and vectors — nothing is
    /// embedded twice — and its failures are ignored. A failure of `store` itself is thrown as
    /// ``StoreCallFailure``.
    func ingest(_ documents: [KnowledgeDocument], into store: any KnowledgeStore, mirror: (any KnowledgeStore)? = nil, plan: Plan) async throws -> IngestReport {
        var report = IngestReport()
        func target(_ document: KnowledgeDocument) -> KnowledgeVersionRef {
            KnowledgeVersionRef(campaignID: document.campaignID, version: plan.version ?? KnowledgeVersion.workingID(document.domain))
        }
        let byTarget = Dictionary(grouping: documents, by: target)
        let targets = Set(byTarget.keys).union(plan.prune.keys)
        let stored = try await StoreCallFailure.wrapping { try await storedDocuments(byTarget, in: store, targets: targets, whole: Set(plan.prune.keys)) }
        var mirrored: [KnowledgeVersionRef: [String: StoredDocument]] = [:]
        if let mirror { mirrored = (try? await storedDocuments(byTarget, in: mirror, targets: targets, whole: Set(plan.prune.keys))) ?? [:] }
        var seen: [KnowledgeVersionRef: Set<String>] = [:]

        // Vectors already stored for the texts of documents being written, in any version of
        // their scope: looked up per batch, for the documents that changed.
        var reusable: [String: [Float]] = [:]

        // Changed documents are embedded together, so a model-backed embedder gets full
        // batches, and written together in one transaction, so no document is ever half stored.
        var pending: [PendingDocument] = []
        var pendingChunks = 0
        func flush() async throws {
            guard !pending.isEmpty else { return }
            // A document new to the working version has no stored text to reuse: only a
            // changed one, or one written into a named version (whose text other versions may
            // hold), is looked up.
            let candidates = pending.filter { !$0.isNew || plan.target != nil }
            for (campaignID, scoped) in Dictionary(grouping: candidates, by: \.stored.campaignID) {
                let existing = try await StoreCallFailure.wrapping { try await store.embeddedChunks(campaignID: campaignID, sourceIDs: Array(Set(scoped.map(\.stored.sourceID)))) }
                for embedded in existing where embedded.model == embedder.model && embedded.vector.count == embedder.dimensions { reusable[embedded.chunk.textHash] = embedded.vector }
            }
            // Each chunk's text and its hash, made once.
            let texts = pending.map { $0.chunks.map(\.indexedText) }
            let hashes = texts.map { $0.map(SHA256Hex.digest) }
            var missing: [String] = []
            var missingTexts: [String] = []
            var listed = Set<String>()
            for (itemTexts, itemHashes) in zip(texts, hashes) {
                for (text, hash) in zip(itemTexts, itemHashes) where reusable[hash] == nil && listed.insert(hash).inserted {
                    missing.append(hash)
                    missingTexts.append(text)
                }
            }
            if !missing.isEmpty {
                let vectors = try await embedder.embed(missingTexts)
                for (hash, vector) in zip(missing, vectors) { reusable[hash] = vector }
                report.chunksEmbedded += missing.count
            }
            var batch: [(document: StoredDocument, chunks: [EmbeddedChunk])] = []
            var mirrorBatch: [(document: StoredDocument, chunks: [EmbeddedChunk])] = []
            for (item, itemHashes) in zip(pending, hashes) {
                let embedded = zip(item.chunks, itemHashes).map { EmbeddedChunk(chunk: $0, vector: reusable[$1] ?? [], model: embedder.model) }
                if item.toStore { batch.append((item.stored, embedded)) }
                if item.toMirror { mirrorBatch.append((item.stored, embedded)) }
            }
            // One transaction for the batch: all of these documents are stored, or none.
            if !batch.isEmpty { try await StoreCallFailure.wrapping { try await store.replace(batch) } }
            if let mirror, !mirrorBatch.isEmpty { try? await mirror.replace(mirrorBatch) }
            for item in pending where item.toStore {
                report.chunksWritten += item.chunks.count
                if item.isNew { report.added.append(item.stored.sourceID) } else { report.updated.append(item.stored.sourceID) }
            }
            pending = []
            pendingChunks = 0
        }
        for document in documents {
            let ref = target(document)
            let key = document.sourceID
            if seen[ref, default: []].contains(key) {
                report.failed.append(DocumentLoader.Failure(path: document.origin ?? key, line: nil, reason: "duplicate id \(key) in this ingestion"))
                continue
            }
            seen[ref, default: []].insert(key)
            let hash = document.contentHash
            let existing = stored[ref]?[key]
            let toStore = existing?.contentHash != hash
            let toMirror = mirror != nil && mirrored[ref]?[key]?.contentHash != hash
            if !toStore { report.unchanged.append(key) }
            guard toStore || toMirror else { continue }
            let chunks = chunks(of: document, hash: hash, version: ref.version)
            let storedDocument = StoredDocument(sourceID: key, campaignID: document.campaignID, domain: document.domain, title: document.title, contentHash: hash, version: ref.version)
            pending.append(PendingDocument(stored: storedDocument, chunks: chunks, isNew: existing == nil, toStore: toStore, toMirror: toMirror))
            pendingChunks += chunks.count
            if pendingChunks >= Self.embeddingBatch { try await flush() }
        }
        try await flush()

        if let ref = plan.target, let from = plan.from, from != ref.version, plan.prune[ref] == nil {
            // The new version starts as a copy of `from`: what this ingestion did not name is
            // carried over as it is — same chunks, same vectors, same age — unless pruned.
            try await carry(from: KnowledgeVersionRef(campaignID: ref.campaignID, version: from), to: ref, skipping: seen[ref] ?? [], store: store, mirror: mirror, report: &report)
        }
        for (ref, domains) in plan.prune {
            let stale = Self.stale(stored[ref] ?? [:], seen: seen[ref] ?? [], domains: domains)
            if !stale.isEmpty {
                try await StoreCallFailure.wrapping { try await store.delete(campaignID: ref.campaignID, version: ref.version, sourceIDs: stale) }
                report.removed += stale
            }
            let staleMirrored = Self.stale(mirrored[ref] ?? [:], seen: seen[ref] ?? [], domains: domains)
            if let mirror, !staleMirrored.isEmpty { try? await mirror.delete(campaignID: ref.campaignID, version: ref.version, sourceIDs: staleMirrored) }
        }
        return report
    }

    /// Copies the documents of `source` that `target` lacks and this ingestion did not name.
    private func carry(from source: KnowledgeVersionRef, to target: KnowledgeVersionRef, skipping named: Set<String>, store: any KnowledgeStore, mirror: (any KnowledgeStore)?, report: inout IngestReport) async throws {
        let documents = try await StoreCallFailure.wrapping { try await store.documents(campaignID: source.campaignID, version: source.version) }
        let already = Set(try await StoreCallFailure.wrapping { try await store.documents(campaignID: target.campaignID, version: target.version) }.map(\.sourceID))
        let wanted = documents.filter { !named.contains($0.sourceID) && !already.contains($0.sourceID) }
        for slice in stride(from: 0, to: wanted.count, by: 200).map({ Array(wanted[$0..<min($0 + 200, wanted.count)]) }) {
            let chunks = try await StoreCallFailure.wrapping { try await store.embeddedChunks(campaignID: source.campaignID, sourceIDs: slice.map(\.sourceID)) }
                .filter { $0.chunk.version == source.version }
            let bySource = Dictionary(grouping: chunks, by: \.chunk.sourceID)
            var batch: [(document: StoredDocument, chunks: [EmbeddedChunk])] = []
            for document in slice {
                var copy = document
                copy.version = target.version
                let copied = (bySource[document.sourceID] ?? []).sorted { $0.chunk.ordinal < $1.chunk.ordinal }.map { embedded in
                    var moved = embedded
                    moved.chunk.version = target.version
                    moved.chunk.id = KnowledgeChunk.id(campaignID: target.campaignID, sourceID: document.sourceID, ordinal: embedded.chunk.ordinal, version: target.version)
                    return moved
                }
                batch.append((copy, copied))
                report.chunksWritten += copied.count
            }
            try await StoreCallFailure.wrapping { try await store.replace(batch) }
            if let mirror { try? await mirror.replace(batch) }
            report.carried += slice.map(\.sourceID)
        }
    }

    private struct PendingDocument {
        var stored: StoredDocument
        var chunks: [KnowledgeChunk]
        var isNew: Bool
        var toStore: Bool
        var toMirror: Bool
    }

    /// What `store` holds of the targets: the whole version when it is pruned, otherwise only
    /// the documents given.
    private func storedDocuments(_ documents: [KnowledgeVersionRef: [KnowledgeDocument]], in store: any KnowledgeStore, targets: Set<KnowledgeVersionRef>, whole: Set<KnowledgeVersionRef>) async throws -> [KnowledgeVersionRef: [String: StoredDocument]] {
        var result: [KnowledgeVersionRef: [String: StoredDocument]] = [:]
        for ref in targets {
            let stored = whole.contains(ref)
                ? try await store.documents(campaignID: ref.campaignID, version: ref.version)
                : try await store.documents(campaignID: ref.campaignID, version: ref.version, sourceIDs: (documents[ref] ?? []).map(\.sourceID))
            result[ref] = Dictionary(stored.map { ($0.sourceID, $0) }, uniquingKeysWith: { first, _ in first })
        }
        return result
    }

    /// Stored documents of the version (and domains) that this ingestion did not name.
    private static func stale(_ stored: [String: StoredDocument], seen: Set<String>, domains: Set<KnowledgeDomain>?) -> [String] {
        stored.values.filter { document in
            !seen.contains(document.sourceID) && (domains.map { $0.contains(document.domain) } ?? true)
        }.map(\.sourceID).sorted()
    }

    /// The document's sections as chunks; the first carries the document's scalar fields as
    /// text so that `role: innkeeper` is searchable too.
    func chunks(of document: KnowledgeDocument, hash: String, version: String? = nil) -> [KnowledgeChunk] {
        var pieces = chunker.split(document.body)
        if pieces.isEmpty { pieces = [Chunker.Piece(headingPath: [], text: document.title)] }
        let facts = document.metadata.sorted { $0.key < $1.key }.compactMap { key, value -> String? in
            guard key != "session" else { return nil }
            switch value {
            case .string(let text): return "\(key.replacingOccurrences(of: "_", with: " ")): \(text)"
            case .number: return "\(key.replacingOccurrences(of: "_", with: " ")): \(value.canonicalText)"
            case .array(let values) where values.allSatisfy({ $0.stringValue != nil }):
                return "\(key.replacingOccurrences(of: "_", with: " ")): \(values.compactMap(\.stringValue).joined(separator: ", "))"
            default: return nil
            }
        }
        if !facts.isEmpty { pieces[0].text = facts.joined(separator: "\n") + "\n\n" + pieces[0].text }
        let now = Date()
        let version = version ?? KnowledgeVersion.workingID(document.domain)
        let expiresAt = document.expiresAt ?? document.lifetime.map { now.addingTimeInterval($0) }
        return pieces.enumerated().map { ordinal, piece in
            KnowledgeChunk(
                id: KnowledgeChunk.id(campaignID: document.campaignID, sourceID: document.sourceID, ordinal: ordinal, version: version),
                campaignID: document.campaignID, domain: document.domain, sourceID: document.sourceID, title: document.title,
                headingPath: piece.headingPath.first == document.title ? Array(piece.headingPath.dropFirst()) : piece.headingPath,
                aliases: document.aliases, text: piece.text, contentHash: hash, metadata: document.metadata,
                visibility: document.visibility, createdAt: now, expiresAt: expiresAt,
                sessionNumber: document.sessionNumber, ordinal: ordinal, version: version, pinned: document.pinned
            )
        }
    }
}
