import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Data parallelism over the machine's cores with a fixed, deterministic partition: work item `k`
/// always covers the same range, so results never depend on thread timing (training is bit-for-bit
/// reproducible).
public enum Parallel {
    /// Worker count: the online CPUs, or `EMBEDKIT_THREADS` when set.
    public static let workers: Int = {
        if let s = getenv("EMBEDKIT_THREADS"), let n = Int(String(cString: s)), n > 0 { return n }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }()

    /// Runs `body(k)` for k in 0..<n, concurrently. `body` may capture unsafe pointers: the caller
    /// guarantees the iterations touch disjoint memory.
    public static func forEach(_ n: Int, _ body: (Int) -> Void) {
        if n <= 0 { return }
        if n == 1 || workers == 1 {
            for k in 0..<n { body(k) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: n) { box.value($0) }
        }
    }

    /// Splits 0..<count into at most `workers` contiguous ranges of at least `minChunk` items and
    /// runs them concurrently.
    public static func chunks(_ count: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        if count <= 0 { return }
        let parts = max(1, min(workers, count / max(1, minChunk)))
        if parts == 1 { body(0..<count); return }
        forEach(parts) { k in
            body((count * k / parts)..<(count * (k + 1) / parts))
        }
    }
}

/// Lets a value cross into `@Sendable` closures when the code guarantees exclusive access itself.
public struct UncheckedSendable<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}
