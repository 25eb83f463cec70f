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

    func ingest(_ documents: [KnowledgeDocument], into store: any KnowledgeStore, pruneScopes: [String?: Set<KnowledgeDomain>?]?) async throws -> IngestReport {
        var report = IngestReport()
        var storedByScope: [String?: [String: StoredDocument]] = [:]
        // Pruning compares with the whole scope; otherwise only the given documents are looked up.
        let byScope = Dictionary(grouping: documents, by: \.campaignID)
        for scope in Set(byScope.keys).union(pruneScopes.map { Set($0.keys) } ?? []) {
            let stored = pruneScopes?.keys.contains(scope) == true
                ? try await store.documents(campaignID: scope)
                : try await store.documents(campaignID: scope, sourceIDs: (byScope[scope] ?? []).map(\.sourceID))
            storedByScope[scope] = Dictionary(stored.map { ($0.sourceID, $0) }, uniquingKeysWith: { first, _ in first })
        }
        var seen: [String?: Set<String>] = [:]
        // Changed documents are embedded together, so a model-backed embedder gets full
        // batches, and written together in one transaction, so no document is ever half stored.
        var pending: [(document: KnowledgeDocument, hash: String, chunks: [KnowledgeChunk], isNew: Bool)] = []
        var pendingChunks = 0
        func flush() async throws {
            guard !pending.isEmpty else { return }
            let vectors = try await embedder.embed(pending.flatMap { $0.chunks.map(\.indexedText) })
            var offset = 0
            var batch: [(document: StoredDocument, chunks: [EmbeddedChunk])] = []
            for item in pending {
                let embedded = zip(item.chunks, vectors[offset..<offset + item.chunks.count]).map { EmbeddedChunk(chunk: $0, vector: $1, model: embedder.model) }
                offset += item.chunks.count
                batch.append((StoredDocument(sourceID: item.document.sourceID, campaignID: item.document.campaignID, domain: item.document.domain, title: item.document.title, contentHash: item.hash), embedded))
            }
            // One transaction for the batch: all of these documents are stored, or none.
            try await store.replace(batch)
            for item in pending {
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
            if existing?.contentHash == hash {
                report.unchanged.append(key)
                continue
            }
            let chunks = chunks(of: document, hash: hash)
            pending.append((document, hash, chunks, existing == nil))
            pendingChunks += chunks.count
            if pendingChunks >= Self.embeddingBatch { try await flush() }
        }
        try await flush()
        if let pruneScopes {
            for (scope, domains) in pruneScopes {
                let stale = (storedByScope[scope] ?? [:]).values.filter { document in
                    !(seen[scope]?.contains(document.sourceID) ?? false) && (domains.map { $0.contains(document.domain) } ?? true)
                }.map(\.sourceID).sorted()
                if !stale.isEmpty {
                    try await store.delete(campaignID: scope, sourceIDs: stale)
                    report.removed += stale
                }
            }
        }
        return report
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
