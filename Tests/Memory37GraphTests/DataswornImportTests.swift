import Foundation
import JSONValues
import Memory37
import Memory37Graph
import TestSupport
import Testing

/// Ironsworn (classic) in the Datasworn format: real third-party content with a real link graph.
/// The expected counts were taken from classic.json with an independent script.
@Suite("Datasworn import")
struct DataswornImportTests {
    static let classic = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/data/datasworn/datasworn/classic/classic.json")
    static let available = FileManager.default.fileExists(atPath: classic.path) || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"

    static func links(_ document: KnowledgeDocument) -> [(target: String, count: Int)] {
        (document.metadata["links"]?.arrayValue ?? []).compactMap { link in
            guard let target = link.objectValue?["target"]?.stringValue, let count = link.objectValue?["count"]?.intValue else { return nil }
            return (target, count)
        }
    }

    @Test("records by type, links with their counts, plain text bodies, licence kept", .enabled(if: available, "needs ../shared/data/datasworn"))
    func records() throws {
        let (documents, failures) = DataswornImporter().load(Self.classic)
        #expect(failures.isEmpty)
        let byType = Dictionary(grouping: documents, by: { $0.metadata["datasworn_type"]?.stringValue ?? "?" }).mapValues(\.count)
        #expect(byType == [
            "asset": 78, "move": 58, "oracle_rollable": 38, "npc": 29, "oracle_collection": 12, "truth": 11,
            "atlas_entry": 9, "move_category": 6, "npc_collection": 5, "asset_collection": 4, "atlas": 1,
        ])
        #expect(Set(documents.map(\.sourceID)).count == documents.count)
        #expect(documents.filter { !Self.links($0).isEmpty }.count == 164)
        #expect(documents.map { Self.links($0).count }.reduce(0, +) == 471)
        #expect(documents.flatMap { Self.links($0).map(\.count) }.reduce(0, +) == 519)
        #expect(!documents.contains { $0.body.contains("(id:") || $0.body.isEmpty })

        let faceDanger = try #require(documents.first { $0.sourceID == "classic/moves/adventure/face_danger" })
        #expect(faceDanger.title == "Face Danger" && faceDanger.domain == .srd)
        #expect(Set(Self.links(faceDanger).map(\.target)) == ["classic/moves/fate/pay_the_price", "classic/moves/suffer/endure_harm", "classic/moves/suffer/endure_stress"])
        #expect(faceDanger.body.contains("Pay the Price"))

        let broken = try #require(documents.first { $0.sourceID == "classic/npcs/ironlanders/broken" })
        #expect(broken.domain == .npc && broken.metadata["kind"] == .string("npc"))
        #expect(broken.metadata["license"]?.stringValue?.contains("creativecommons.org") == true)
        #expect(Self.links(broken).map(\.target) == ["classic/truths/old_world"])
        let wyvern = try #require(documents.first { $0.sourceID == "classic/npcs/beasts/wyvern" })
        #expect(wyvern.metadata["kind"] == .string("creature"))
        let oldWorld = try #require(documents.first { $0.sourceID == "classic/truths/old_world" })
        #expect(oldWorld.domain == .lore && oldWorld.body.contains("Skulde") && oldWorld.body.contains("Quest starter:"))
        // A link into an asset's ability points at the asset; a record never links to itself.
        #expect(!documents.contains { document in Self.links(document).contains { $0.target == document.sourceID || $0.target.contains("/abilities/") } })
    }

    @Test("not a Datasworn file: one failure, no documents")
    func notDatasworn() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("other.json")
        try Data(#"{"name": "not a ruleset"}"#.utf8).write(to: file)
        let (documents, failures) = DataswornImporter().load(file)
        #expect(documents.isEmpty && failures.count == 1 && failures.first?.reason.contains("Datasworn") == true)
        let missing = DataswornImporter().load(directory.file("absent.json"))
        #expect(missing.documents.isEmpty && missing.failures.count == 1)
    }

    @Test("the link graph: mentions and part_of edges, broken links reported, no rule names matched in prose", .enabled(if: available, "needs ../shared/data/datasworn"), arguments: GraphStoreKind.available)
    func graph(kind: GraphStoreKind) async throws {
        let documents = DataswornImporter().load(Self.classic).documents.map { var document = $0; document.campaignID = "iron"; return document }
        try await GraphFixture.withGraph(kind) { knowledge, graph in
            let report = try await knowledge.ingest(documents)
            #expect(report.failed.isEmpty)
            #expect(report.added.count == 251)
            // Three links in the data point at nothing in this ruleset (a misspelt id, a Delve move, a move id that does not exist).
            let unresolved = Set(report.warnings.compactMap { $0.split(separator: " relates to ").last?.split(separator: ",").first.map(String.init) })
            #expect(unresolved == ["classic/assets/combat_talent/shield-bearer", "classic/moves/adventure/aid_your_ally", "delve/moves/delve/check_your_gear"])

            let filter = SearchFilter(campaignID: "iron", includeGM: false)
            let (view, _) = try await graph.view(filter)
            let faceDanger = try await graph.store.edges(touching: ["classic/moves/adventure/face_danger"], types: nil, view: view, limit: 100)
                .filter { $0.from == "classic/moves/adventure/face_danger" }
            #expect(Set(faceDanger.filter { $0.type == "mentions" }.map(\.to)) == ["classic/moves/fate/pay_the_price", "classic/moves/suffer/endure_harm", "classic/moves/suffer/endure_stress"])
            #expect(faceDanger.filter { $0.type == "part_of" }.map(\.to) == ["classic/collections/moves/adventure"])

            let scene = try await graph.sceneContext(location: "Barrier Islands", filter: filter)
            #expect(scene.nodes.first?.id == "classic/atlas/ironlands/barrier_islands")
            #expect(scene.section("location").contains("classic/collections/atlas/ironlands"))
            #expect(scene.node("classic/npcs/ironlanders/raider") != nil)
            // "Location" is an oracle table's name; prose saying "location" is no link to it.
            let islands = try await graph.store.edges(touching: ["classic/atlas/ironlands/barrier_islands"], types: ["mentions"], view: view, limit: 100)
            #expect(!islands.contains { $0.to.hasPrefix("classic/oracles/") })
            #expect(islands.contains { $0.to == "classic/atlas/ironlands/ragged_coast" && $0.weight == 2 })

            let broken = try await graph.store.edges(touching: ["classic/npcs/ironlanders/broken"], types: nil, view: view, limit: 100)
            #expect(broken.contains { $0.id == "classic/npcs/ironlanders/broken -mentions-> classic/truths/old_world" && $0.note == "Old World" })
            #expect(broken.contains { $0.id == "classic/npcs/ironlanders/broken -part_of-> classic/collections/npcs/ironlanders" })
        }
    }
}

