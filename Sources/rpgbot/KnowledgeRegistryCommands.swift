import ArgumentParser
import Foundation
import JSONValues
import Memory37
import RPGBotApp
import ServiceKit

/// `rpgbot knowledge …`: the version registry — versions, aliases, cleanup.
struct KnowledgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knowledge",
        abstract: "Knowledge versions, aliases and cleanup.",
        subcommands: [VersionsCommand.self, AliasCommand.self, PublishCommand.self, RetireCommand.self, CleanupCommand.self]
    )
}

/// The scope a registry command works on.
struct ScopeOption: ParsableArguments {
    @Option(help: ArgumentHelp("The campaign (default: the global scope).", valueName: "id"))
    var campaign: String?

    func validated() throws -> String? {
        if let campaign, !PathIdentifier.isValid(campaign) {
            throw StartupError(message: "--campaign must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", exitCode: RPGBotCommand.usageExitCode)
        }
        return campaign
    }
}

func requireName(_ value: String, _ what: String) throws -> String {
    guard KnowledgeVersion.isValidName(value) else {
        throw StartupError(message: "\(what) must match \(KnowledgeVersion.namePattern)", exitCode: RPGBotCommand.usageExitCode)
    }
    return value
}

extension KnowledgeCommand {
    struct VersionsCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "versions", abstract: "List the versions of a scope (and the global ones) as JSON: state, counts, aliases.")
        @OptionGroup var scope: ScopeOption
        @OptionGroup var location: KnowledgeLocation

        func run() async throws {
            let campaign = try scope.validated()
            let listed = try await KnowledgeToolbox.withKnowledge(try location.configuration(), logger: KnowledgeLocation.quietLogger) { try await $0.versions(campaignID: campaign) }
            print(GenerateCommand.pretty(.object(["versions": .array(listed.map { KnowledgeVersionRoutes.encode($0.version, counts: $0.counts, aliases: $0.aliases) })])))
        }
    }

    struct AliasCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "alias", abstract: "Switch an alias or roll it back.", subcommands: [SetCommand.self, RollbackCommand.self])

        struct SetCommand: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "set", abstract: "Point NAME at VERSION (a published version of the same scope), atomically and recorded.")
            @Argument(help: "The alias (e.g. lore_latest).") var name: String
            @Argument(help: "The version.") var version: String
            @OptionGroup var scope: ScopeOption
            @OptionGroup var location: KnowledgeLocation

            func run() async throws {
                let version = try requireName(version, "VERSION")
                try await AliasCommand.change(name, scope: scope, location: location) { try await $0.setAlias($1, campaignID: $2, to: version, by: "cli") }
            }
        }

        struct RollbackCommand: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Undo NAME's last switch.")
            @Argument(help: "The alias.") var name: String
            @OptionGroup var scope: ScopeOption
            @OptionGroup var location: KnowledgeLocation

            func run() async throws {
                try await AliasCommand.change(name, scope: scope, location: location) { try await $0.rollbackAlias($1, campaignID: $2, by: "cli") }
            }
        }

        /// Switches or rolls back an alias and prints the switch.
        static func change(_ name: String, scope: ScopeOption, location: KnowledgeLocation, _ body: @escaping @Sendable (KnowledgeService, String, String?) async throws -> AliasChange) async throws {
            let (name, campaign) = (try requireName(name, "NAME"), try scope.validated())
            let change = try await KnowledgeToolbox.withKnowledge(try location.configuration(), logger: KnowledgeLocation.quietLogger) { try await body($0, name, campaign) }
            print("\(change.name): \(change.from ?? "working") → \(change.to ?? "working")")
        }
    }

    struct PublishCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "publish", abstract: "Publish a draft version: immutable from then on, and aliasable.")
        @Argument(help: "The version.") var version: String
        @OptionGroup var scope: ScopeOption
        @OptionGroup var location: KnowledgeLocation

        func run() async throws {
            try await changeState(version, scope: scope, location: location) { try await $0.publish($1, campaignID: $2) }
        }
    }

    struct RetireCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "retire", abstract: "Retire a version no alias points to; cleanup deletes it after the grace period.")
        @Argument(help: "The version.") var version: String
        @OptionGroup var scope: ScopeOption
        @OptionGroup var location: KnowledgeLocation

        func run() async throws {
            try await changeState(version, scope: scope, location: location) { try await $0.retire($1, campaignID: $2) }
        }
    }

    /// Publishes or retires a version and prints its new state.
    static func changeState(_ version: String, scope: ScopeOption, location: KnowledgeLocation, _ change: @escaping @Sendable (KnowledgeService, String, String?) async throws -> KnowledgeVersion) async throws {
        let (version, campaign) = (try requireName(version, "VERSION"), try scope.validated())
        let changed = try await KnowledgeToolbox.withKnowledge(try location.configuration(), logger: KnowledgeLocation.quietLogger) { try await change($0, version, campaign) }
        print("\(changed.id): \(changed.state.rawValue)")
    }

    struct CleanupCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cleanup", abstract: "Delete expired knowledge and retired versions past their grace period; --dry-run prints what would go.")
        @Flag(help: "Print what would be deleted, delete nothing.") var dryRun = false
        @OptionGroup var location: KnowledgeLocation

        func run() async throws {
            let dryRun = self.dryRun
            let report = try await KnowledgeToolbox.withKnowledge(try location.configuration(), logger: KnowledgeLocation.quietLogger) { try await $0.cleanup(dryRun: dryRun) }
            if report.skipped {
                print("another node is cleaning up; nothing done")
                return
            }
            let verb = dryRun ? "would delete" : "deleted"
            let byDomain = report.expiredDocuments.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", ")
            print("\(verb): expired documents \(byDomain.isEmpty ? "none" : byDomain) (\(report.expiredChunks) chunks); retired versions \(report.retiredVersions.isEmpty ? "none" : report.retiredVersions.map(\.description).joined(separator: ", ")) (\(report.retiredChunks) chunks)")
        }
    }
}
