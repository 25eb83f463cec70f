public import Foundation

/// Where a set of documents lives: a scope (a campaign, or nil for global knowledge) and a
/// version id unique within that scope.
public struct KnowledgeVersionRef: Sendable, Hashable, CustomStringConvertible {
    public var campaignID: String?
    public var version: String

    public init(campaignID: String?, version: String) {
        self.campaignID = campaignID
        self.version = version
    }

    /// The scope as the stores key it: the campaign id, or "" for global knowledge.
    public var scope: String { campaignID ?? "" }

    /// The scope's working version of `domain`.
    public static func working(_ domain: KnowledgeDomain, campaignID: String?) -> KnowledgeVersionRef {
        KnowledgeVersionRef(campaignID: campaignID, version: KnowledgeVersion.workingID(domain))
    }

    public var description: String { (campaignID.map { "\($0)/" } ?? "") + version }
}

/// What can be done with a version.
public enum KnowledgeVersionState: String, Sendable, Codable, CaseIterable {
    /// The scope's working copy of a domain: what ingestion without a version writes and what
    /// `<domain>_latest` points to until it is switched. Always writable, always readable.
    case working
    /// Being filled; readable only when pinned, never through an alias.
    case draft
    /// Immutable: may be aliased.
    case published
    /// Kept for a grace period, then deleted by cleanup unless an alias still points to it.
    case retired
}

/// A named set of documents of one scope and one domain (`srd-2014`, `lore-2026-12-05`).
public struct KnowledgeVersion: Sendable, Equatable {
    public var id: String
    public var campaignID: String?
    public var domain: KnowledgeDomain
    public var state: KnowledgeVersionState
    public var createdAt: Date
    public var createdBy: String
    public var publishedAt: Date?
    public var retiredAt: Date?
    public var note: String

    public init(id: String, campaignID: String?, domain: KnowledgeDomain, state: KnowledgeVersionState, createdAt: Date, createdBy: String, publishedAt: Date? = nil, retiredAt: Date? = nil, note: String = "") {
        self.id = id
        self.campaignID = campaignID
        self.domain = domain
        self.state = state
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.publishedAt = publishedAt
        self.retiredAt = retiredAt
        self.note = note
    }

    public var ref: KnowledgeVersionRef { KnowledgeVersionRef(campaignID: campaignID, version: id) }

    /// The id of a scope's working version of `domain` (`lore-working`).
    public static func workingID(_ domain: KnowledgeDomain) -> String { "\(domain.rawValue)-working" }

    /// The domain whose working version `id` names, if it names one.
    public static func workingDomain(_ id: String) -> KnowledgeDomain? {
        KnowledgeDomain.allCases.first { workingID($0) == id }
    }

    /// `[a-z0-9][a-z0-9._-]{0,63}`: the form of version ids and alias names.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        func allowed(_ byte: UInt8, first: Bool) -> Bool {
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || (!first && (byte == 0x2E || byte == 0x5F || byte == 0x2D))
        }
        return bytes.enumerated().allSatisfy { allowed($1, first: $0 == 0) }
    }

    public static let namePattern = "^[a-z0-9][a-z0-9._-]{0,63}$"

    /// The working version of a domain in a scope, which exists without a record.
    static func working(_ domain: KnowledgeDomain, campaignID: String?) -> KnowledgeVersion {
        KnowledgeVersion(id: workingID(domain), campaignID: campaignID, domain: domain, state: .working, createdAt: Date(timeIntervalSince1970: 0), createdBy: "system")
    }
}

/// A named pointer to a version of its scope: `lore_latest`, `srd_latest`, `lore_next`.
public struct KnowledgeAlias: Sendable, Equatable {
    public var name: String
    public var campaignID: String?
    public var version: String
    public var updatedAt: Date
    public var updatedBy: String

    public init(name: String, campaignID: String?, version: String, updatedAt: Date, updatedBy: String) {
        self.name = name
        self.campaignID = campaignID
        self.version = version
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }

    /// The alias every read of `domain` goes through by default.
    public static func latest(_ domain: KnowledgeDomain) -> String { "\(domain.rawValue)_latest" }

    /// The domain a `<domain>_latest` name stands for.
    public static func latestDomain(_ name: String) -> KnowledgeDomain? {
        KnowledgeDomain.allCases.first { latest($0) == name }
    }
}

/// One switch of an alias, kept so that it can be audited and rolled back.
public struct AliasChange: Sendable, Equatable {
    public var name: String
    public var campaignID: String?
    /// nil: the alias did not exist (a `<domain>_latest` then meant the working version).
    public var from: String?
    /// nil: the alias was removed.
    public var to: String?
    public var changedBy: String
    public var changedAt: Date

    public init(name: String, campaignID: String?, from: String?, to: String?, changedBy: String, changedAt: Date) {
        self.name = name
        self.campaignID = campaignID
        self.from = from
        self.to = to
        self.changedBy = changedBy
        self.changedAt = changedAt
    }
}
