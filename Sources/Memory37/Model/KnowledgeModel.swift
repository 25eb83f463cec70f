public import JSONValues
public import Foundation
public import ServiceKit

/// The five kinds of knowledge the game master draws on.
public enum KnowledgeDomain: String, Sendable, CaseIterable, Codable {
    /// Rules (the System Reference Document, house rules).
    case srd
    /// The setting: places, factions, history.
    case lore
    /// What happened in play, by session.
    case episode
    /// Non-player characters.
    case npc
    /// Art references for scenes.
    case art

    public static let acceptedList = allCases.map(\.rawValue).joined(separator: ", ")
}

/// Who may see a piece of knowledge.
public enum Visibility: String, Sendable, Codable, CaseIterable {
    /// Everyone at the table.
    case players
    /// Only the game master (and services acting for them).
    case gm
}

/// One source document (a Markdown file, a YAML or JSON record, an imported SRD entry): the
/// unit of ingestion, replaced as a whole when its content changes.
public struct KnowledgeDocument: Sendable, Equatable {
    /// Stable id of the document within its campaign (or among global documents).
    public var sourceID: String
    /// nil: global, visible to every campaign.
    public var campaignID: String?
    public var domain: KnowledgeDomain
    public var title: String
    /// Names and keys the document should be found by.
    public var aliases: [String]
    public var visibility: Visibility
    /// Free-form fields from the front matter (npc fields, session number, tags…).
    public var metadata: [String: JSONValue]
    /// The body: Markdown, or text rendered from a structured record.
    public var body: String
    public var expiresAt: Date?
    /// Seconds the document lives after it is stored (front matter `ttl`), unless `expiresAt`.
    public var lifetime: Double?
    /// Never expires, whatever the lifetime policies say (front matter `pinned: true`).
    public var pinned: Bool
    /// Where it came from (a file path), for reports.
    public var origin: String?

    public init(sourceID: String, campaignID: String? = nil, domain: KnowledgeDomain, title: String, aliases: [String] = [], visibility: Visibility = .players, metadata: [String: JSONValue] = [:], body: String, expiresAt: Date? = nil, lifetime: Double? = nil, pinned: Bool = false, origin: String? = nil) {
        self.sourceID = sourceID
        self.campaignID = campaignID
        self.domain = domain
        self.title = title
        self.aliases = aliases
        self.visibility = visibility
        self.metadata = metadata
        self.body = body
        self.expiresAt = expiresAt
        self.lifetime = lifetime
        self.pinned = pinned
        self.origin = origin
    }

    /// The session numbers a document may carry (PostgreSQL stores them as `integer`).
    public static let sessionRange = 0...1_000_000

    /// The episode's session number (`session` in the front matter), for ordering.
    public var sessionNumber: Int? {
        metadata["session"]?.intValue
    }

    /// A hash of everything that changes what is stored: re-ingesting a document with the same
    /// hash writes nothing.
    public var contentHash: String {
        var fields: [String: JSONValue] = [
            "source": .string(sourceID), "domain": .string(domain.rawValue), "title": .string(title),
            "aliases": .array(aliases.map { .string($0) }), "visibility": .string(visibility.rawValue),
            "metadata": .object(metadata), "body": .string(body),
        ]
        if let campaignID { fields["campaign"] = .string(campaignID) }
        if let expiresAt { fields["expires"] = .number(expiresAt.timeIntervalSince1970.rounded()) }
        if let lifetime { fields["ttl"] = .number(lifetime) }
        if pinned { fields["pinned"] = .bool(true) }
        return SHA256Hex.digest(JSONValue.object(fields).canonicalText)
    }
}

/// A searchable piece of a document: a section of at most the chunk token bound.
public struct KnowledgeChunk: Sendable, Equatable {
    /// `SOURCE#N` for global chunks, `CAMPAIGN:SOURCE#N` for a campaign's.
    public var id: String
    public var campaignID: String?
    public var domain: KnowledgeDomain
    public var sourceID: String
    public var title: String
    /// The headings above this section, outermost first.
    public var headingPath: [String]
    public var aliases: [String]
    public var text: String
    public var contentHash: String
    public var metadata: [String: JSONValue]
    public var visibility: Visibility
    public var createdAt: Date
    public var expiresAt: Date?
    /// Episodes: the session number, for ordering.
    public var sessionNumber: Int?
    public var ordinal: Int
    /// The version of its scope the chunk belongs to.
    public var version: String
    /// Never expires by a lifetime policy.
    public var pinned: Bool

    public init(id: String, campaignID: String?, domain: KnowledgeDomain, sourceID: String, title: String, headingPath: [String], aliases: [String], text: String, contentHash: String, metadata: [String: JSONValue], visibility: Visibility, createdAt: Date, expiresAt: Date?, sessionNumber: Int?, ordinal: Int, version: String? = nil, pinned: Bool = false) {
        self.id = id
        self.campaignID = campaignID
        self.domain = domain
        self.sourceID = sourceID
        self.title = title
        self.headingPath = headingPath
        self.aliases = aliases
        self.text = text
        self.contentHash = contentHash
        self.metadata = metadata
        self.visibility = visibility
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.sessionNumber = sessionNumber
        self.ordinal = ordinal
        self.version = version ?? KnowledgeVersion.workingID(domain)
        self.pinned = pinned
    }

    /// `SOURCE#N` (global) or `CAMPAIGN:SOURCE#N`, and `@VERSION` after it for any version
    /// but the working one, so that ids from before versions existed stay the same.
    public static func id(campaignID: String?, sourceID: String, ordinal: Int, version: String? = nil) -> String {
        let suffix = version.flatMap { KnowledgeVersion.workingDomain($0) == nil ? "@\($0)" : nil } ?? ""
        return (campaignID.map { "\($0):" } ?? "") + "\(sourceID)#\(ordinal)" + suffix
    }

    public var versionRef: KnowledgeVersionRef { KnowledgeVersionRef(campaignID: campaignID, version: version) }

    /// A hash of what the chunk's vector is made from: equal hashes under one embedding model
    /// share a vector, so nothing is embedded twice.
    public var textHash: String { SHA256Hex.digest(indexedText) }

    /// Title, headings and aliases ahead of the text: what both indexes see.
    public var indexedText: String {
        ([title] + headingPath + aliases + [text]).joined(separator: "\n")
    }
}

/// A chunk with its vector, as stores keep it.
public struct EmbeddedChunk: Sendable {
    public var chunk: KnowledgeChunk
    public var vector: [Float]
    public var model: String

    public init(chunk: KnowledgeChunk, vector: [Float], model: String) {
        self.chunk = chunk
        self.vector = vector
        self.model = model
    }
}
