import Foundation
import JSONValues
import Memory37

/// The graph a document declares in its front matter (docs/knowledge-content.md): its kind,
/// `relations`, the `location`/`faction`/`giver`/`involves`/`causes` shorthands, a quest's
/// `steps` and an episode's `events`, and the `links` of imported content. Read from the
/// document's fields; `check` refuses what cannot be stored.
struct RelationDeclarations {
    /// One declared relation, already turned the canonical way round.
    struct Relation {
        /// nil: the document itself.
        var from: String?
        var to: String?
        var type: String
        var attitude: Int?
        var weight: Double?
        var since: Int?
        var until: Int?
        var note: String?
        var visibility: Visibility?
        var expiresAt: Date?
        var pinned = false
        /// Where it was written, for error messages (`relations/2`).
        var pointer: String
    }

    struct Step {
        var id: String
        var title: String
        var status: String
        var requires: [String]
    }

    struct Event {
        var id: String
        var text: String
    }

    var kind: String
    var status: String?
    var relations: [Relation] = []
    var steps: [Step] = []
    var events: [Event] = []

    static let statuses: Set<String> = ["open", "active", "done", "failed"]

    /// Reads the declarations of a document with `sourceID` from its fields; throws the
    /// reason the document is refused.
    init(sourceID: String, domain: KnowledgeDomain, fields: [String: JSONValue]) throws(Refusal) {
        kind = fields["kind"]?.nonEmptyString?.lowercased() ?? NodeKind.default(for: domain)
        guard RelationType.isValid(kind) else { throw Refusal("kind must be a lower-case word such as npc, location, faction, quest or item") }
        if let value = fields["status"], value != .null {
            guard let status = value.stringValue?.lowercased(), Self.statuses.contains(status) else { throw Refusal("status must be open, active, done or failed") }
            self.status = status
        }
        if let value = fields["relations"], value != .null {
            guard case .array(let items) = value else { throw Refusal("relations must be a list of {type, target}") }
            for (index, item) in items.enumerated() {
                relations.append(try Self.relation(item, pointer: "relations/\(index)"))
            }
        }
        // Shorthands: `location: lore.brindlewick` is `{type: located_in, target: lore.brindlewick}`.
        for (key, type) in [("location", "located_in"), ("faction", "member_of"), ("involves", "involves"), ("causes", "causes"), ("caused_by", "caused_by"), ("guards", "guards"), ("seeks", "seeks"), ("depicts", "depicts")] {
            for (index, target) in try Self.targets(fields[key], key: key).enumerated() where !Self.placeholders.contains(target.lowercased()) {
                relations.append(try Self.oriented(Relation(to: target, type: type, pointer: "\(key)/\(index)")))
            }
        }
        if let giver = fields["giver"]?.nonEmptyString ?? (kind == "quest" ? fields["quest_giver"]?.nonEmptyString : nil) {
            relations.append(Relation(from: giver, to: nil, type: "gives_quest", pointer: "giver"))
        }
        if let value = fields["links"], value != .null {
            guard case .array(let items) = value else { throw Refusal("links must be a list of {target, count}") }
            for (index, item) in items.enumerated() {
                guard let target = item.objectValue?["target"]?.nonEmptyString else { throw Refusal("links/\(index) needs a target") }
                relations.append(Relation(to: target, type: "mentions", weight: item.objectValue?["count"]?.numberValue, note: item.objectValue?["label"]?.stringValue, pointer: "links/\(index)"))
            }
        }
        try readSteps(fields["steps"], sourceID: sourceID)
        try readEvents(fields["events"], sourceID: sourceID)
        for relation in relations where (relation.from ?? sourceID) == (relation.to ?? sourceID) {
            throw Refusal("\(relation.pointer): a relation from \(sourceID) to itself")
        }
    }

    /// Values that say "nothing" rather than name a target.
    static let placeholders: Set<String> = ["none", "nobody", "unknown", "-", ""]

    private static func targets(_ value: JSONValue?, key: String) throws(Refusal) -> [String] {
        switch value {
        case nil, .null?: return []
        case .string(let text)?: return text.trimmingCharacters(in: .whitespaces).isEmpty ? [] : [text.trimmingCharacters(in: .whitespaces)]
        case .array(let items)?:
            var targets: [String] = []
            for (index, item) in items.enumerated() {
                guard let text = item.nonEmptyString else { throw Refusal("\(key)/\(index) must be a document id") }
                targets.append(text)
            }
            return targets
        default: throw Refusal("\(key) must be a document id or a list of them")
        }
    }

    private static func relation(_ item: JSONValue, pointer: String) throws(Refusal) -> Relation {
        guard case .object(let fields) = item else { throw Refusal("\(pointer) must be {type, target, …}") }
        guard let type = fields["type"]?.nonEmptyString else { throw Refusal("\(pointer) has no type") }
        guard let target = fields["target"]?.nonEmptyString else { throw Refusal("\(pointer) has no target") }
        var relation = Relation(to: target, type: type.lowercased(), pointer: pointer)
        if let value = fields["attitude"], value != .null {
            guard let attitude = value.intValue, (-100...100).contains(attitude) else { throw Refusal("\(pointer)/attitude must be a whole number from -100 to 100") }
            relation.attitude = attitude
        }
        if let value = fields["weight"], value != .null {
            guard let weight = value.numberValue, weight.isFinite, (0...10).contains(weight) else { throw Refusal("\(pointer)/weight must be a number from 0 to 10") }
            relation.weight = weight
        }
        for key in ["since", "until"] {
            guard let value = fields[key], value != .null else { continue }
            guard let session = value.intValue, KnowledgeDocument.sessionRange.contains(session) else { throw Refusal("\(pointer)/\(key) must be a session number") }
            if key == "since" { relation.since = session } else { relation.until = session }
        }
        if let since = relation.since, let until = relation.until, until < since { throw Refusal("\(pointer): until comes before since") }
        if let value = fields["note"], value != .null {
            guard let note = value.stringValue, note.count <= 500 else { throw Refusal("\(pointer)/note must be text of at most 500 characters") }
            relation.note = note
        }
        if let value = fields["visibility"], value != .null {
            guard let name = value.stringValue?.lowercased(), let visibility = Visibility(rawValue: name) else { throw Refusal("\(pointer)/visibility must be players or gm") }
            relation.visibility = visibility
        }
        if let value = fields["expires"], value != .null {
            guard let text = value.stringValue, let date = DocumentLoader.parseDate(text) else { throw Refusal("\(pointer)/expires must be an ISO 8601 date or date-time") }
            relation.expiresAt = date
        }
        if let value = fields["pinned"], value != .null {
            guard case .bool(let flag) = value else { throw Refusal("\(pointer)/pinned must be true or false") }
            relation.pinned = flag
        }
        return try oriented(relation)
    }

    /// Turns an inverse spelling (`caused_by`) the canonical way round.
    private static func oriented(_ relation: Relation) throws(Refusal) -> Relation {
        var relation = relation
        if let canonical = RelationType.inverses[relation.type] {
            relation.type = canonical
            (relation.from, relation.to) = (relation.to, relation.from)
        }
        guard RelationType.isValid(relation.type) else { throw Refusal("\(relation.pointer)/type must be snake_case (enemy_of), not '\(relation.type)'") }
        return relation
    }

    private mutating func readSteps(_ value: JSONValue?, sourceID: String) throws(Refusal) {
        guard let value, value != .null else { return }
        guard case .array(let items) = value else { throw Refusal("steps must be a list of {id, title, status, requires}") }
        var ids = Set<String>()
        for (index, item) in items.enumerated() {
            let pointer = "steps/\(index)"
            guard case .object(let fields) = item else { throw Refusal("\(pointer) must be {id, title, status, requires}") }
            guard let id = fields["id"]?.nonEmptyString, !id.contains("/") else { throw Refusal("\(pointer) needs an id without /") }
            guard ids.insert(id).inserted else { throw Refusal("\(pointer): step \(id) is listed twice") }
            let status = fields["status"]?.stringValue?.lowercased() ?? "open"
            guard Self.statuses.contains(status) else { throw Refusal("\(pointer)/status must be open, active, done or failed") }
            let requires = try Self.targets(fields["requires"], key: "\(pointer)/requires")
            steps.append(Step(id: id, title: fields["title"]?.nonEmptyString ?? id, status: status, requires: requires))
            let node = "\(sourceID)/\(id)"
            for (key, type) in [("location", "located_in"), ("involves", "involves")] {
                for (position, target) in try Self.targets(fields[key], key: "\(pointer)/\(key)").enumerated() {
                    relations.append(Relation(from: node, to: target, type: type, pointer: "\(pointer)/\(key)/\(position)"))
                }
            }
        }
        for step in steps {
            for required in step.requires {
                guard ids.contains(required) else { throw Refusal("steps: \(step.id) requires \(required), which is not a step of this quest") }
                guard required != step.id else { throw Refusal("steps: \(step.id) requires itself") }
            }
        }
        if let cycle = Self.cycle(in: steps) { throw Refusal("steps form a cycle: \(cycle.joined(separator: " → "))") }
    }

    private mutating func readEvents(_ value: JSONValue?, sourceID: String) throws(Refusal) {
        guard let value, value != .null else { return }
        guard case .array(let items) = value else { throw Refusal("events must be a list of {id, text, causes, involves, location}") }
        // A bare id in `causes` names another event of the same episode.
        let local = Set(items.compactMap { $0.objectValue?["id"]?.nonEmptyString })
        func qualified(_ end: String?) -> String? { end.map { local.contains($0) ? "\(sourceID)/\($0)" : $0 } }
        var ids = Set<String>()
        for (index, item) in items.enumerated() {
            let pointer = "events/\(index)"
            guard case .object(let fields) = item else { throw Refusal("\(pointer) must be {id, text, …}") }
            guard let id = fields["id"]?.nonEmptyString, !id.contains("/") else { throw Refusal("\(pointer) needs an id without /") }
            guard ids.insert(id).inserted else { throw Refusal("\(pointer): event \(id) is listed twice") }
            events.append(Event(id: id, text: fields["text"]?.nonEmptyString ?? id))
            let node = "\(sourceID)/\(id)"
            for (key, type) in [("location", "located_in"), ("involves", "involves"), ("causes", "causes"), ("caused_by", "caused_by")] {
                for (position, target) in try Self.targets(fields[key], key: "\(pointer)/\(key)").enumerated() {
                    let relation = try Self.oriented(Relation(from: node, to: qualified(target), type: type, pointer: "\(pointer)/\(key)/\(position)"))
                    if relation.from == relation.to { throw Refusal("\(relation.pointer): an event that causes itself") }
                    relations.append(relation)
                }
            }
        }
    }

    /// A cycle among the steps' prerequisites, as the ids along it, if there is one.
    static func cycle(in steps: [Step]) -> [String]? {
        let requires = Dictionary(steps.map { ($0.id, $0.requires) }, uniquingKeysWith: { first, _ in first })
        var state: [String: Int] = [:]  // 1: on the path, 2: done
        var path: [String] = []
        func visit(_ id: String) -> [String]? {
            if state[id] == 2 { return nil }
            if state[id] == 1, let start = path.firstIndex(of: id) { return Array(path[start...]) + [id] }
            state[id] = 1
            path.append(id)
            for next in requires[id] ?? [] {
                if let cycle = visit(next) { return cycle }
            }
            path.removeLast()
            state[id] = 2
            return nil
        }
        for step in steps {
            if let cycle = visit(step.id) { return cycle }
        }
        return nil
    }

    /// Why a document's graph cannot be stored.
    struct Refusal: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
