import Foundation
import Testing

/// Runs the built command-line tools (swift test builds every product beside the test bundle), so
/// tests see what a user sees: exit status, stdout and stderr.
package enum ToolRunner {
    package struct Result {
        package let status: Int32
        package let stdout: String
        package let stderr: String
    }

    /// The directory holding the built products, if found.
    package static let productsDirectory: String? = {
        let candidates: [String?] = [
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map {
                URL(fileURLWithPath: $0).deletingLastPathComponent().path
            },
            Bundle.main.bundlePath,
            Bundle.main.executableURL?.deletingLastPathComponent().path,
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0 + "/train") }
    }()

    package static func path(_ tool: String) -> String? {
        guard let dir = productsDirectory, FileManager.default.isExecutableFile(atPath: dir + "/" + tool) else { return nil }
        return dir + "/" + tool
    }

    package static func run(_ tool: String, _ arguments: [String], stdin: String? = nil, directory: String = TestPaths.packageRoot,
                    environment: [String: String]? = nil) throws -> Result {
        // A built tool by name, or any program by absolute path (e.g. /bin/sh for a pipeline).
        let binary = tool.hasPrefix("/") ? tool : try #require(path(tool), "\(tool) was not built beside the test bundle")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let dir = TestPaths.scratch()
        let outPath = dir + "/out", errPath = dir + "/err", inPath = dir + "/in"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        _ = FileManager.default.createFile(atPath: inPath, contents: Data((stdin ?? "").utf8))
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        process.standardOutput = out
        process.standardError = err
        process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: inPath))
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Result(status: process.terminationStatus,
                      stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }
}
