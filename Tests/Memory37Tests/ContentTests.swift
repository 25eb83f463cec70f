import JSONValues
import Foundation
@testable import Memory37
import ServiceKit
import TestSupport
import Testing

@Suite("Content: loading, chunking, the 5e-database import")
struct ContentTests {
    @Test("a malformed file is reported with its path and line while the others load")
    func malformedAmongGood() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try "---\ntitle: Good\ndomain: npc\naliases: [Goodie]\nrole: baker\n---\n# Good\n\nBakes bread.".write(to: directory.file("good.md"), atomically: true, encoding: .utf8)
        try "---\ntitle: Bad\naliases: [unclosed\n---\nText".write(to: directory.file("bad.md"), atomically: true, encoding: .utf8)
        try "---\ndomain: dragons\n---\nText".write(to: directory.file("wrong-domain.md"), atomically: true, encoding: .utf8)
        try #"{"documents": [{"id": "a", "title": "A", "text": "alpha"}, {"id": "b", "title": "B", "text": "beta", "visibility": "gm"}]}"#.write(to: directory.file("many.json"), atomically: true, encoding: .utf8)
        try "{not json".write(to: directory.file("broken.json"), atomically: true, encoding: .utf8)
        let result = DocumentLoader(defaultDomain: .lore, defaultCampaign: "demo").load(directory.url)
        #expect(result.documents.map(\.sourceID).sorted() == ["a", "b", "good"])
        let good = try #require(result.documents.first { $0.sourceID == "good" })
        #expect(good.domain == .npc && good.aliases == ["Goodie"] && good.metadata["role"] == .string("baker") && good.campaignID == "demo")
        #expect(result.documents.first { $0.sourceID == "b" }?.visibility == .gm)
        let failures = Dictionary(result.failures.map { (URL(fileURLWithPath: $0.path).lastPathComponent, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(failures.keys.sorted() == ["bad.md", "broken.json", "wrong-domain.md"])
        #expect(failures["bad.md"]?.line != nil)
        #expect(failures["wrong-domain.md"]?.reason.contains("domain must be one of") == true)
    }

    @Test("chunks follow headings, stay within the bound and overlap when a paragraph is cut")
    func chunking() {
        let chunker = Chunker(maxTokens: 50, overlapTokens: 10)
        let long = (1...120).map { "w\($0)" }.joined(separator: " ")
        let pieces = chunker.split("# Title\n\nIntro line.\n\n## Part A\n\nAlpha text.\n\n```\n# not a heading\n```\n\n## Part B\n\n\(long)")
        #expect(pieces.first?.headingPath == ["Title"])
        #expect(pieces[1].headingPath == ["Title", "Part A"])
        #expect(pieces[1].text.contains("# not a heading"))
        let partB = pieces.filter { $0.headingPath == ["Title", "Part B"] }
        #expect(partB.count == 3)
        #expect(partB.allSatisfy { $0.text.split(separator: " ").count <= 50 })
        #expect(partB[1].text.hasPrefix("w41 "))
    }

    static let fiveEAvailable = FileManager.default.fileExists(atPath: StoreFixture.fiveE.appendingPathComponent("src/2014/en/5e-SRD-Spells.json").path)

    @Test(.enabled(if: fiveEAvailable || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1", "needs ../shared/data/5e-database"))
    func fiveEDatabaseImport() async throws {
        let loaded = FiveEDatabaseImporter().load(StoreFixture.fiveE)
        #expect(loaded.failures.isEmpty)
        let byCategory = Dictionary(grouping: loaded.documents) { $0.metadata["category"]?.stringValue ?? "" }
        #expect(byCategory["spells"]?.count == 319)
        #expect(byCategory["monsters"]?.count == 334)
        #expect(byCategory["conditions"]?.count == 15)
        #expect(byCategory["magic-items"]?.count == 362)
        let fireball = try #require(loaded.documents.first { $0.sourceID == "/api/2014/spells/fireball" })
        #expect(fireball.domain == .srd && fireball.title == "Fireball")
        #expect(fireball.body.contains("Range: 150 feet"))
        #expect(fireball.body.contains("Level 3 evocation spell"))
        let aboleth = try #require(loaded.documents.first { $0.sourceID == "/api/2014/monsters/aboleth" })
        #expect(aboleth.body.contains("Armor Class: 17 (natural)"))

        try await StoreFixture.withService(.sqlite) { service in
            let report = try await service.ingest(loaded.documents)
            #expect(report.added.count == loaded.documents.count)
            let exact = try await service.rulesLookup("Fireball", filter: SearchFilter(campaignID: "demo"))
            #expect(exact.first?.chunk.sourceID == "/api/2014/spells/fireball")
            #expect(exact.first?.aliasHit == true)
            let condition = try await service.rulesLookup("blinded", filter: SearchFilter(campaignID: "demo"))
            #expect(condition.first?.chunk.sourceID == "/api/2014/conditions/blinded")
            // Paraphrases, not names, within the first results.
            let sight = try await service.rulesLookup("a creature that cannot see fails checks needing sight", filter: SearchFilter(campaignID: "demo"), k: 5)
            #expect(sight.contains { $0.chunk.sourceID == "/api/2014/conditions/blinded" })
            let fire = try await service.rulesLookup("bright streak of fire blossoms into an explosion of flame", filter: SearchFilter(campaignID: "demo"), k: 10)
            #expect(fire.contains { $0.chunk.sourceID == "/api/2014/spells/fireball" })
        }
    }
}

@Suite("Porter stemmer")
struct PorterStemmerTests {
    @Test("the published examples", arguments: [
        ("caresses", "caress"), ("ponies", "poni"), ("cats", "cat"), ("agreed", "agre"), ("plastered", "plaster"),
        ("motoring", "motor"), ("sing", "sing"), ("hopping", "hop"), ("falling", "fall"), ("happy", "happi"),
        ("relational", "relat"), ("conditional", "condit"), ("rational", "ration"), ("generalizations", "gener"),
        ("oscillators", "oscil"), ("running", "run"), ("explosion", "explos"), ("abilities", "abil"), ("sky", "sky"),
        ("hopefulness", "hope"), ("adjustment", "adjust"), ("electrical", "electr"), ("Ærin", "ærin"),
    ])
    func stems(word: String, stem: String) {
        #expect(TextTokenizer.terms(word) == [stem])
    }
}
