public import Foundation
import JSONValues

/// Reads Ironsworn content in the Datasworn JSON format (one ruleset file such as
/// `datasworn/classic/classic.json`) into knowledge documents: one per atlas entry, NPC, move,
/// asset, oracle table, truth and collection, its `_id` as the source id.
///
/// The cross-references Datasworn writes into its text, `[label](id:classic/moves/combat/strike)`,
/// are kept as plain labels in the body and listed under the `links` metadata
/// (`[{target, label, count}]`), which the campaign graph reads as `mentions` edges; a record
/// inside a collection (an atlas entry in its region, an NPC in its folk, a move in its
/// category) gets a `part_of` relation to it. A link to something nested inside a record (an
/// asset's ability, an oracle's row) points at that record.
public struct DataswornImporter: Sendable {
    /// How each Datasworn type lands in the knowledge layer.
    struct Placement {
        let domain: KnowledgeDomain
        let kind: String
    }

    static let placements: [String: Placement] = [
        "atlas": Placement(domain: .lore, kind: "location"),
        "atlas_entry": Placement(domain: .lore, kind: "location"),
        "truth": Placement(domain: .lore, kind: "lore"),
        "npc_collection": Placement(domain: .npc, kind: "collection"),
        "npc": Placement(domain: .npc, kind: "npc"),
        "move_category": Placement(domain: .srd, kind: "collection"),
        "move": Placement(domain: .srd, kind: "move"),
        "asset_collection": Placement(domain: .srd, kind: "collection"),
        "asset": Placement(domain: .srd, kind: "asset"),
        "oracle_collection": Placement(domain: .srd, kind: "collection"),
        "oracle_rollable": Placement(domain: .srd, kind: "oracle"),
    ]

    /// NPC folders whose members are beasts rather than people.
    static let creatureCollections: Set<String> = ["animals", "beasts", "horrors"]

    /// The domains an import writes, for pruning.
    public static let domains: Set<KnowledgeDomain> = Set(placements.values.map(\.domain))

    public init() {}

    /// The documents of the ruleset `file`, or why it could not be read.
    public func load(_ file: URL) -> (documents: [KnowledgeDocument], failures: [DocumentLoader.Failure]) {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            return ([], [DocumentLoader.Failure(path: file.path, line: nil, reason: "no such file")])
        }
        guard case .object(let root)? = try? JSONValue.parse(String(decoding: data, as: UTF8.self)),
              root["_id"]?.stringValue != nil, root["datasworn_version"] != nil else {
            return ([], [DocumentLoader.Failure(path: file.path, line: nil, reason: "not a Datasworn ruleset (a JSON object with _id and datasworn_version)")])
        }
        var records: [Record] = []
        for (key, value) in root.sorted(by: { $0.key < $1.key }) {
            collect(value, topLevel: key, parent: nil, into: &records)
        }
        let ids = Set(records.map(\.id))
        let documents = records.map { document(for: $0, known: ids, origin: file.path) }
        return (documents, [])
    }

    // MARK: - Walking the tree

    struct Record {
        let id: String
        let type: String
        let fields: [String: JSONValue]
        let parent: String?
        /// The top-level key it was found under (`npcs`, `atlas`…), and its collection's key.
        let collectionKey: String?
    }

    private func collect(_ value: JSONValue, topLevel: String, parent: Record?, into records: inout [Record]) {
        switch value {
        case .array(let items):
            for item in items { collect(item, topLevel: topLevel, parent: parent, into: &records) }
        case .object(let fields):
            var here = parent
            if let id = fields["_id"]?.stringValue, let type = Self.type(of: fields, topLevel: topLevel, parent: parent) {
                let record = Record(id: id, type: type, fields: fields, parent: parent?.id, collectionKey: type == "npc_collection" ? id.split(separator: "/").last.map(String.init) : parent?.collectionKey)
                records.append(record)
                here = record
            }
            for (_, child) in fields.sorted(by: { $0.key < $1.key }) where child.objectValue != nil || child.arrayValue != nil {
                collect(child, topLevel: topLevel, parent: here, into: &records)
            }
        default:
            break
        }
    }

    /// The record's Datasworn type when it is one the import keeps; truths carry none.
    static func type(of fields: [String: JSONValue], topLevel: String, parent: Record?) -> String? {
        if let type = fields["type"]?.stringValue { return placements[type] == nil ? nil : type }
        if topLevel == "truths", parent == nil, fields["name"] != nil { return "truth" }
        return nil
    }

    // MARK: - Documents

    func document(for record: Record, known ids: Set<String>, origin: String) -> KnowledgeDocument {
        let fields = record.fields
        var placement = Self.placements[record.type] ?? Placement(domain: .lore, kind: "lore")
        if record.type == "npc", let folk = record.collectionKey, Self.creatureCollections.contains(folk) {
            placement = Placement(domain: .npc, kind: "creature")
        }
        var text = TextWithLinks()
        render(record, into: &text)
        var metadata: [String: JSONValue] = [
            "kind": .string(placement.kind),
            "datasworn_type": .string(record.type),
        ]
        let links = text.links
            .map { (target: resolve($0.target, known: ids), label: $0.label) }
            .filter { $0.target != record.id }
        var counted: [String: (label: String, count: Int)] = [:]
        var order: [String] = []
        for link in links {
            if let existing = counted[link.target] {
                counted[link.target] = (existing.label, existing.count + 1)
            } else {
                counted[link.target] = (link.label, 1)
                order.append(link.target)
            }
        }
        if !order.isEmpty {
            metadata["links"] = .array(order.map { target in
                .object(["target": .string(target), "label": .string(counted[target]!.label), "count": .number(Double(counted[target]!.count))])
            })
        }
        if let parent = record.parent {
            metadata["relations"] = .array([.object(["type": .string("part_of"), "target": .string(parent)])])
        }
        if let source = fields["_source"]?.objectValue {
            if let title = source["title"]?.stringValue { metadata["source_title"] = .string(title) }
            if let page = source["page"]?.numberValue { metadata["source_page"] = .number(page) }
            if let license = source["license"]?.stringValue { metadata["license"] = .string(license) }
        }
        var aliases: [String] = []
        if let canonical = fields["canonical_name"]?.stringValue, canonical != Self.name(fields, id: record.id) { aliases.append(canonical) }
        return KnowledgeDocument(
            sourceID: record.id, campaignID: nil, domain: placement.domain, title: Self.name(fields, id: record.id),
            aliases: aliases, visibility: .players, metadata: metadata, body: text.body, origin: origin
        )
    }

    /// A link to a record the import keeps, or to the nearest kept record that contains it.
    func resolve(_ target: String, known ids: Set<String>) -> String {
        var candidate = Substring(target)
        while !ids.contains(String(candidate)) {
            guard let slash = candidate.lastIndex(of: "/") else { return target }
            candidate = candidate[..<slash]
        }
        return String(candidate)
    }

    static func name(_ fields: [String: JSONValue], id: String) -> String {
        fields["name"]?.stringValue ?? fields["canonical_name"]?.stringValue ?? id
    }

    // MARK: - Rendering

    func render(_ record: Record, into text: inout TextWithLinks) {
        let fields = record.fields
        if let nature = fields["nature"]?.stringValue {
            let rank = fields["rank"]?.intValue.map { ", rank \($0)" } ?? ""
            text.line("\(nature)\(rank).")
        }
        if let category = fields["category"]?.stringValue { text.line("\(category) asset.") }
        for key in ["summary", "requirement", "description"] {
            if let value = fields[key]?.stringValue { text.paragraph(value) }
        }
        if record.type == "move", let body = fields["text"]?.stringValue { text.paragraph(body) }
        for (key, label) in [("features", "Features"), ("drives", "Drives"), ("tactics", "Tactics")] {
            let items = fields[key]?.arrayValue?.compactMap(\.stringValue) ?? []
            if !items.isEmpty { text.paragraph("\(label): " + items.joined(separator: "; ") + ".") }
        }
        for (index, ability) in (fields["abilities"]?.arrayValue ?? []).enumerated() {
            if let body = ability.objectValue?["text"]?.stringValue { text.paragraph("Ability \(index + 1): \(body)") }
        }
        for row in fields["rows"]?.arrayValue ?? [] {
            guard let row = row.objectValue, let body = row["text"]?.stringValue else { continue }
            let low = row["min"]?.intValue, high = row["max"]?.intValue
            let range = low.map { low in high.map { $0 == low ? "\(low)" : "\(low)–\($0)" } ?? "\(low)" } ?? "–"
            text.line("\(range): \(body)")
        }
        for option in fields["options"]?.arrayValue ?? [] {
            guard let option = option.objectValue, let body = option["description"]?.stringValue else { continue }
            text.paragraph(body)
            if let starter = option["quest_starter"]?.stringValue { text.paragraph("Quest starter: \(starter)") }
        }
        if let starter = fields["quest_starter"]?.stringValue { text.paragraph("Quest starter: \(starter)") }
        if text.body.isEmpty {
            let members = (fields["contents"]?.objectValue ?? fields["collections"]?.objectValue ?? [:]).values
                .compactMap { $0.objectValue?["name"]?.stringValue }.sorted()
            text.line(members.isEmpty ? Self.name(fields, id: record.id) : "Contains: " + members.joined(separator: ", ") + ".")
        }
    }
}

/// Text assembled from Datasworn Markdown with its `[label](id:…)` links replaced by their
/// labels, and the links collected in order.
struct TextWithLinks {
    private(set) var body = ""
    private(set) var links: [(target: String, label: String)] = []

    mutating func paragraph(_ markdown: String) {
        append(markdown, separator: "\n\n")
    }

    mutating func line(_ markdown: String) {
        append(markdown, separator: "\n")
    }

    private mutating func append(_ markdown: String, separator: String) {
        let plain = strip(markdown)
        guard !plain.isEmpty else { return }
        body += body.isEmpty ? plain : separator + plain
    }

    /// `[label](id:target)` → `label`, recording the link; other Markdown is left as it is.
    private mutating func strip(_ markdown: String) -> String {
        var output = ""
        var rest = Substring(markdown)
        while let open = rest.firstIndex(of: "[") {
            output += rest[..<open]
            let afterOpen = rest.index(after: open)
            if let close = rest[afterOpen...].firstIndex(of: "]"),
               rest[rest.index(after: close)...].hasPrefix("(id:"),
               let end = rest[close...].firstIndex(of: ")") {
                let label = rest[afterOpen..<close]
                let target = rest[rest.index(close, offsetBy: 5)..<end]
                output += label
                links.append((String(target), String(label)))
                rest = rest[rest.index(after: end)...]
            } else {
                output += "["
                rest = rest[afterOpen...]
            }
        }
        output += rest
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
