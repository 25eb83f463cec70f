import ArgumentParser

/// `rpgbot bench …`: load generators that measure a running server.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure a running server with a real load and print the figures.",
        subcommands: [PartySyncBenchCommand.self, JSONSchemaBenchCommand.self, GenlayersBenchCommand.self, KnowledgeBenchCommand.self, GraphBenchCommand.self, GenerateBenchCommand.self, MediaBenchCommand.self]
    )
}
