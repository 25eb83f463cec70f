public import Foundation
import HTTPTypes
import ServiceKit
import Synchronization
import Tracing

/// A read's filter with the versions it sees filled in, and which version of each domain
/// answers.
public struct ResolvedRead: Sendable {
    public var filter: SearchFilter
    /// Per domain read: the campaign's version, unless that is the implicit working version
    /// and the global scope has a version of its own (`srd-2014`).
    public var versions: [KnowledgeDomain: String]
}

/// How an ingestion writes: the working versions as before, or one named version.
public struct IngestOptions: Sendable {
    /// The version written; nil: each document's working version.
    public var version: String?
    /// The version (or alias) the new version starts from.
    public var from: String?
    /// Publish the version once the documents are in.
    public var publish = false
    /// Point this alias at the version (implies publishing).
    public var alias: String?
    /// Delete the documents not given: from the version written, or without a version from
    /// the working versions of the scope (of `pruneDomains`, when set).
    public var prune = false
    /// The scope pruned as well when no document names it.
    public var pruneScope: String??
    public var pruneDomains: Set<KnowledgeDomain>?
    /// Who ingests (a token's subject, or `cli`), for the registry.
    public var actor = "system"
    public var note = ""

    public init(version: String? = nil, from: String? = nil, publish: Bool = false, alias: String? = nil, prune: Bool = false, pruneScope: String?? = nil, pruneDomains: Set<KnowledgeDomain>? = nil, actor: String = "system", note: String = "") {
        self.version = version
        self.from = from
        self.publish = publish
        self.alias = alias
        self.prune = prune
        self.pruneScope = pruneScope
        self.pruneDomains = pruneDomains
        self.actor = actor
        self.note = note
    }
}

/// A version as listed: its record, what it holds, and the aliases pointing to it.
public struct VersionListing: Sendable {
    public var version: KnowledgeVersion
    public var counts: VersionCounts
    public var aliases: [String]
}

extension KnowledgeService {
    // MARK: - Resolution

    /// Fills in the versions `filter` sees: each domain through its `<domain>_latest` alias of
    /// the campaign and of the global scope, or through `pins` (a version id or alias name per
    /// domain), each with its lifetime cutoff. A filter that names its versions already is
    /// returned as it is.
    public func resolve(_ filter: SearchFilter, pins: [KnowledgeDomain: String] = [:]) async throws -> ResolvedRead {
        if filter.versions != nil { return ResolvedRead(filter: filter, versions: [:]) }
        let catalog = try await currentCatalog()
        var resolved = filter
        var versions: [KnowledgeVersionRef: Double] = [:]
        var answered: [KnowledgeDomain: String] = [:]
        let scopes: [String?] = filter.campaignID.map { [$0, nil] } ?? [nil]
        for domain in filter.domains.isEmpty ? KnowledgeDomain.allCases : filter.domains.sorted(by: { $0.rawValue < $1.rawValue }) {
            var chosen: [String?: KnowledgeVersion] = [:]
            if let pin = pins[domain] {
                for scope in scopes {
                    if let version = catalog.resolve(pin, campaignID: scope), version.domain == domain { chosen[scope] = version }
                }
                guard !chosen.isEmpty else {
                    if let other = scopes.lazy.compactMap({ catalog.resolve(pin, campaignID: $0) }).first {
                        throw APIError.validation([.init(pointer: "/versions/\(domain.rawValue)", detail: "\(pin) holds \(other.domain.rawValue), not \(domain.rawValue)")])
                    }
                    throw APIError(.notFound, code: "unknown_version", detail: "No version or alias \(pin) of \(domain.rawValue) is visible here.", errors: [.init(pointer: "/versions/\(domain.rawValue)", detail: "no such version or alias")])
                }
                // A pin of one scope's version leaves the other scope on its default.
                for scope in scopes where chosen[scope] == nil { chosen[scope] = catalog.latest(domain, campaignID: scope) }
            } else {
                for scope in scopes { chosen[scope] = catalog.latest(domain, campaignID: scope) }
            }
            for (scope, version) in chosen {
                let lifetime = catalog.lifetime(domain, campaignID: scope, defaults: lifetimes)
                versions[version.ref] = lifetime.map { filter.now.timeIntervalSince1970 - $0 } ?? -.infinity
            }
            let campaignVersion = filter.campaignID.flatMap { chosen[$0] }
            let globalVersion = chosen[nil]
            if let campaignVersion, campaignVersion.state != .working || globalVersion?.state == .working {
                answered[domain] = campaignVersion.id
            } else {
                answered[domain] = globalVersion?.id ?? campaignVersion?.id
            }
        }
        resolved.versions = versions
        return ResolvedRead(filter: resolved, versions: answered)
    }

    /// The registry of the store reads go to; the last one seen while the store is down.
    func currentCatalog() async throws -> VersionCatalog {
        if !isDegraded, let catalog = try? await withDeadline(storeTimeout, { try await self.primary.catalog() }) {
            lastCatalog.withLock { $0 = catalog }
            return catalog
        }
        if let last = lastCatalog.withLock({ $0 }) { return last }
        return try await fallback.catalog()
    }

    /// `filter` with its versions filled in.
    func resolved(_ filter: SearchFilter) async throws -> SearchFilter {
        try await resolve(filter).filter
    }

    // MARK: - The registry

    /// Versions of a scope (and, for a campaign, the global ones too), with counts and aliases.
    public func versions(campaignID: String?) async throws -> [VersionListing] {
        let catalog = try await currentCatalog()
        let counts = try await reading { try await $0.versionCounts() }
        let scopes: [String?] = campaignID.map { [$0, nil] } ?? [nil]
        var listed: [KnowledgeVersionRef: KnowledgeVersion] = [:]
        for version in catalog.versions.values where scopes.contains(version.campaignID) { listed[version.ref] = version }
        for (ref, _) in counts where scopes.contains(ref.campaignID) && listed[ref] == nil {
            if let version = catalog.version(ref.version, campaignID: ref.campaignID) { listed[ref] = version }
        }
        return listed.values.sorted { ($0.campaignID ?? "", $0.domain.rawValue, $0.id) < ($1.campaignID ?? "", $1.domain.rawValue, $1.id) }.map { version in
            VersionListing(version: version, counts: counts[version.ref] ?? VersionCounts(documents: 0, chunks: 0), aliases: catalog.aliases(pointingTo: version.id, campaignID: version.campaignID))
        }
    }

    /// The registry as it is now, for listings of aliases and their history.
    public func catalog() async throws -> VersionCatalog {
        try await currentCatalog()
    }

    /// Points an alias at a version, atomically, recorded in the alias history.
    public func setAlias(_ name: String, campaignID: String?, to version: String, by actor: String) async throws -> AliasChange {
        try await changeRegistry("knowledge.alias_set") { catalog in
            try catalog.setAlias(name, campaignID: campaignID, to: version, by: actor, now: Date())
        }
    }

    /// Undoes an alias's last switch.
    public func rollbackAlias(_ name: String, campaignID: String?, by actor: String) async throws -> AliasChange {
        try await changeRegistry("knowledge.alias_rollback") { catalog in
            try catalog.rollback(name, campaignID: campaignID, by: actor, now: Date())
        }
    }

    public func publish(_ version: String, campaignID: String?) async throws -> KnowledgeVersion {
        try await changeRegistry("knowledge.publish") { try $0.publish(version, campaignID: campaignID, now: Date()) }
    }

    public func retire(_ version: String, campaignID: String?) async throws -> KnowledgeVersion {
        try await changeRegistry("knowledge.retire") { try $0.retire(version, campaignID: campaignID, now: Date()) }
    }

    /// A campaign's lifetime overrides (seconds; nil: never expires).
    public func setPolicies(_ lifetimes: [KnowledgeDomain: Double?], campaignID: String) async throws {
        try await changeRegistry("knowledge.policies") { $0.setPolicies(lifetimes, campaignID: campaignID) }
    }

    /// Registry changes are writes: refused while the configured store is unavailable.
    func changeRegistry<T: Sendable>(_ span: String, _ change: @escaping @Sendable (inout VersionCatalog) throws -> T) async throws -> T {
        try await withSpan(span) { _ in
            if isDegraded, !(await probePrimary()) { throw KnowledgeStoreUnavailable(underlying: nil, retryAfter: Self.probeInterval) }
            let result = try await primary.updateCatalog(change)
            if let catalog = try? await primary.catalog() { lastCatalog.withLock { $0 = catalog } }
            return result
        }
    }

    // MARK: - Cleanup

    /// Deletes expired content and retired versions past the grace period (or, dry, lists them).
    public func cleanup(dryRun: Bool = false, now: Date = Date()) async throws -> CleanupReport {
        try await withSpan("knowledge.cleanup") { span in
            let catalog = try await currentCatalog()
            var cutoffs: [String: [KnowledgeDomain: Double]] = [:]
            for (scope, overrides) in catalog.policies {
                for (domain, seconds) in overrides { cutoffs[scope, default: [:]][domain] = seconds.map { now.timeIntervalSince1970 - $0 } ?? -.infinity }
            }
            let defaults = lifetimes.mapValues { now.timeIntervalSince1970 - $0 }
            let request = CleanupRequest(now: now, cutoffs: cutoffs, defaultCutoffs: defaults, retiredBefore: now.addingTimeInterval(-retiredGrace), dryRun: dryRun)
            var report = try await primary.cleanup(request)
            span.attributes["rpgbot.knowledge.cleanup.expired_chunks"] = report.expiredChunks
            span.attributes["rpgbot.knowledge.cleanup.retired_versions"] = report.retiredVersions.count
            span.attributes["rpgbot.knowledge.cleanup.skipped"] = report.skipped
            if !dryRun { metrics.cleaned(report) }
            for follower in followers.withLock({ $0 }) {
                if !dryRun, report.expiredChunks + report.retiredChunks > 0 || !report.retiredVersions.isEmpty { _ = await follower.knowledgeChanged(in: nil) }
                report.followerExpired += await follower.cleanup(now: now, dryRun: dryRun)
            }
            return report
        }
    }
}
