import CapabilityKit
import ArgumentParser
import RPGBotApp
import ServiceKit

import Foundation

/// `rpgbot token`: prints a signed access token, with the same secret `serve` uses.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print an access token (HS256 JWT) for a user, campaign and role.",
        discussion: "The secret is RPGBOT_JWT_SECRET, else <data-dir>/jwt-secret (created if missing)."
    )

    @Option(name: .customLong("sub"), help: "User id (the sub claim).")
    var subject: String

    @Option(name: .customLong("campaign"), help: "Campaign id, or * for every campaign.")
    var campaign: String

    @Option(name: .customLong("role"), help: "player, gm or service.")
    var role: String

    @Option(name: .customLong("ttl"), help: "Lifetime, e.g. 30m, 12h, 7d.")
    var ttl: String = "12h"

    @Option(name: .customLong("data-dir"), help: ArgumentHelp(Setting.dataDirectory.helpText, valueName: "path"))
    var dataDirectory: String?

    @Flag(name: .customLong("console"), help: "Print a link that opens the web console signed in with the token (in the URL fragment, which browsers never send to a server).")
    var consoleLink = false

    @Option(name: .customLong("console-url"), help: ArgumentHelp("The server's address as the browser reaches it (default: http://localhost:<RPGBOT_PORT>).", valueName: "url"))
    var consoleURL: String?

    func validate() throws {
        guard !subject.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("--sub must not be empty.")
        }
        guard campaign == TokenClaims.anyCampaign || PathIdentifier.isValid(campaign) else {
            throw ValidationError("--campaign must be * or match ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$.")
        }
        guard Role(rawValue: role) != nil else {
            throw ValidationError("--role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        guard let duration = ConfigurationLoader.parseDuration(ttl), duration > .zero else {
            throw ValidationError("--ttl must be a duration such as 30m, 12h or 7d.")
        }
        if let consoleURL {
            guard consoleLink else { throw ValidationError("--console-url needs --console.") }
            guard let url = URL(string: consoleURL), ["http", "https"].contains(url.scheme ?? ""), url.host != nil, url.fragment == nil else {
                throw ValidationError("--console-url must be an http or https URL such as https://rpg.example.org.")
            }
        }
    }

    func run() async throws {
        var flags: [String: String] = [:]
        if let dataDirectory { flags["data-dir"] = dataDirectory }
        let settings: (dataDirectory: URL, jwtSecret: [UInt8]?)
        // The console's address is resolved with the rest, so a bad setting stops before any secret is made.
        var consoleBase: String?
        do {
            let loader = try ConfigurationLoader(flags: flags)
            settings = try loader.loadTokenSettings()
            if consoleLink { consoleBase = try consoleURL ?? loader.consoleBaseURL() }
        } catch {
            throw StartupError(message: "\(error)", exitCode: RPGBotCommand.usageExitCode)
        }
        let secret: [UInt8]
        do {
            if let configured = settings.jwtSecret {
                secret = configured
            } else {
                try FileManager.default.createDirectory(at: settings.dataDirectory, withIntermediateDirectories: true)
                secret = try JWTSecret.loadOrCreate(in: settings.dataDirectory)
            }
        } catch {
            throw StartupError(message: "\(error)", exitCode: 1)
        }
        let lifetime = ConfigurationLoader.parseDuration(ttl)!
        let seconds = lifetime.inSeconds
        let authority = await TokenAuthority(secret: secret)
        let token = try await authority.issue(subject: subject, campaign: campaign, role: Role(rawValue: role)!, ttl: seconds)
        guard let consoleBase else {
            print(token)
            return
        }
        print(Self.consoleLink(base: consoleBase, token: token))
    }

    /// The console's address with the token in the fragment: the part of a URL browsers keep
    /// to themselves, so the token reaches no server log and no `Referer`.
    static func consoleLink(base: String, token: String) -> String {
        var base = base
        while base.hasSuffix("/") { base.removeLast() }
        return "\(base)/console/#token=\(token)"
    }
}
