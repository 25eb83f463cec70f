public import Foundation
import ServiceKit

/// The OpenAPI 3.1 description of the REST surface, kept in the repository at
/// `Sources/RPGBotApp/Resources/openapi.json` and served at `GET /openapi.json`.
public enum OpenAPIDocument {
    static let resourceBundle = "rpgbot_RPGBotApp.resources"

    /// The document's bytes: from the resource bundle next to the executable, else from the
    /// source tree the binary was built from. Nil only when neither is present.
    public static func load() -> Data? {
        for url in candidates() {
            if let data = try? Data(contentsOf: url) {
                return data
            }
        }
        return nil
    }

    static func candidates() -> [URL] {
        BundledResource.candidates(
            bundle: resourceBundle, path: "openapi.json",
            sourceFolder: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources")
        )
    }
}
