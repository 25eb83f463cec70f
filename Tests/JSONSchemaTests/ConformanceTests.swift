import JSONValues
import Foundation
import JSONSchema
import ServiceKit
import Testing

/// The official JSON-Schema-Test-Suite (draft 2020-12), read from ../shared/data, with the
/// documents of `remotes/` served for `http://localhost:1234/…`.
enum TestSuite {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("shared/data/json-schema-test-suite")

    static var isAvailable: Bool { FileManager.default.fileExists(atPath: root.appendingPathComponent("tests/draft2020-12").path) }

    static let retrieve: JSONSchema.Retriever = { uri in
        let prefix = "http://localhost:1234/"
        guard uri.hasPrefix(prefix) else { return nil }
        let file = root.appendingPathComponent("remotes").appendingPathComponent(String(uri.dropFirst(prefix.count)))
        guard let data = try? Data(contentsOf: file) else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: data)
    }

    struct Outcome {
        var passed = 0
        var failed: [String] = []
    }

    static func run(file: URL, formatAssertion: Bool = false) throws -> Outcome {
        var outcome = Outcome()
        let groups = try JSONDecoder().decode([JSONValue].self, from: Data(contentsOf: file))
        for group in groups {
            guard case .object(let members) = group, let schema = members["schema"], case .array(let tests) = members["tests"] else { continue }
            let compiled = JSONSchema(schema, formatAssertion: formatAssertion, retrieve: retrieve)
            for test in tests {
                guard case .object(let fields) = test, let data = fields["data"], case .bool(let expected) = fields["valid"] else { continue }
                if compiled.isValid(data) == expected {
                    outcome.passed += 1
                } else {
                    outcome.failed.append("\(members["description"]?.stringValue ?? "?") / \(fields["description"]?.stringValue ?? "?") (expected \(expected ? "valid" : "invalid"))")
                }
            }
        }
        return outcome
    }
}

@Suite struct ConformanceTests {
    @Test(.enabled(if: TestSuite.isAvailable || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1", "needs ../shared/data/json-schema-test-suite"))
    func everyCoreDraft2020_12TestPasses() throws {
        let directory = TestSuite.root.appendingPathComponent("tests/draft2020-12")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        var totalPassed = 0
        var totalFailed = 0
        for file in files {
            let outcome = try TestSuite.run(file: directory.appendingPathComponent(file))
            totalPassed += outcome.passed
            totalFailed += outcome.failed.count
            print("json-schema-test-suite draft2020-12/\(file): \(outcome.passed) passed, \(outcome.failed.count) failed")
            for failure in outcome.failed {
                Issue.record("\(file): \(failure)")
            }
        }
        print("json-schema-test-suite draft2020-12 core: \(totalPassed) passed, \(totalFailed) failed")
        #expect(totalPassed > 1000)
    }
}

@Suite struct FormatAssertionTests {
    /// optional/format with format assertion on. Only some formats are checked, so this is a
    /// floor that must not regress, printed per file.
    @Test(.enabled(if: TestSuite.isAvailable || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1", "needs ../shared/data/json-schema-test-suite"))
    func optionalFormatPassRate() throws {
        let directory = TestSuite.root.appendingPathComponent("tests/draft2020-12/optional/format")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        var passed = 0
        var failed = 0
        var perFormat: [String: (Int, Int)] = [:]
        for file in files {
            let outcome = try TestSuite.run(file: directory.appendingPathComponent(file), formatAssertion: true)
            passed += outcome.passed
            failed += outcome.failed.count
            perFormat[file] = (outcome.passed, outcome.failed.count)
            print("json-schema-test-suite draft2020-12/optional/format/\(file): \(outcome.passed) passed, \(outcome.failed.count) failed")
        }
        print("json-schema-test-suite draft2020-12 optional/format with assertion: \(passed) passed, \(failed) failed")
        // The formats that are asserted pass their files completely.
        for file in ["date.json", "ipv4.json", "uuid.json"] {
            #expect(perFormat[file]?.1 == 0, "\(file) has failures")
        }
        #expect(passed >= 524)
    }
}
