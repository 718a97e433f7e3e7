import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Open MPI's `mpirun` for the data-parallel tests: found on PATH (Debian's openmpi-bin; `.ci/run`
/// and `make setup` install it), absent → the tests skip. Open MPI refuses to run as root unless told
/// so by its two documented variables: they are set for the mpirun child only, never globally.
package enum MPIRun {
    package static let path: String? = {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return dirs.map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    package static var available: Bool { path != nil }

    /// The environment mpirun needs here: root allowed (CI runs as root), and one compute thread per
    /// rank (the tests oversubscribe two cores). Under `make test-sanitize` with AddressSanitizer
    /// the ranks skip the leak check at exit: it reports Open MPI's own allocations (hwloc, and its
    /// components, unloaded by then, so no suppression can name them); our code's leaks are checked
    /// by the single-process tests, which run the same code.
    package static let environment: [String: String] = {
        var env = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "EMBEDKIT_THREADS": "1"]
        let outer = ProcessInfo.processInfo.environment
        if outer["NOREMBED_SANITIZER"] == "address" {
            env["ASAN_OPTIONS"] = (outer["ASAN_OPTIONS"].map { $0 + ":" } ?? "") + "detect_leaks=0"
        }
        return env
    }()

    /// `mpirun -np N --oversubscribe --bind-to none [options] program arguments`, to completion.
    package static func run(np: Int, _ program: String, _ arguments: [String], options: [String] = [],
                            directory: String = TestPaths.packageRoot) throws -> ToolRunner.Result {
        let mpirun = try requirePath()
        return try ToolRunner.run(mpirun, command(np: np, program, arguments, options: options), directory: directory,
                                  environment: environment)
    }

    /// The same, started in the background with stderr to `stderrPath` (stdout discarded).
    package static func start(np: Int, _ program: String, _ arguments: [String], options: [String] = [],
                              stderrPath: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try requirePath())
        p.arguments = command(np: np, program, arguments, options: options)
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        // The child inherits this thread's signal mask, and test threads (dispatch workers) block
        // the signals the tests send to mpirun: unblock them while it starts.
        var unblock = sigset_t(), saved = sigset_t()
        sigemptyset(&unblock)
        for sig in [SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGCONT] { sigaddset(&unblock, sig) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try p.run()
        return p
    }

    static func command(np: Int, _ program: String, _ arguments: [String], options: [String]) -> [String] {
        ["-np", "\(np)", "--oversubscribe", "--bind-to", "none"] + options + [program] + arguments
    }

    static func requirePath() throws -> String {
        guard let path else { throw ChildTest.ChildError("mpirun not found (Debian: apt-get install openmpi-bin)") }
        return path
    }

    /// Runs the test function `name` of this test bundle as every rank of an `np`-rank job (the
    /// child test is enabled only when `ChildTest.variable` names it, see `ChildTest`).
    package static func runChildTest(_ name: String, np: Int, directory: String) throws -> ToolRunner.Result {
        guard let exe = ChildTest.executable else { throw ChildTest.ChildError("cannot find this test executable") }
        return try ToolRunner.run(try requirePath(), command(np: np, exe, ["--testing-library", "swift-testing", "--filter", "\(name)\\(\\)"], options: []),
                                  environment: environment.merging([ChildTest.variable: "\(name)=\(directory)"]) { $1 })
    }

    /// The pid of rank `rank` among mpirun's children (local ranks are its direct children).
    package static func rankPID(_ rank: Int, of mpirun: Int32) -> Int32? {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for name in procs {
            guard let pid = Int32(name),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == mpirun,
                  let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let vars = env.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if vars.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }
}
