public import Foundation
public import JSONValues
public import Memory37

/// A thing in a campaign's graph: an entity document (an NPC, a place, a faction, a quest…),
/// an episode or one of its events, a quest step.
public struct GraphNode: Sendable, Equatable {
    /// The document's id (`npc.maren`), or `SOURCE/ID` for a quest step or an episode event.
    public var id: String
    /// `npc`, `location`, `faction`, `quest`, `step`, `event`, `item`, `creature`, `lore`, `art`, `rule`, `pc`…
    public var kind: String
    public var name: String
    public var aliases: [String]
    public var domain: KnowledgeDomain
    public var visibility: Visibility
    /// The session it happened in (episodes and their events) or was last touched.
    public var session: Int?
    /// Quests and steps: `open`, `active`, `done` or `failed`.
    public var status: String?
    /// The first words of its text, for answers and prompts.
    public var summary: String
    /// The document it comes from and the chunk that holds its fields.
    public var sourceID: String
    public var chunkID: String
    public var campaignID: String?
    public var version: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var pinned: Bool

    public init(id: String, kind: String, name: String, aliases: [String] = [], domain: KnowledgeDomain, visibility: Visibility = .players, session: Int? = nil, status: String? = nil, summary: String = "", sourceID: String, chunkID: String, campaignID: String?, version: String, createdAt: Date, expiresAt: Date? = nil, pinned: Bool = false) {
        self.id = id
        self.kind = kind
        self.name = name
        self.aliases = aliases
        self.domain = domain
        self.visibility = visibility
        self.session = session
        self.status = status
        self.summary = summary
        self.sourceID = sourceID
        self.chunkID = chunkID
        self.campaignID = campaignID
        self.version = version
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.pinned = pinned
    }

    public var versionRef: KnowledgeVersionRef { KnowledgeVersionRef(campaignID: campaignID, version: version) }
}

/// A relation between two nodes, declared by one document (its evidence).
public struct GraphEdge: Sendable, Equatable {
    // The id is kept with the edge rather than formatted on every use: traversals key their
    // tables by it.
    public var from: String { didSet { id = Self.id(from, type, to) } }
    public var to: String { didSet { id = Self.id(from, type, to) } }
    /// snake_case (`enemy_of`); ``RelationType`` lists the ones the queries understand.
    public var type: String { didSet { id = Self.id(from, type, to) } }
    /// `from -type-> to`: stable, readable, and what an output cites.
    public private(set) var id: String
    /// −100 (hatred) … 100 (devotion).
    public var attitude: Int?
    /// How much the relation matters, 0…10 (1 when not given; a mention's count).
    public var weight: Double
    /// Session numbers the relation holds from and until.
    public var since: Int?
    public var until: Int?
    public var note: String?
    public var visibility: Visibility
    public var expiresAt: Date?
    public var pinned: Bool
    /// The declaring document and the chunks that show the relation.
    public var sourceID: String
    public var chunkIDs: [String]
    /// The sentence or line the relation was read from.
    public var snippet: String
    public var campaignID: String?
    public var version: String
    public var createdAt: Date

    public init(from: String, to: String, type: String, attitude: Int? = nil, weight: Double = 1, since: Int? = nil, until: Int? = nil, note: String? = nil, visibility: Visibility = .players, expiresAt: Date? = nil, pinned: Bool = false, sourceID: String, chunkIDs: [String], snippet: String, campaignID: String?, version: String, createdAt: Date) {
        self.from = from
        self.to = to
        self.type = type
        self.id = Self.id(from, type, to)
        self.attitude = attitude
        self.weight = weight
        self.since = since
        self.until = until
        self.note = note
        self.visibility = visibility
        self.expiresAt = expiresAt
        self.pinned = pinned
        self.sourceID = sourceID
        self.chunkIDs = chunkIDs
        self.snippet = snippet
        self.campaignID = campaignID
        self.version = version
        self.createdAt = createdAt
    }

    static func id(_ from: String, _ type: String, _ to: String) -> String { "\(from) -\(type)-> \(to)" }

    public var versionRef: KnowledgeVersionRef { KnowledgeVersionRef(campaignID: campaignID, version: version) }

    /// The other end, seen from `node`.
    public func other(than node: String) -> String { from == node ? to : from }
}

/// What one document contributes to the graph.
public struct GraphDocument: Sendable, Equatable {
    public var sourceID: String
    public var ref: KnowledgeVersionRef
    /// The knowledge document's content hash: an unchanged document is not derived again.
    public var contentHash: String
    public var nodes: [GraphNode]
    public var edges: [GraphEdge]
    /// Names and aliases of its nodes, lower-cased, for mentions and name targets.
    public var names: [EntityName]

    public init(sourceID: String, ref: KnowledgeVersionRef, contentHash: String, nodes: [GraphNode], edges: [GraphEdge], names: [EntityName]) {
        self.sourceID = sourceID
        self.ref = ref
        self.contentHash = contentHash
        self.nodes = nodes
        self.edges = edges
        self.names = names
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.sourceID == rhs.sourceID && lhs.ref == rhs.ref && lhs.contentHash == rhs.contentHash && lhs.nodes == rhs.nodes && lhs.edges == rhs.edges
            && lhs.names.map(\.name) == rhs.names.map(\.name) && lhs.names.map(\.id) == rhs.names.map(\.id)
    }
}

/// The relation types the queries understand, with what they mean (docs/knowledge-graph.md).
public enum RelationType {
    public static let social: Set<String> = ["ally_of", "enemy_of", "rival_of", "knows", "member_of", "leads", "serves", "loves", "fears", "owes"]
    public static let place: Set<String> = ["located_in", "part_of", "connects_to"]
    public static let quest: Set<String> = ["gives_quest", "step_of", "requires", "involves"]
    public static let things: Set<String> = ["owns", "guards", "seeks"]
    /// Read the same from either end.
    public static let symmetric: Set<String> = ["ally_of", "enemy_of", "rival_of", "knows", "connects_to"]
    public static let known: Set<String> = social.union(place).union(quest).union(things).union(["causes", "depicts", "mentions"])

    /// Spellings accepted on input for the inverse of a type: `caused_by: X` on D is `X causes D`.
    public static let inverses: [String: String] = [
        "caused_by": "causes", "member": "member_of", "members": "member_of", "led_by": "leads", "served_by": "serves",
        "owned_by": "owns", "guarded_by": "guards", "sought_by": "seeks", "depicted_by": "depicts", "quest_from": "gives_quest",
        "contains": "located_in", "has_part": "part_of", "required_by": "requires", "involved_in": "involves",
    ]

    /// `^[a-z][a-z0-9_]{0,63}$`.
    public static func isValid(_ type: String) -> Bool {
        let bytes = Array(type.utf8)
        guard (1...64).contains(bytes.count), let first = bytes.first, (0x61...0x7A).contains(first) else { return false }
        return bytes.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F }
    }

    /// How much a type counts when a scene's neighbourhood is ranked.
    static func rankWeight(_ type: String) -> Double {
        switch type {
        case "located_in", "part_of", "involves", "gives_quest", "step_of": 1.0
        case "mentions": 0.35
        case "connects_to": 0.6
        default: 0.8
        }
    }
}

/// A lower-cased name or alias of a node. Relation targets may be names of any node; text
/// mentions only those of story entities: rules (the srd domain: spells, conditions, moves,
/// oracle tables) have names like "Light" or "Strike" that ordinary prose uses all the time,
/// and are linked explicitly instead.
public typealias EntityName = (name: String, id: String, mentionable: Bool)

/// The kind a document's node has when its front matter does not say.
public enum NodeKind {
    public static func `default`(for domain: KnowledgeDomain) -> String {
        switch domain {
        case .npc: "npc"
        case .episode: "event"
        case .art: "art"
        case .srd: "rule"
        case .lore: "lore"
        }
    }
}

extension JSONValue {
    var nonEmptyString: String? {
        guard let text = stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
        return text
    }
}
