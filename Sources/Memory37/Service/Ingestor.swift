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
    public var chunksWritten = 0

    public init() {}

    public var summary: String {
        "added \(added.count), updated \(updated.count), unchanged \(unchanged.count), removed \(removed.count), failed \(failed.count)"
    }
}

/// Turns documents into embedded chunks and writes the ones whose content changed.
struct Ingestor: Sendable {
    let embedder: any Embedder
    let chunker: Chunker
    /// Chunks embedded per call.
    static let embeddingBatch = 128

    /// Ingests into `store`. A `mirror` (the in-memory fallback) receives every document it
    /// does not hold in its current version, from the same chunks and vectors — nothing is
    /// embedded twice — and its failures are ignored. A failure of `store` itself is thrown as
    /// ``StoreCallFailure``.
    func ingest(_ documents: [KnowledgeDocument], into store: any KnowledgeStore, mirror: (any KnowledgeStore)? = nil, pruneScopes: [String?: Set<KnowledgeDomain>?]?) async throws -> IngestReport {
        var report = IngestReport()
        let scopes = Set(documents.map(\.campaignID)).union(pruneScopes.map { Set($0.keys) } ?? [])
        let storedByScope = try await StoreCallFailure.wrapping { try await storedDocuments(documents, in: store, scopes: scopes, pruneScopes: pruneScopes) }
        var mirroredByScope: [String?: [String: StoredDocument]] = [:]
        if let mirror {
            mirroredByScope = (try? await storedDocuments(documents, in: mirror, scopes: scopes, pruneScopes: pruneScopes)) ?? [:]
        }
        var seen: [String?: Set<String>] = [:]
        // Changed documents are embedded together, so a model-backed embedder gets full
        // batches, and written together in one transaction, so no document is ever half stored.
        var pending: [PendingDocument] = []
        var pendingChunks = 0
        func flush() async throws {
            guard !pending.isEmpty else { return }
            let vectors = try await embedder.embed(pending.flatMap { $0.chunks.map(\.indexedText) })
            var offset = 0
            var batch: [(document: StoredDocument, chunks: [EmbeddedChunk])] = []
            var mirrorBatch: [(document: StoredDocument, chunks: [EmbeddedChunk])] = []
            for item in pending {
                let embedded = zip(item.chunks, vectors[offset..<offset + item.chunks.count]).map { EmbeddedChunk(chunk: $0, vector: $1, model: embedder.model) }
                offset += item.chunks.count
                let stored = StoredDocument(sourceID: item.document.sourceID, campaignID: item.document.campaignID, domain: item.document.domain, title: item.document.title, contentHash: item.hash)
                if item.toStore { batch.append((stored, embedded)) }
                if item.toMirror { mirrorBatch.append((stored, embedded)) }
            }
            // One transaction for the batch: all of these documents are stored, or none.
            if !batch.isEmpty { try await StoreCallFailure.wrapping { try await store.replace(batch) } }
            if let mirror, !mirrorBatch.isEmpty { try? await mirror.replace(mirrorBatch) }
            for item in pending where item.toStore {
                report.chunksWritten += item.chunks.count
                if item.isNew { report.added.append(item.document.sourceID) } else { report.updated.append(item.document.sourceID) }
            }
            pending = []
            pendingChunks = 0
        }
        for document in documents {
            let key = document.sourceID
            if seen[document.campaignID, default: []].contains(key) {
                report.failed.append(DocumentLoader.Failure(path: document.origin ?? key, line: nil, reason: "duplicate id \(key) in this ingestion"))
                continue
            }
            seen[document.campaignID, default: []].insert(key)
            let hash = document.contentHash
            let existing = storedByScope[document.campaignID]?[key]
            let toStore = existing?.contentHash != hash
            let toMirror = mirror != nil && mirroredByScope[document.campaignID]?[key]?.contentHash != hash
            if !toStore { report.unchanged.append(key) }
            guard toStore || toMirror else { continue }
            let chunks = chunks(of: document, hash: hash)
            pending.append(PendingDocument(document: document, hash: hash, chunks: chunks, isNew: existing == nil, toStore: toStore, toMirror: toMirror))
            pendingChunks += chunks.count
            if pendingChunks >= Self.embeddingBatch { try await flush() }
        }
        try await flush()
        if let pruneScopes {
            for (scope, domains) in pruneScopes {
                let stale = Self.stale(storedByScope[scope] ?? [:], seen: seen[scope] ?? [], domains: domains)
                if !stale.isEmpty {
                    try await StoreCallFailure.wrapping { try await store.delete(campaignID: scope, sourceIDs: stale) }
                    report.removed += stale
                }
                let staleMirrored = Self.stale(mirroredByScope[scope] ?? [:], seen: seen[scope] ?? [], domains: domains)
                if let mirror, !staleMirrored.isEmpty { try? await mirror.delete(campaignID: scope, sourceIDs: staleMirrored) }
            }
        }
        return report
    }

    private struct PendingDocument {
        var document: KnowledgeDocument
        var hash: String
        var chunks: [KnowledgeChunk]
        var isNew: Bool
        var toStore: Bool
        var toMirror: Bool
    }

    /// What `store` holds of the documents' scopes: the whole scope when it is pruned, otherwise
    /// only the documents given.
    private func storedDocuments(_ documents: [KnowledgeDocument], in store: any KnowledgeStore, scopes: Set<String?>, pruneScopes: [String?: Set<KnowledgeDomain>?]?) async throws -> [String?: [String: StoredDocument]] {
        let byScope = Dictionary(grouping: documents, by: \.campaignID)
        var result: [String?: [String: StoredDocument]] = [:]
        for scope in scopes {
            let stored = pruneScopes?.keys.contains(scope) == true
                ? try await store.documents(campaignID: scope)
                : try await store.documents(campaignID: scope, sourceIDs: (byScope[scope] ?? []).map(\.sourceID))
            result[scope] = Dictionary(stored.map { ($0.sourceID, $0) }, uniquingKeysWith: { first, _ in first })
        }
        return result
    }

    /// Stored documents of the scope (and domains) that this ingestion did not name.
    private static func stale(_ stored: [String: StoredDocument], seen: Set<String>, domains: Set<KnowledgeDomain>?) -> [String] {
        stored.values.filter { document in
            !seen.contains(document.sourceID) && (domains.map { $0.contains(document.domain) } ?? true)
        }.map(\.sourceID).sorted()
    }

    /// The document's sections as chunks; the first carries the document's scalar fields as
    /// text so that `role: innkeeper` is searchable too.
    func chunks(of document: KnowledgeDocument, hash: String) -> [KnowledgeChunk] {
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
        return pieces.enumerated().map { ordinal, piece in
            KnowledgeChunk(
                id: KnowledgeChunk.id(campaignID: document.campaignID, sourceID: document.sourceID, ordinal: ordinal),
                campaignID: document.campaignID, domain: document.domain, sourceID: document.sourceID, title: document.title,
                headingPath: piece.headingPath.first == document.title ? Array(piece.headingPath.dropFirst()) : piece.headingPath,
                aliases: document.aliases, text: piece.text, contentHash: hash, metadata: document.metadata,
                visibility: document.visibility, createdAt: now, expiresAt: document.expiresAt,
                sessionNumber: document.sessionNumber, ordinal: ordinal
            )
        }
    }
}
