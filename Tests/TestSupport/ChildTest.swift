import Foundation
import Testing

/// Runs one test of this bundle alone in a fresh process. For checks that must own the process:
/// peak memory (other tests run in parallel in this one and would blur `ru_maxrss`) and the
/// standard streams (`-` as a path means fd 0 or 1, which a child can point at files safely).
///
/// The child test is a normal `@Test` enabled only when `EMBEDKIT_CHILD_TEST` names it, so in a
/// normal run it is skipped with a comment; the parent starts this same executable with a filter
/// for it, the variable set, and a scratch directory in which the child leaves its results.
package enum ChildTest {
    package static let variable = "EMBEDKIT_CHILD_TEST"

    /// The child's scratch directory, when this process runs as the child for `name`.
    package static func directory(_ name: String) -> String? {
        guard let v = ProcessInfo.processInfo.environment[variable], v.hasPrefix(name + "=") else { return nil }
        return String(v.dropFirst(name.count + 1))
    }

    package static func isChild(_ name: String) -> Bool { directory(name) != nil }

    /// This test executable (the `.xctest` runner that `swift test` starts).
    package static var executable: String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    /// Runs the test function `name` in a child process; returns its exit status and its combined
    /// output (for the failure message). `directory` is handed to the child.
    package static func run(_ name: String, directory: String) throws -> (status: Int32, output: String) {
        guard let exe = executable else { throw ChildError("cannot find this test executable") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["--testing-library", "swift-testing", "--filter", "\(name)\\(\\)"]
        var env = ProcessInfo.processInfo.environment
        env[variable] = "\(name)=\(directory)"
        process.environment = env
        let logPath = directory + "/child.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try log.close()
        let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return (process.terminationStatus, output)
    }

    package struct ChildError: Error, CustomStringConvertible {
        package let description: String
        package init(_ d: String) { description = d }
    }
}
