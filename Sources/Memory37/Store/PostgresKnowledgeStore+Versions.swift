import Foundation
import Logging
import PostgresNIO

extension PostgresKnowledgeStore {
    /// With in-process search, the replica's registry, brought up to date with the rest of the
    /// copy (once per read); otherwise read from the database when its counter moved.
    public func catalog() async throws -> VersionCatalog {
        if let mirror { return try await mirror.reading { try await $0.catalog() } }
        var current: Int64 = 0
        for try await rev in try await client.query("SELECT catalog_rev FROM knowledge_revision", logger: logger).decode(Int64.self) { current = rev }
        if let cached = catalogCache.read({ $0 }), cached.rev == current { return cached.catalog }
        let (rev, catalog) = try await Self.loadCatalog(client: client, logger: logger)
        catalogCache.write { $0 = (rev, catalog) }
        return catalog
    }

    /// The registry and its counter from one snapshot.
    static func loadCatalog(client: PostgresClient, logger: Logger) async throws -> (Int64, VersionCatalog) {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: logger)
            var rev: Int64 = 0
            for try await value in try await connection.query("SELECT catalog_rev FROM knowledge_revision", logger: logger).decode(Int64.self) { rev = value }
            return (rev, try await loadCatalog(connection: connection, logger: logger))
        }
    }

    static func loadCatalog(connection: PostgresConnection, logger: Logger) async throws -> VersionCatalog {
        var catalog = VersionCatalog()
        let versions = try await connection.query("SELECT scope, id, domain, state, created_at, created_by, published_at, retired_at, note FROM knowledge_versions", logger: logger)
        for try await (scope, id, domain, state, createdAt, createdBy, publishedAt, retiredAt, note) in versions.decode((String, String, String, String, Double, String, Double?, Double?, String).self) {
            let version = KnowledgeVersion(
                id: id, campaignID: scope.isEmpty ? nil : scope, domain: KnowledgeDomain(rawValue: domain) ?? .lore,
                state: KnowledgeVersionState(rawValue: state) ?? .draft, createdAt: Date(timeIntervalSince1970: createdAt), createdBy: createdBy,
                publishedAt: publishedAt.map(Date.init(timeIntervalSince1970:)), retiredAt: retiredAt.map(Date.init(timeIntervalSince1970:)), note: note
            )
            catalog.versions[version.ref] = version
        }
        let aliases = try await connection.query("SELECT scope, name, version, updated_at, updated_by FROM knowledge_aliases", logger: logger)
        for try await (scope, name, version, updatedAt, updatedBy) in aliases.decode((String, String, String, Double, String).self) {
            let alias = KnowledgeAlias(name: name, campaignID: scope.isEmpty ? nil : scope, version: version, updatedAt: Date(timeIntervalSince1970: updatedAt), updatedBy: updatedBy)
            catalog.aliases[KnowledgeVersionRef(campaignID: alias.campaignID, version: name)] = alias
        }
        let history = try await connection.query("SELECT scope, name, from_version, to_version, changed_by, changed_at FROM knowledge_alias_history ORDER BY seq", logger: logger)
        for try await (scope, name, from, to, changedBy, changedAt) in history.decode((String, String, String?, String?, String, Double).self) {
            catalog.history.append(AliasChange(name: name, campaignID: scope.isEmpty ? nil : scope, from: from, to: to, changedBy: changedBy, changedAt: Date(timeIntervalSince1970: changedAt)))
        }
        for try await (scope, domain, seconds) in try await connection.query("SELECT scope, domain, ttl_seconds FROM knowledge_policies", logger: logger).decode((String, String, Double?).self) {
            guard let domain = KnowledgeDomain(rawValue: domain) else { continue }
            catalog.policies[scope, default: [:]][domain] = .some(seconds)
        }
        return catalog
    }

    /// Writers of the registry lock the counter row, so changes apply one at a time and each
    /// sees the last one's result.
    public func updateCatalog<T: Sendable>(_ change: @Sendable (inout VersionCatalog) throws -> T) async throws -> T {
        // A refused change (the closure throws) ends the transaction with nothing written and is
        // rethrown as it is, not wrapped as a transaction failure.
        let (outcome, changed) = try await client.withTransaction(logger: logger) { connection -> (Result<T, any Error>, (Int64, VersionCatalog)?) in
            try await connection.query("SELECT 1 FROM knowledge_revision WHERE id = 1 FOR UPDATE", logger: logger)
            let before = try await Self.loadCatalog(connection: connection, logger: logger)
            var after = before
            let result = Result { try change(&after) }
            guard case .success = result else { return (result, nil) }
            let difference = CatalogDifference(from: before, to: after)
            guard !difference.isEmpty else { return (result, nil) }
            try await Self.persist(difference, connection: connection, logger: logger)
            var rev: Int64 = 0
            for try await value in try await connection.query("UPDATE knowledge_revision SET catalog_rev = catalog_rev + 1 WHERE id = 1 RETURNING catalog_rev", logger: logger).decode(Int64.self) { rev = value }
            return (result, (rev, after))
        }
        if let (rev, catalog) = changed {
            catalogCache.write { $0 = (rev, catalog) }
            await mirror?.catalogChanged(rev: rev, catalog)
        }
        return try outcome.get()
    }

    static func persist(_ difference: CatalogDifference, connection: PostgresConnection, logger: Logger) async throws {
        for version in difference.upsertedVersions {
            try await connection.query("""
                INSERT INTO knowledge_versions (scope, id, domain, state, created_at, created_by, published_at, retired_at, note)
                VALUES (\(version.ref.scope), \(version.id), \(version.domain.rawValue), \(version.state.rawValue), \(version.createdAt.timeIntervalSince1970),
                        \(version.createdBy), \(version.publishedAt?.timeIntervalSince1970), \(version.retiredAt?.timeIntervalSince1970), \(version.note))
                ON CONFLICT (scope, id) DO UPDATE SET state = EXCLUDED.state, published_at = EXCLUDED.published_at, retired_at = EXCLUDED.retired_at, note = EXCLUDED.note
                """, logger: logger)
        }
        for ref in difference.removedVersions {
            try await connection.query("DELETE FROM knowledge_versions WHERE scope = \(ref.scope) AND id = \(ref.version)", logger: logger)
        }
        for alias in difference.upsertedAliases {
            try await connection.query("""
                INSERT INTO knowledge_aliases (scope, name, version, updated_at, updated_by)
                VALUES (\(alias.campaignID ?? ""), \(alias.name), \(alias.version), \(alias.updatedAt.timeIntervalSince1970), \(alias.updatedBy))
                ON CONFLICT (scope, name) DO UPDATE SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by
                """, logger: logger)
        }
        for ref in difference.removedAliases {
            try await connection.query("DELETE FROM knowledge_aliases WHERE scope = \(ref.scope) AND name = \(ref.version)", logger: logger)
        }
        for change in difference.newHistory {
            try await connection.query("""
                INSERT INTO knowledge_alias_history (scope, name, from_version, to_version, changed_by, changed_at)
                VALUES (\(change.campaignID ?? ""), \(change.name), \(change.from), \(change.to), \(change.changedBy), \(change.changedAt.timeIntervalSince1970))
                """, logger: logger)
        }
        for (scope, lifetimes) in difference.policies {
            try await connection.query("DELETE FROM knowledge_policies WHERE scope = \(scope)", logger: logger)
            for (domain, seconds) in lifetimes {
                try await connection.query("INSERT INTO knowledge_policies (scope, domain, ttl_seconds) VALUES (\(scope), \(domain.rawValue), \(seconds))", logger: logger)
            }
        }
    }

    public func versionCounts() async throws -> [KnowledgeVersionRef: VersionCounts] {
        var counts: [KnowledgeVersionRef: VersionCounts] = [:]
        let rows = try await client.query("SELECT scope, version, COUNT(DISTINCT source_id)::bigint, COUNT(*)::bigint FROM knowledge_chunks GROUP BY scope, version", logger: logger)
        for try await (scope, version, documents, chunks) in rows.decode((String, String, Int64, Int64).self) {
            counts[KnowledgeVersionRef(campaignID: scope.isEmpty ? nil : scope, version: version)] = VersionCounts(documents: Int(documents), chunks: Int(chunks))
        }
        return counts
    }

    public func embeddedChunks(campaignID: String?, sourceIDs: [String]) async throws -> [EmbeddedChunk] {
        guard !sourceIDs.isEmpty else { return [] }
        var bindings = PostgresBindings()
        bindings.append(campaignID ?? "")
        bindings.append(sourceIDs)
        let query = PostgresQuery(unsafeSQL: "SELECT \(PostgresSearchMirror.columns) FROM knowledge_chunks c WHERE c.scope = $1 AND c.source_id = ANY($2) ORDER BY c.source_id, c.version, c.ordinal", binds: bindings)
        var found: [EmbeddedChunk] = []
        for try await row in try await client.query(query, logger: logger) {
            let cells = row.makeRandomAccess()
            found.append(EmbeddedChunk(chunk: try Self.chunk(cells), vector: try PostgresSearchMirror.vector(cells[17]), model: try cells[18].decode(String.self)))
        }
        return found
    }

    /// The advisory lock every node's cleanup takes: one runs, the others skip this round.
    static let cleanupLock: Int64 = 0x6B6E_6F77_6C65_6467

    public func cleanup(_ request: CleanupRequest) async throws -> CleanupReport {
        let (report, revision, deleted, catalogChange) = try await client.withTransaction(logger: logger) { connection -> (CleanupReport, Int64?, [(version: KnowledgeVersionRef, sourceID: String)], (Int64, VersionCatalog)?) in
            var report = CleanupReport()
            var locked = false
            for try await value in try await connection.query("SELECT pg_try_advisory_xact_lock(\(Self.cleanupLock))", logger: logger).decode(Bool.self) { locked = value }
            guard locked else {
                report.skipped = true
                return (report, nil, [], nil)
            }
            var doomed: [(version: KnowledgeVersionRef, sourceID: String)] = []
            var counts: [String: Int] = [:]
            func key(_ ref: KnowledgeVersionRef, _ source: String) -> String { ref.scope + "\u{0}" + ref.version + "\u{0}" + source }
            let firsts = try await connection.query(PostgresQuery(unsafeSQL: """
                SELECT \(Self.columns), (SELECT COUNT(*) FROM knowledge_chunks o WHERE o.scope = c.scope AND o.version = c.version AND o.source_id = c.source_id)::bigint
                FROM knowledge_chunks c WHERE c.ordinal = 0 AND (c.expires_at IS NOT NULL OR NOT c.pinned)
                """), logger: logger)
            for try await row in firsts {
                let cells = row.makeRandomAccess()
                let chunk = try Self.chunk(cells)
                counts[key(chunk.versionRef, chunk.sourceID)] = Int(try cells[17].decode(Int64.self))
                guard InMemoryKnowledgeStore.expired(chunk, request: request) else { continue }
                doomed.append((chunk.versionRef, chunk.sourceID))
                report.expiredDocuments[chunk.domain, default: 0] += 1
                report.expiredChunks += counts[key(chunk.versionRef, chunk.sourceID)] ?? 0
            }
            let catalog = try await Self.loadCatalog(connection: connection, logger: logger)
            var after = catalog
            for version in catalog.versions.values.sorted(by: { $0.ref.description < $1.ref.description }) where InMemoryKnowledgeStore.removable(version, catalog: catalog, request: request) {
                report.retiredVersions.append(version.ref)
                for try await (source, chunks) in try await connection.query("SELECT source_id, COUNT(*)::bigint FROM knowledge_chunks WHERE scope = \(version.ref.scope) AND version = \(version.id) GROUP BY source_id", logger: logger).decode((String, Int64).self)
                where !doomed.contains(where: { $0.version == version.ref && $0.sourceID == source }) {
                    doomed.append((version.ref, source))
                    report.retiredChunks += Int(chunks)
                }
                after.remove(version.ref)
            }
            guard !request.dryRun, !doomed.isEmpty || !report.retiredVersions.isEmpty else { return (report, nil, [], nil) }
            let scopes = doomed.map(\.version.scope)
            let versions = doomed.map(\.version.version)
            let sources = doomed.map(\.sourceID)
            try await deleteDocuments(scopes: scopes, versions: versions, sources: sources, connection: connection)
            let revision = try await logChanges(scopes: scopes, versions: versions, sources: sources, connection: connection)
            var catalogChange: (Int64, VersionCatalog)?
            if !report.retiredVersions.isEmpty {
                try await Self.persist(CatalogDifference(from: catalog, to: after), connection: connection, logger: logger)
                for try await rev in try await connection.query("UPDATE knowledge_revision SET catalog_rev = catalog_rev + 1 WHERE id = 1 RETURNING catalog_rev", logger: logger).decode(Int64.self) {
                    catalogChange = (rev, after)
                }
            }
            return (report, revision, doomed, catalogChange)
        }
        if let revision { await mirror?.applied(rev: revision) { $0.apply(replaced: [], deleted: deleted) } }
        if let (rev, catalog) = catalogChange {
            catalogCache.write { $0 = (rev, catalog) }
            await mirror?.catalogChanged(rev: rev, catalog)
        }
        return report
    }
}
