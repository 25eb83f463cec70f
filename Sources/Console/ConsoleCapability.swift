public import CapabilityKit
import Foundation
public import Persistence

/// The web console as a capability of the server (`--services console`): its files, read once
/// at start-up, and the routes that serve them. It needs no database and no other capability;
/// in the browser it talks to whichever of them the server runs, through their public APIs.
public struct ConsoleCapability: Capability {
    public static let name = "console"

    public init() {}

    public var name: String { Self.name }
    public static let settings: [Setting] = []
    public var migrations: [Migration] { [] }

    public func assemble(in context: CapabilityContext) async throws -> CapabilityParts {
        guard let folder = ConsoleAssets.locate() else {
            throw ConsoleUnavailable(detail: "the console's files (\(ConsoleAssets.resourceBundle)/console) are not installed next to the executable; run without the console service or reinstall")
        }
        let assets = try ConsoleAssets.load(from: folder)
        guard assets["index.html"] != nil else {
            throw ConsoleUnavailable(detail: "\(folder.path) has no index.html")
        }
        let routes = ConsoleRoutes(assets: assets)
        return CapabilityParts(routes: { routes.register(on: $0) })
    }
}

/// The console's files are missing: the server refuses to start with the console rather than
/// serve a broken page.
public struct ConsoleUnavailable: Error, CustomStringConvertible {
    public let detail: String
    public var description: String { "console unavailable: \(detail)" }
}
