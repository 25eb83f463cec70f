public import Foundation

/// The all-MiniLM-L6-v2 files the test script installs (`rpgbot model install`) and names in
/// `RPGBOT_TEST_MODEL_DIR`.
public enum TestModel {
    public static let environmentKey = "RPGBOT_TEST_MODEL_DIR"

    /// The model folder, when the test script installed one.
    public static var directory: URL? {
        guard let path = ProcessInfo.processInfo.environment[environmentKey], !path.isEmpty else { return nil }
        let url = URL(filePath: path, directoryHint: .isDirectory)
        return FileManager.default.fileExists(atPath: url.appending(path: "model.safetensors").path) ? url : nil
    }

    public static var isInstalled: Bool { directory != nil }

    /// Whether the model's tests run: when it is installed, and always under the test script,
    /// where a missing model is a failure rather than a skip.
    public static var testsRun: Bool {
        isInstalled || ProcessInfo.processInfo.environment["RPGBOT_TEST_REQUIRE_ALL"] == "1"
    }

    /// The model's wheel the test script downloaded, for `rpgbot model install --wheel`.
    public static var wheel: URL? {
        guard let path = ProcessInfo.processInfo.environment["RPGBOT_TEST_MODEL_WHEEL"], !path.isEmpty else { return nil }
        return URL(filePath: path)
    }

    /// The model folder, or an error saying how to get it.
    public static func requireDirectory() throws -> URL {
        guard let directory else {
            throw TestSetupError("\(environmentKey) does not name an installed model; run scripts/test.sh, which installs it")
        }
        return directory
    }
}
