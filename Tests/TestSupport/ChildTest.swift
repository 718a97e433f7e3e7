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

    /// Runs the test function `name` in a child process; returns its exit status (the signal
    /// number if a signal ended it) and its combined output (for the failure message).
    /// `directory` is handed to the child.
    ///
    /// Started with posix_spawn and reaped with waitpid rather than with Foundation's `Process`,
    /// whose exit detection (a socket the child inherits) misses the exit when another process
    /// spawned meanwhile inherits that socket too (swift-corelibs-foundation #4795): under the
    /// sanitizers, two child tests started together waited forever on two zombies.
    package static func run(_ name: String, directory: String) throws -> (status: Int32, output: String) {
        guard let exe = executable else { throw ChildError("cannot find this test executable") }
        var env = ProcessInfo.processInfo.environment
        env[variable] = "\(name)=\(directory)"
        let logPath = directory + "/child.log"
        let arguments: [String] = [exe, "--testing-library", "swift-testing", "--filter", "\(name)\\(\\)"]
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, exe, &actions, nil, argv, envp)
        guard rc == 0 else { throw ChildError("cannot start \(exe): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw ChildError("waitpid: \(String(cString: strerror(errno)))") }
        }
        let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        // WIFEXITED / WEXITSTATUS / WTERMSIG (macros Swift does not import).
        let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : status & 0x7F
        return (code, output)
    }

    package struct ChildError: Error, CustomStringConvertible {
        package let description: String
        package init(_ d: String) { description = d }
    }
}
