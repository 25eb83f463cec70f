import JSONValues
import JSONSchema
import ServiceKit

extension GroundedGenerator {
    /// What an output may refer to, checked after the schema passes: knowledge ids it cites
    /// must be among those in the prompt, and combat actions must name combatants that exist.
    /// A failure goes back to the model as an error at its JSON pointer, like a schema error.
    struct References: Sendable {
        let knowledgeIDs: Set<String>
        /// Empty when the frame names no combatants: then any actor id is accepted.
        let combatantIDs: Set<String>

        init(endpoint: DomainEndpoint, frame: [String: JSONValue], knowledgeIDs: Set<String>) {
            self.knowledgeIDs = knowledgeIDs
            combatantIDs = endpoint == .combat ? Set(FrameReader(frame).objects("combatants").compactMap { $0["id"]?.stringValue }) : []
        }

        /// What the model may write where: citations only of the knowledge given, NPC and
        /// combatant ids only of those in the frame (when it names any).
        func allowedValues(frame: [String: JSONValue]) -> [String: [String]] {
            let knowledge = knowledgeIDs.sorted()
            var allowed = ["/lore_refs/*": knowledge, "/revealed_facts/*/lore_ref": knowledge]
            let npcs = FrameReader(frame).objects("npcs").compactMap { $0["id"]?.stringValue }.sorted()
            if !npcs.isEmpty {
                for path in ["/npcs/*/npc_id", "/npc_lines/*/npc_id", "/disposition_changes/*/npc_id"] { allowed[path] = npcs }
            }
            if !combatantIDs.isEmpty {
                for path in ["/actions/*/actor_id", "/actions/*/target_ids/*", "/proposed_effects/*/target_id"] { allowed[path] = combatantIDs.sorted() }
            }
            return allowed
        }

        func check(_ output: JSONValue) -> [ValidationError] {
            guard let members = output.objectValue else { return [] }
            var errors: [ValidationError] = []
            for (index, value) in (members["lore_refs"]?.arrayValue ?? []).enumerated() {
                if let id = value.stringValue, !knowledgeIDs.contains(id) {
                    errors.append(unknownKnowledge(id, at: "/lore_refs/\(index)"))
                }
            }
            for (index, fact) in (members["revealed_facts"]?.arrayValue ?? []).enumerated() {
                if let id = fact.objectValue?["lore_ref"]?.stringValue, !knowledgeIDs.contains(id) {
                    errors.append(unknownKnowledge(id, at: "/revealed_facts/\(index)/lore_ref"))
                }
            }
            guard !combatantIDs.isEmpty else { return errors }
            for (index, action) in (members["actions"]?.arrayValue ?? []).enumerated() {
                let fields = action.objectValue ?? [:]
                if let actor = fields["actor_id"]?.stringValue, !combatantIDs.contains(actor) {
                    errors.append(unknownCombatant(actor, at: "/actions/\(index)/actor_id"))
                }
                for (position, target) in (fields["target_ids"]?.arrayValue ?? []).enumerated() {
                    if let id = target.stringValue, !combatantIDs.contains(id) {
                        errors.append(unknownCombatant(id, at: "/actions/\(index)/target_ids/\(position)"))
                    }
                }
            }
            for (index, effect) in (members["proposed_effects"]?.arrayValue ?? []).enumerated() {
                if let id = effect.objectValue?["target_id"]?.stringValue, !combatantIDs.contains(id) {
                    errors.append(unknownCombatant(id, at: "/proposed_effects/\(index)/target_id"))
                }
            }
            return errors
        }

        private func unknownKnowledge(_ id: String, at pointer: String) -> ValidationError {
            let known = knowledgeIDs.isEmpty ? "no knowledge was given, so cite nothing" : "cite only ids shown in brackets in the knowledge"
            return ValidationError(instanceLocation: pointer, schemaLocation: "#/knowledge", message: "'\(id)' is not one of the knowledge items given; \(known)")
        }

        private func unknownCombatant(_ id: String, at pointer: String) -> ValidationError {
            ValidationError(instanceLocation: pointer, schemaLocation: "#/combatants", message: "'\(id)' is not a combatant; use one of \(combatantIDs.sorted().joined(separator: ", "))")
        }
    }
}
