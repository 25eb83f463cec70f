import ArgumentParser
import RPGBotApp
import ServiceKit
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `rpgbot`: the one executable of the backend.
@main
struct RPGBotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpgbot",
        abstract: "The RPGBot backend: an AI game master for party-based tabletop RPG campaigns.",
        version: RPGBotVersion.current,
        subcommands: [ServeCommand.self, IngestCommand.self, SearchCommand.self, KnowledgeCommand.self, GraphCommand.self, ReembedCommand.self, GenerateCommand.self, ValidateCommand.self, TokenCommand.self, ModelCommand.self, BenchCommand.self]
    )

    /// Exit status for a bad setting or bad arguments, as documented in the README.
    static let usageExitCode: Int32 = 2

    /// ArgumentParser's own `main` exits 64 on usage errors; RPGBot promises 2 for any bad
    /// flag or setting, so parsing and running are driven here.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "serve" && arguments.dropFirst().contains(where: { $0 == "--help" || $0 == "-h" }) || arguments == ["help", "serve"] {
            print(ServeCommand.help(), terminator: "")
            Glibc.exit(0)
        }
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as StartupError {
            writeStandardError("rpgbot: \(error.message)\n")
            Glibc.exit(error.exitCode)
        } catch let error as APIError {
            // A refusal of the knowledge layer (unknown version, a published version changed…).
            writeStandardError("rpgbot: \(error.problem.detail ?? error.problem.title)\n")
            Glibc.exit(error.problem.status == 400 || error.problem.status == 422 ? usageExitCode : 1)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                writeStandardError("rpgbot: \(message(for: error))\n")
                Glibc.exit(usageExitCode)
            }
            self.exit(withError: error)
        }
    }
}

/// A failure before or during start-up, reported as one line on stderr with its exit code.
struct StartupError: Error {
    let message: String
    let exitCode: Int32
}

func writeStandardError(_ text: String) {
    FileHandle.standardError.write(Data(text.utf8))
}
