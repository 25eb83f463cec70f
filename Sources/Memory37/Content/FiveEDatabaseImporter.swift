import JSONValues
public import Foundation
import ServiceKit

/// Reads the 5e-database JSON layout (`src/2014/en/5e-SRD-*.json`, or the 2024 edition's
/// `src/2024/en`, whose categories and fields differ: species, feats, weapon mastery,
/// `description` for `desc`) into `srd` documents: one per record, its `url` as the source id
/// (`/api/2014/…` or `/api/2024/…`), its name and index as aliases, and the fields a player
/// asks about (range, damage, armor class, duration, components…) rendered as text.
public struct FiveEDatabaseImporter: Sendable {
    /// The SRD editions the layout holds.
    public enum Edition: String, Sendable, CaseIterable {
        case srd2014 = "2014"
        case srd2024 = "2024"
    }

    public let edition: Edition

    public init(edition: Edition = .srd2014) {
        self.edition = edition
    }

    /// `directory` is the repository root, `src/<edition>/en`, or any folder holding the files.
    public func load(_ directory: URL) -> (documents: [KnowledgeDocument], failures: [DocumentLoader.Failure]) {
        let candidates = [directory.appendingPathComponent("src/\(edition.rawValue)/en"), directory]
        guard let folder = candidates.first(where: { Self.files(in: $0).isEmpty == false }) else {
            return ([], [DocumentLoader.Failure(path: directory.path, line: nil, reason: "no 5e-SRD-*.json files (expected the 5e-database layout src/\(edition.rawValue)/en)")])
        }
        var documents: [KnowledgeDocument] = []
        var failures: [DocumentLoader.Failure] = []
        for file in Self.files(in: folder) {
            guard let data = FileManager.default.contents(atPath: file.path), case .array(let records)? = try? JSONValue.parse(String(decoding: data, as: UTF8.self)) else {
                failures.append(DocumentLoader.Failure(path: file.path, line: nil, reason: "not a JSON array of records"))
                continue
            }
            for (index, record) in records.enumerated() {
                guard case .object(let fields) = record, let url = fields["url"]?.stringValue, let name = Self.title(fields) else {
                    failures.append(DocumentLoader.Failure(path: file.path, line: nil, reason: "record \(index + 1) has no url or name"))
                    continue
                }
                let category = url.split(separator: "/").dropLast().last.map(String.init) ?? "srd"
                var aliases: [String] = []
                if let key = fields["index"]?.stringValue, key.lowercased() != name.lowercased() { aliases.append(key) }
                documents.append(KnowledgeDocument(
                    sourceID: url, campaignID: nil, domain: .srd, title: name, aliases: aliases, visibility: .players,
                    metadata: ["category": .string(category), "edition": .string(edition.rawValue)], body: Self.render(category: category, fields), origin: file.path
                ))
            }
        }
        return (documents, failures)
    }

    /// The record's name; class level tables have none and are named "Bard level 3".
    static func title(_ fields: [String: JSONValue]) -> String? {
        if let name = fields["name"]?.stringValue { return name }
        if let level = fields["level"]?.numberValue {
            let owner = name(fields["subclass"]) ?? name(fields["class"]) ?? "Character"
            return "\(owner) level \(Int(level))"
        }
        return nil
    }

    static func files(in folder: URL) -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.lastPathComponent.hasPrefix("5e-SRD-") && $0.pathExtension == "json" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    // MARK: - Rendering

    static func render(category: String, _ fields: [String: JSONValue]) -> String {
        var lines: [String] = []
        switch category {
        case "spells": lines = spell(fields)
        case "monsters": lines = monster(fields)
        case "equipment", "magic-items": lines = equipment(fields)
        default: lines = generic(fields)
        }
        lines += paragraphs(fields["desc"]) + paragraphs(fields["description"])
        if let higher = fields["higher_level"], !paragraphs(higher).isEmpty {
            lines.append("At higher levels: " + paragraphs(higher).joined(separator: " "))
        }
        return lines.joined(separator: "\n\n")
    }

    static func spell(_ fields: [String: JSONValue]) -> [String] {
        var lines: [String] = []
        let level = fields["level"]?.intValue ?? 0
        let school = name(fields["school"]) ?? "unknown school"
        let ritual = fields["ritual"] == .bool(true) ? " (ritual)" : ""
        lines.append(level == 0 ? "\(school) cantrip\(ritual)." : "Level \(level) \(school.lowercased()) spell\(ritual).")
        var facts: [String] = []
        if let time = fields["casting_time"]?.stringValue { facts.append("Casting time: \(time)") }
        if let range = fields["range"]?.stringValue { facts.append("Range: \(range)") }
        if case .array(let components)? = fields["components"] {
            var text = "Components: " + components.compactMap(\.stringValue).joined(separator: ", ")
            if let material = fields["material"]?.stringValue { text += " (\(material))" }
            facts.append(text)
        }
        if let duration = fields["duration"]?.stringValue {
            facts.append("Duration: \(fields["concentration"] == .bool(true) ? "concentration, " : "")\(duration)")
        }
        if let damage = fields["damage"]?.objectValue {
            var text = "Damage: " + (name(damage["damage_type"]) ?? "")
            if let slots = damage["damage_at_slot_level"]?.objectValue ?? damage["damage_at_character_level"]?.objectValue {
                let sorted = slots.sorted { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }
                text += " " + sorted.map { "\($0.value.stringValue ?? "") at \($0.key)" }.joined(separator: ", ")
            }
            facts.append(text)
        }
        if let dc = fields["dc"]?.objectValue, let type = name(dc["dc_type"]) { facts.append("Saving throw: \(type)") }
        if let attack = fields["attack_type"]?.stringValue { facts.append("Attack: \(attack) spell attack") }
        if case .array(let classes)? = fields["classes"] { facts.append("Classes: " + classes.compactMap(name).joined(separator: ", ")) }
        lines.append(facts.joined(separator: "\n"))
        return lines
    }

    static func monster(_ fields: [String: JSONValue]) -> [String] {
        var lines: [String] = []
        lines.append([fields["size"]?.stringValue, fields["type"]?.stringValue, fields["alignment"]?.stringValue].compactMap { $0 }.joined(separator: " ").capitalizedFirst + ".")
        var facts: [String] = []
        if case .array(let classes)? = fields["armor_class"], let first = classes.first?.objectValue, let value = first["value"] {
            facts.append("Armor Class: \(value.canonicalText)\(first["type"]?.stringValue.map { " (\($0))" } ?? "")")
        }
        if let hp = fields["hit_points"] { facts.append("Hit Points: \(hp.canonicalText)\(fields["hit_points_roll"]?.stringValue.map { " (\($0))" } ?? "")") }
        if let speed = fields["speed"]?.objectValue { facts.append("Speed: " + speed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.stringValue ?? $0.value.canonicalText)" }.joined(separator: ", ")) }
        let abilities = ["strength": "STR", "dexterity": "DEX", "constitution": "CON", "intelligence": "INT", "wisdom": "WIS", "charisma": "CHA"]
        facts.append(["strength", "dexterity", "constitution", "intelligence", "wisdom", "charisma"].compactMap { key in fields[key].map { "\(abilities[key]!) \($0.canonicalText)" } }.joined(separator: ", "))
        if let rating = fields["challenge_rating"] { facts.append("Challenge: \(rating.canonicalText)\(fields["xp"].map { " (\($0.canonicalText) XP)" } ?? "")") }
        for (key, label) in [("damage_immunities", "Damage immunities"), ("damage_resistances", "Damage resistances"), ("damage_vulnerabilities", "Damage vulnerabilities")] {
            if case .array(let values)? = fields[key], !values.isEmpty { facts.append("\(label): " + values.compactMap(\.stringValue).joined(separator: ", ")) }
        }
        if case .array(let values)? = fields["condition_immunities"], !values.isEmpty { facts.append("Condition immunities: " + values.compactMap(name).joined(separator: ", ")) }
        if let senses = fields["senses"]?.objectValue { facts.append("Senses: " + senses.sorted { $0.key < $1.key }.map { "\($0.key.replacingOccurrences(of: "_", with: " ")) \($0.value.stringValue ?? $0.value.canonicalText)" }.joined(separator: ", ")) }
        if let languages = fields["languages"]?.stringValue, !languages.isEmpty { facts.append("Languages: \(languages)") }
        lines.append(facts.joined(separator: "\n"))
        for (key, heading) in [("special_abilities", "Special abilities"), ("actions", "Actions"), ("legendary_actions", "Legendary actions")] {
            guard case .array(let entries)? = fields[key], !entries.isEmpty else { continue }
            lines.append("## \(heading)")
            for entry in entries {
                guard let entry = entry.objectValue, let name = entry["name"]?.stringValue else { continue }
                lines.append("\(name). \(entry["desc"]?.stringValue ?? "")")
            }
        }
        return lines
    }

    static func equipment(_ fields: [String: JSONValue]) -> [String] {
        var facts: [String] = []
        if let category = name(fields["equipment_category"]) { facts.append("Category: \(category)") }
        if case .array(let categories)? = fields["equipment_categories"], !categories.isEmpty { facts.append("Categories: " + categories.compactMap(name).joined(separator: ", ")) }
        if let mastery = name(fields["mastery"]) { facts.append("Mastery: \(mastery)") }
        if let rarity = name(fields["rarity"]) { facts.append("Rarity: \(rarity)") }
        if let weapon = fields["weapon_category"]?.stringValue { facts.append("Weapon: \(weapon) \(fields["weapon_range"]?.stringValue ?? "")".trimmingCharacters(in: .whitespaces)) }
        if let cost = fields["cost"]?.objectValue, let quantity = cost["quantity"], let unit = cost["unit"]?.stringValue { facts.append("Cost: \(quantity.canonicalText) \(unit)") }
        if let weight = fields["weight"] { facts.append("Weight: \(weight.canonicalText) lb.") }
        if let damage = fields["damage"]?.objectValue, let dice = damage["damage_dice"]?.stringValue { facts.append("Damage: \(dice) \(name(damage["damage_type"])?.lowercased() ?? "")") }
        if let range = fields["range"]?.objectValue, let normal = range["normal"] { facts.append("Range: \(normal.canonicalText)\(range["long"].map { "/\($0.canonicalText)" } ?? "") ft.") }
        if let armor = fields["armor_class"]?.objectValue, let base = armor["base"] {
            facts.append("Armor Class: \(base.canonicalText)\(armor["dex_bonus"] == .bool(true) ? " + Dex modifier" : "")\(armor["max_bonus"].map { " (max \($0.canonicalText))" } ?? "")")
        }
        if case .array(let properties)? = fields["properties"], !properties.isEmpty { facts.append("Properties: " + properties.compactMap(name).joined(separator: ", ")) }
        return facts.isEmpty ? [] : [facts.joined(separator: "\n")]
    }

    /// Scalars and named references as `Label: value` lines.
    static func generic(_ fields: [String: JSONValue]) -> [String] {
        let skipped: Set<String> = ["index", "name", "url", "desc", "description", "higher_level", "image"]
        var facts: [String] = []
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) where !skipped.contains(key) {
            let label = key.replacingOccurrences(of: "_", with: " ").capitalizedFirst
            switch value {
            case .string(let text): facts.append("\(label): \(text)")
            case .number, .bool: facts.append("\(label): \(value.canonicalText)")
            case .object: if let reference = name(value) { facts.append("\(label): \(reference)") }
            case .array(let values):
                let names = values.compactMap { name($0) ?? $0.stringValue }
                if !names.isEmpty { facts.append("\(label): " + names.joined(separator: ", ")) }
            case .null: continue
            }
        }
        return facts.isEmpty ? [] : [facts.joined(separator: "\n")]
    }

    static func paragraphs(_ value: JSONValue?) -> [String] {
        switch value {
        case .string(let text)?: return [text]
        case .array(let values)?: return values.compactMap(\.stringValue)
        default: return []
        }
    }

    static func name(_ value: JSONValue?) -> String? {
        value?.objectValue?["name"]?.stringValue
    }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
