public import Foundation
import HTTPTypes
import ServiceKit

/// Every version, alias, alias switch and campaign TTL policy a store holds: the knowledge
/// version registry. Reads resolve aliases through it; every change goes through one of its
/// mutating methods, which validate before anything is written (stores run them inside one
/// transaction and persist the difference, so a refused change writes nothing).
public struct VersionCatalog: Sendable, Equatable {
    /// Recorded versions by scope and id. Working versions need no record.
    public var versions: [KnowledgeVersionRef: KnowledgeVersion] = [:]
    /// Aliases by scope and name (a ref whose `version` holds the alias name).
    public var aliases: [KnowledgeVersionRef: KnowledgeAlias] = [:]
    /// Every alias switch, oldest first.
    public var history: [AliasChange] = []
    /// Campaign overrides of the default lifetimes: scope → domain → seconds (nil: never expires).
    public var policies: [String: [KnowledgeDomain: Double?]] = [:]

    public init() {}

    // MARK: - Reading

    /// The version `id` of a scope, working versions included.
    public func version(_ id: String, campaignID: String?) -> KnowledgeVersion? {
        if let domain = KnowledgeVersion.workingDomain(id) { return .working(domain, campaignID: campaignID) }
        return versions[KnowledgeVersionRef(campaignID: campaignID, version: id)]
    }

    /// Where an alias of a scope points: a recorded alias, or for `<domain>_latest` without a
    /// record the working version.
    public func aliasTarget(_ name: String, campaignID: String?) -> String? {
        if let alias = aliases[KnowledgeVersionRef(campaignID: campaignID, version: name)] { return alias.version }
        return KnowledgeAlias.latestDomain(name).map(KnowledgeVersion.workingID)
    }

    /// The version a name means in a scope: an alias first, then a version id.
    public func resolve(_ name: String, campaignID: String?) -> KnowledgeVersion? {
        if let target = aliasTarget(name, campaignID: campaignID) { return version(target, campaignID: campaignID) }
        return version(name, campaignID: campaignID)
    }

    /// The version reads of `domain` in a scope go through by default.
    public func latest(_ domain: KnowledgeDomain, campaignID: String?) -> KnowledgeVersion {
        resolve(KnowledgeAlias.latest(domain), campaignID: campaignID) ?? .working(domain, campaignID: campaignID)
    }

    /// The lifetime of `domain` content in a scope: the campaign's override, else the default.
    public func lifetime(_ domain: KnowledgeDomain, campaignID: String?, defaults: [KnowledgeDomain: Double]) -> Double? {
        if let campaignID, let overrides = policies[campaignID], let override = overrides[domain] { return override }
        return defaults[domain]
    }

    /// Aliases of a scope pointing to `version`.
    public func aliases(pointingTo version: String, campaignID: String?) -> [String] {
        var names = aliases.values.filter { $0.campaignID == campaignID && $0.version == version }.map(\.name)
        for domain in KnowledgeDomain.allCases where KnowledgeVersion.workingID(domain) == version {
            let latest = KnowledgeAlias.latest(domain)
            if aliases[KnowledgeVersionRef(campaignID: campaignID, version: latest)] == nil { names.append(latest) }
        }
        return names.sorted()
    }

    // MARK: - Changing

    /// Makes sure ingestion may write `id` in a scope with documents of `domain`: creates a
    /// draft for a new id, accepts a draft or working version of that domain, refuses the rest.
    public mutating func prepareForWriting(_ id: String, campaignID: String?, domain: KnowledgeDomain, by actor: String, now: Date, note: String = "") throws -> KnowledgeVersion {
        guard KnowledgeVersion.isValidName(id) else {
            throw APIError.validation([.init(pointer: "/version", detail: "must match \(KnowledgeVersion.namePattern)")])
        }
        if let working = KnowledgeVersion.workingDomain(id), working != domain {
            throw APIError.validation([.init(pointer: "/version", detail: "\(id) is the working version of \(working.rawValue), not of \(domain.rawValue)")])
        }
        guard let existing = version(id, campaignID: campaignID) else {
            let created = KnowledgeVersion(id: id, campaignID: campaignID, domain: domain, state: .draft, createdAt: now, createdBy: actor, note: note)
            versions[created.ref] = created
            return created
        }
        guard existing.domain == domain else {
            throw APIError.validation([.init(pointer: "/version", detail: "version \(id) holds \(existing.domain.rawValue) documents, not \(domain.rawValue)")])
        }
        switch existing.state {
        case .working, .draft: return existing
        case .published: throw APIError(.conflict, code: "version_published", detail: "Version \(id) is published and cannot change: ingest into a new version (--from \(id)).")
        case .retired: throw APIError(.conflict, code: "version_retired", detail: "Version \(id) is retired.")
        }
    }

    /// Publishes a draft (publishing a published version again changes nothing).
    public mutating func publish(_ id: String, campaignID: String?, now: Date) throws -> KnowledgeVersion {
        guard var version = version(id, campaignID: campaignID) else { throw Self.unknownVersion(id, campaignID: campaignID) }
        switch version.state {
        case .published: return version
        case .draft:
            version.state = .published
            version.publishedAt = now
            versions[version.ref] = version
            return version
        case .working: throw APIError(.conflict, code: "version_working", detail: "\(id) is a working version: it is always readable and never published.")
        case .retired: throw APIError(.conflict, code: "version_retired", detail: "Version \(id) is retired.")
        }
    }

    /// Retires a version no alias points to.
    public mutating func retire(_ id: String, campaignID: String?, now: Date) throws -> KnowledgeVersion {
        guard var version = version(id, campaignID: campaignID) else { throw Self.unknownVersion(id, campaignID: campaignID) }
        guard version.state != .working else { throw APIError(.conflict, code: "version_working", detail: "\(id) is a working version and cannot be retired.") }
        let pointing = aliases(pointingTo: id, campaignID: campaignID)
        guard pointing.isEmpty else {
            throw APIError(.conflict, code: "version_aliased", detail: "Version \(id) is what \(pointing.joined(separator: ", ")) point(s) to: switch them first.")
        }
        if version.state == .retired { return version }
        version.state = .retired
        version.retiredAt = now
        versions[version.ref] = version
        return version
    }

    /// Points an alias at a published (or working) version of the same scope, atomically with
    /// its history entry. Returns the change.
    public mutating func setAlias(_ name: String, campaignID: String?, to id: String, by actor: String, now: Date) throws -> AliasChange {
        guard KnowledgeVersion.isValidName(name) else {
            throw APIError.validation([.init(pointer: "/name", detail: "must match \(KnowledgeVersion.namePattern)")])
        }
        guard KnowledgeVersion.workingDomain(name) == nil, versions[KnowledgeVersionRef(campaignID: campaignID, version: name)] == nil else {
            throw APIError.validation([.init(pointer: "/name", detail: "\(name) is a version id; an alias needs a name of its own")])
        }
        guard let target = version(id, campaignID: campaignID) else { throw Self.unknownVersion(id, campaignID: campaignID, pointer: "/version") }
        guard target.state == .published || target.state == .working else {
            throw APIError(.conflict, code: "version_not_published", detail: "Version \(id) is \(target.state.rawValue): only a published version can be aliased.")
        }
        if let domain = KnowledgeAlias.latestDomain(name), domain != target.domain {
            throw APIError.validation([.init(pointer: "/version", detail: "\(name) reads \(domain.rawValue); version \(id) holds \(target.domain.rawValue)")])
        }
        let key = KnowledgeVersionRef(campaignID: campaignID, version: name)
        let change = AliasChange(name: name, campaignID: campaignID, from: aliases[key]?.version, to: id, changedBy: actor, changedAt: now)
        aliases[key] = KnowledgeAlias(name: name, campaignID: campaignID, version: id, updatedAt: now, updatedBy: actor)
        history.append(change)
        return change
    }

    /// Undoes the alias's last switch: back to the version it pointed to before (for a
    /// `<domain>_latest` that had no record, back to the working version).
    public mutating func rollback(_ name: String, campaignID: String?, by actor: String, now: Date) throws -> AliasChange {
        let key = KnowledgeVersionRef(campaignID: campaignID, version: name)
        guard let current = aliases[key] else {
            throw APIError(.conflict, code: "nothing_to_roll_back", detail: "Alias \(name) has not been switched.")
        }
        guard let last = history.last(where: { $0.name == name && $0.campaignID == campaignID && $0.to == current.version }) else {
            throw APIError(.conflict, code: "nothing_to_roll_back", detail: "Alias \(name) has no earlier version.")
        }
        if let previous = last.from {
            guard let target = version(previous, campaignID: campaignID), target.state == .published || target.state == .working else {
                throw APIError(.conflict, code: "version_not_published", detail: "Alias \(name) pointed to \(previous) before, which is no longer published.")
            }
            aliases[key] = KnowledgeAlias(name: name, campaignID: campaignID, version: previous, updatedAt: now, updatedBy: actor)
        } else {
            aliases[key] = nil
        }
        // Recorded as a switch back from the current version; `from` names what it undid.
        let change = AliasChange(name: name, campaignID: campaignID, from: current.version, to: last.from, changedBy: actor, changedAt: now)
        history.append(change)
        return change
    }

    /// Sets a campaign's lifetime overrides (a nil lifetime: that domain never expires there).
    public mutating func setPolicies(_ lifetimes: [KnowledgeDomain: Double?], campaignID: String) {
        policies[campaignID] = lifetimes.isEmpty ? nil : lifetimes
    }

    /// Drops a version's record (cleanup, once its documents are deleted).
    mutating func remove(_ ref: KnowledgeVersionRef) {
        versions[ref] = nil
    }

    static func unknownVersion(_ id: String, campaignID: String?, pointer: String? = nil) -> APIError {
        let scope = campaignID.map { "campaign \($0)" } ?? "the global scope"
        var error = APIError.notFound("No version \(id) in \(scope).", code: "unknown_version")
        if let pointer { error.problem.errors = [.init(pointer: pointer, detail: "no such version")] }
        return error
    }
}
