import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Data parallelism over the machine's cores with a fixed, deterministic partition: work item `k`
/// always covers the same range, so results never depend on thread timing (training is bit-for-bit
/// reproducible).
package enum Parallel {
    /// Worker count: `--threads` (see `setWorkers`), else `EMBEDKIT_THREADS`, else the CPUs this
    /// process may run on (its affinity mask: under `mpirun --bind-to` or a cgroup that is fewer
    /// than the machine has).
    package private(set) nonisolated(unsafe) static var workers: Int = {
        if let s = getenv("EMBEDKIT_THREADS"), let n = Int(String(cString: s)), n > 0 { return n }
        return availableCPUs
    }()

    /// Sets the worker count; call before any parallel work (the tools do, from `--threads`).
    package static func setWorkers(_ n: Int) {
        precondition(n > 0, "at least one worker")
        workers = n
    }

    /// The CPUs in this process's affinity mask (the online count where the mask is unavailable).
    package static var availableCPUs: Int {
        #if os(Linux)
        // sched_getaffinity needs _GNU_SOURCE, which Swift's Glibc module does not define; the kernel
        // shows the same mask as hex words in /proc/self/status ("Cpus_allowed:\tff,ffffffff").
        if let status = try? ByteReader(path: "/proc/self/status", detectCompression: false).readAll(),
           let line = String(decoding: status, as: UTF8.self).split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) {
            let n = line.dropFirst("Cpus_allowed:".count).reduce(0) { $0 + ($1.hexDigitValue?.nonzeroBitCount ?? 0) }
            if n > 0 { return n }
        }
        #endif
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Runs `body(k)` for k in 0..<n, concurrently (on `WorkerPool`'s threads). `body` may capture
    /// unsafe pointers: the caller guarantees the iterations touch disjoint memory.
    package static func forEach(_ n: Int, _ body: (Int) -> Void) {
        if n <= 0 { return }
        if n == 1 || workers == 1 {
            for k in 0..<n { body(k) }
            return
        }
        if useWorkerPool, WorkerPool.shared.run(n, threads: workers - 1, body) { return }
        // The pool is busy (a nested call, or another thread's): libdispatch's threads instead.
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: n) { box.value($0) }
        }
    }

    /// EMBEDKIT_PARALLEL=dispatch runs every call on libdispatch's threads instead of `WorkerPool`
    /// (to measure one against the other).
    private static let useWorkerPool: Bool = {
        if let s = getenv("EMBEDKIT_PARALLEL"), String(cString: s) == "dispatch" { return false }
        return true
    }()

    /// Splits 0..<count into at most `workers` contiguous ranges of at least `minChunk` items and
    /// runs them concurrently.
    package static func chunks(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let parts = max(1, min(workers, count / max(1, minChunk)))
        if parts == 1 { body(0..<count); return }
        forEach(parts) { k in
            body((count * k / parts)..<(count * (k + 1) / parts))
        }
    }
}

/// Lets a value cross into `@Sendable` closures when the code guarantees exclusive access itself.
package struct UncheckedSendable<T>: @unchecked Sendable {
    package let value: T
    package init(_ value: T) { self.value = value }
}
