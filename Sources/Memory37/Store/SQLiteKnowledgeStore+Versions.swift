import Foundation
import GRDB

extension SQLiteKnowledgeStore {
    public func catalog() async throws -> VersionCatalog {
        if let cached = catalogCache.read({ $0?.catalog }) { return cached }
        return try await reloadCatalog()
    }

    /// Reads the registry and its counter in one snapshot.
    @discardableResult
    func reloadCatalog() async throws -> VersionCatalog {
        let (rev, catalog) = try await pool.read { db in
            (try Int64.fetchOne(db, sql: "SELECT catalog_rev FROM knowledge_revision") ?? 0, try Self.loadCatalog(db))
        }
        catalogCache.write { cached in
            if (cached?.rev ?? -1) <= rev { cached = (rev, catalog) }
        }
        return catalog
    }

    public func updateCatalog<T: Sendable>(_ change: @Sendable (inout VersionCatalog) throws -> T) async throws -> T {
        try await pool.write { db in
            let before = try Self.loadCatalog(db)
            var after = before
            let result = try change(&after)
            let difference = CatalogDifference(from: before, to: after)
            if !difference.isEmpty {
                try Self.persist(difference, db: db)
                let rev = try Int64.fetchOne(db, sql: "UPDATE knowledge_revision SET catalog_rev = catalog_rev + 1 WHERE id = 1 RETURNING catalog_rev") ?? 0
                self.catalogCache.write { $0 = (rev, after) }
            }
            return result
        }
    }

    static func loadCatalog(_ db: GRDB.Database) throws -> VersionCatalog {
        var catalog = VersionCatalog()
        for row in try Row.fetchAll(db, sql: "SELECT * FROM knowledge_versions") {
            let scope: String = row["scope"]
            let version = KnowledgeVersion(
                id: row["id"], campaignID: scope.isEmpty ? nil : scope, domain: KnowledgeDomain(rawValue: row["domain"]) ?? .lore,
                state: KnowledgeVersionState(rawValue: row["state"]) ?? .draft, createdAt: Date(timeIntervalSince1970: row["created_at"]),
                createdBy: row["created_by"], publishedAt: (row["published_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                retiredAt: (row["retired_at"] as Double?).map(Date.init(timeIntervalSince1970:)), note: row["note"]
            )
            catalog.versions[version.ref] = version
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM knowledge_aliases") {
            let scope: String = row["scope"]
            let alias = KnowledgeAlias(name: row["name"], campaignID: scope.isEmpty ? nil : scope, version: row["version"], updatedAt: Date(timeIntervalSince1970: row["updated_at"]), updatedBy: row["updated_by"])
            catalog.aliases[KnowledgeVersionRef(campaignID: alias.campaignID, version: alias.name)] = alias
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM knowledge_alias_history ORDER BY seq") {
            let scope: String = row["scope"]
            catalog.history.append(AliasChange(name: row["name"], campaignID: scope.isEmpty ? nil : scope, from: row["from_version"], to: row["to_version"], changedBy: row["changed_by"], changedAt: Date(timeIntervalSince1970: row["changed_at"])))
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM knowledge_policies") {
            guard let domain = KnowledgeDomain(rawValue: row["domain"]) else { continue }
            catalog.policies[row["scope"], default: [:]][domain] = .some(row["ttl_seconds"] as Double?)
        }
        return catalog
    }

    static func persist(_ difference: CatalogDifference, db: GRDB.Database) throws {
        for version in difference.upsertedVersions {
            try db.execute(sql: """
                INSERT OR REPLACE INTO knowledge_versions (scope, id, domain, state, created_at, created_by, published_at, retired_at, note)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [version.ref.scope, version.id, version.domain.rawValue, version.state.rawValue, version.createdAt.timeIntervalSince1970,
                                 version.createdBy, version.publishedAt?.timeIntervalSince1970, version.retiredAt?.timeIntervalSince1970, version.note])
        }
        for ref in difference.removedVersions {
            try db.execute(sql: "DELETE FROM knowledge_versions WHERE scope = ? AND id = ?", arguments: [ref.scope, ref.version])
        }
        for alias in difference.upsertedAliases {
            try db.execute(sql: "INSERT OR REPLACE INTO knowledge_aliases (scope, name, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)",
                           arguments: [alias.campaignID ?? "", alias.name, alias.version, alias.updatedAt.timeIntervalSince1970, alias.updatedBy])
        }
        for ref in difference.removedAliases {
            try db.execute(sql: "DELETE FROM knowledge_aliases WHERE scope = ? AND name = ?", arguments: [ref.scope, ref.version])
        }
        for change in difference.newHistory {
            try db.execute(sql: "INSERT INTO knowledge_alias_history (scope, name, from_version, to_version, changed_by, changed_at) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [change.campaignID ?? "", change.name, change.from, change.to, change.changedBy, change.changedAt.timeIntervalSince1970])
        }
        for (scope, lifetimes) in difference.policies {
            try db.execute(sql: "DELETE FROM knowledge_policies WHERE scope = ?", arguments: [scope])
            for (domain, seconds) in lifetimes {
                try db.execute(sql: "INSERT INTO knowledge_policies (scope, domain, ttl_seconds) VALUES (?, ?, ?)", arguments: [scope, domain.rawValue, seconds])
            }
        }
    }

    public func versionCounts() async throws -> [KnowledgeVersionRef: VersionCounts] {
        try await pool.read { db in
            var counts: [KnowledgeVersionRef: VersionCounts] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT scope, version, COUNT(DISTINCT source_id) AS documents, COUNT(*) AS chunks FROM knowledge_chunks GROUP BY scope, version") {
                let scope: String = row["scope"]
                counts[KnowledgeVersionRef(campaignID: scope.isEmpty ? nil : scope, version: row["version"])] = VersionCounts(documents: row["documents"], chunks: row["chunks"])
            }
            return counts
        }
    }

    public func embeddedChunks(campaignID: String?, sourceIDs: [String]) async throws -> [EmbeddedChunk] {
        guard !sourceIDs.isEmpty else { return [] }
        var found: [EmbeddedChunk] = []
        for batch in stride(from: 0, to: sourceIDs.count, by: 500).map({ Array(sourceIDs[$0..<min($0 + 500, sourceIDs.count)]) }) {
            var arguments: StatementArguments = [campaignID ?? ""]
            arguments += StatementArguments(batch)
            let values = arguments
            found += try await pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT \(Self.columns), embedding, embedding_model FROM knowledge_chunks
                    WHERE scope = ? AND source_id IN (\(batch.map { _ in "?" }.joined(separator: ","))) ORDER BY source_id, version, ordinal
                    """, arguments: values).map { row in
                    EmbeddedChunk(chunk: try Self.chunk(row), vector: Self.floats(row["embedding"]), model: row["embedding_model"])
                }
            }
        }
        return found
    }

    /// One write transaction: a second process's cleanup waits for it and then finds nothing
    /// left to delete.
    public func cleanup(_ request: CleanupRequest) async throws -> CleanupReport {
        try await pool.write { db in
            var report = CleanupReport()
            var doomed: [(scope: String, version: String, source: String)] = []
            let firstChunks = try Row.fetchAll(db, sql: "SELECT \(Self.columns) FROM knowledge_chunks WHERE ordinal = 0 AND (expires_at IS NOT NULL OR pinned = 0)")
            var chunkCounts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT scope, version, source_id, COUNT(*) AS n FROM knowledge_chunks GROUP BY scope, version, source_id") {
                chunkCounts[[row["scope"], row["version"], row["source_id"]].joined(separator: "\u{0}")] = row["n"]
            }
            func count(_ scope: String, _ version: String, _ source: String) -> Int { chunkCounts[[scope, version, source].joined(separator: "\u{0}")] ?? 0 }
            for row in firstChunks {
                let chunk = try Self.chunk(row)
                guard InMemoryKnowledgeStore.expired(chunk, request: request) else { continue }
                doomed.append((chunk.campaignID ?? "", chunk.version, chunk.sourceID))
                report.expiredDocuments[chunk.domain, default: 0] += 1
                report.expiredChunks += count(chunk.campaignID ?? "", chunk.version, chunk.sourceID)
            }
            let catalog = try Self.loadCatalog(db)
            var after = catalog
            for version in catalog.versions.values.sorted(by: { $0.ref.description < $1.ref.description }) where InMemoryKnowledgeStore.removable(version, catalog: catalog, request: request) {
                report.retiredVersions.append(version.ref)
                let sources = try String.fetchAll(db, sql: "SELECT source_id FROM knowledge_documents WHERE scope = ? AND version = ?", arguments: [version.ref.scope, version.id])
                for source in sources where !doomed.contains(where: { $0 == (version.ref.scope, version.id, source) }) {
                    doomed.append((version.ref.scope, version.id, source))
                    report.retiredChunks += count(version.ref.scope, version.id, source)
                }
                after.remove(version.ref)
            }
            guard !request.dryRun, !doomed.isEmpty || !report.retiredVersions.isEmpty else { return report }
            var removed: [String] = []
            for (scope, version, source) in doomed {
                removed += try Self.deleteDocument(scope: scope, version: version, sourceID: source, db: db)
            }
            let rev = try Self.logChange(removed, retention: self.changeLogRetention, db: db)
            self.mirror.write { $0.remove(Set(removed)) }
            self.advance(to: rev)
            if !report.retiredVersions.isEmpty {
                try Self.persist(CatalogDifference(from: catalog, to: after), db: db)
                let catalogRev = try Int64.fetchOne(db, sql: "UPDATE knowledge_revision SET catalog_rev = catalog_rev + 1 WHERE id = 1 RETURNING catalog_rev") ?? 0
                self.catalogCache.write { $0 = (catalogRev, after) }
            }
            return report
        }
    }
}
