import Persistence
import Testing

@Suite struct DatabaseURLTests {
    @Test func sqliteAbsoluteAndRelativePaths() throws {
        #expect(try DatabaseURL(parsing: "sqlite:///var/lib/rpgbot/db.sqlite") == .sqlite(path: "/var/lib/rpgbot/db.sqlite"))
        #expect(try DatabaseURL(parsing: "sqlite:data/db.sqlite") == .sqlite(path: "data/db.sqlite"))
    }

    @Test func postgresWithAllParts() throws {
        let url = try DatabaseURL(parsing: "postgres://rpg:s%40cret@db.internal:6543/rpgbot?sslmode=require")
        #expect(url == .postgres(.init(host: "db.internal", port: 6543, username: "rpg", password: "s@cret", database: "rpgbot", tlsMode: .require)))
        #expect(url.description == "postgres://rpg:***@db.internal:6543/rpgbot?sslmode=require")
    }

    @Test func postgresDefaults() throws {
        let url = try DatabaseURL(parsing: "postgresql://rpg@localhost/rpgbot")
        #expect(url == .postgres(.init(host: "localhost", port: 5432, username: "rpg", password: nil, database: "rpgbot", tlsMode: .prefer)))
    }

    @Test(arguments: [
        "mysql://x@y/z", "sqlite://", "sqlite:///", "postgres://host/db", "postgres://user@/db",
        "postgres://user@host", "postgres://user@host/db?sslmode=maybe", "postgres://user@host/db?foo=bar", "nonsense",
    ])
    func malformedURLsAreRefusedWithTheAcceptedForms(_ text: String) {
        #expect(throws: DatabaseURL.ParseError.self) { try DatabaseURL(parsing: text) }
        do {
            _ = try DatabaseURL(parsing: text)
        } catch {
            #expect(error.reason.contains("sqlite") || error.reason.contains("sslmode"))
        }
    }

    @Test func passwordsAreRedactedInErrors() {
        do {
            _ = try DatabaseURL(parsing: "mongodb://admin:topsecret@host/db")
            Issue.record("expected a parse error")
        } catch {
            #expect(!error.reason.contains("topsecret"))
        }
    }
}
