import IO
#if canImport(Glibc)
import Glibc
#endif

/// The op families that the optional profiler times (see `OpProfiler`).
package enum OpKind: Int, CaseIterable, Sendable {
    case embedding, linearForward, linearBackward, attentionForward, attentionBackward
    case layerNormForward, layerNormBackward, activationForward, activationBackward
    case dropout, residualAdd, pooling, loss, zeroGrads, clip, adamW

    package var name: String {
        switch self {
        case .embedding: "embedding lookup/scatter"
        case .linearForward: "linear fwd (sgemm)"
        case .linearBackward: "linear bwd (sgemm)"
        case .attentionForward: "attention fwd"
        case .attentionBackward: "attention bwd"
        case .layerNormForward: "layernorm fwd"
        case .layerNormBackward: "layernorm bwd"
        case .activationForward: "activation fwd"
        case .activationBackward: "activation bwd"
        case .dropout: "dropout"
        case .residualAdd: "residual add/copy"
        case .pooling: "pooling+normalize"
        case .loss: "MNRL loss"
        case .zeroGrads: "zero grads"
        case .clip: "grad norm+clip"
        case .adamW: "AdamW"
        }
    }
}

/// A cheap, optional wall-clock breakdown of where a forward/backward/optimizer step spends its time,
/// per op family, with the matmul FLOPs each family performed. Off by default: then each
/// instrumented call costs one load and a branch. It is meant for the benchmark (`embedkit-bench`),
/// which turns it on for one profiled step; ops call `begin`/`end` only from the thread that drives
/// the model (never from inside a parallel region), so the counters need no locking.
package final class OpProfiler: @unchecked Sendable {
    package static let shared = OpProfiler()

    /// Set by the benchmark before a profiled run; ops read it at every call.
    package var enabled = false
    private let seconds: UnsafeMutablePointer<Double>
    private let flopCounts: UnsafeMutablePointer<Double>
    private let calls: UnsafeMutablePointer<Int>

    private init() {
        let n = OpKind.allCases.count
        seconds = .allocate(capacity: n)
        seconds.initialize(repeating: 0, count: n)
        flopCounts = .allocate(capacity: n)
        flopCounts.initialize(repeating: 0, count: n)
        calls = .allocate(capacity: n)
        calls.initialize(repeating: 0, count: n)
    }

    /// Monotonic time in seconds.
    package static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// A start mark (0 when disabled, so `end` knows to do nothing).
    @inline(__always)
    package func begin() -> Double { enabled ? OpProfiler.now() : 0 }

    /// Adds the time since `start` (and `flops` multiply-add FLOPs, counted as 2 per FMA) to `kind`.
    @inline(__always)
    package func end(_ kind: OpKind, _ start: Double, flops: Double = 0) {
        guard start != 0 else { return }
        seconds[kind.rawValue] += OpProfiler.now() - start
        flopCounts[kind.rawValue] += flops
        calls[kind.rawValue] += 1
    }

    package func reset() {
        let n = OpKind.allCases.count
        seconds.update(repeating: 0, count: n)
        flopCounts.update(repeating: 0, count: n)
        calls.update(repeating: 0, count: n)
    }

    package struct Entry: Sendable {
        package let kind: OpKind
        package let seconds: Double
        package let flops: Double
        package let calls: Int
    }

    /// The families that were called since the last reset.
    package var entries: [Entry] {
        OpKind.allCases.compactMap { k in
            calls[k.rawValue] == 0 ? nil
                : Entry(kind: k, seconds: seconds[k.rawValue], flops: flopCounts[k.rawValue], calls: calls[k.rawValue])
        }
    }
}

/// 2·m·n·k, the FLOPs of one sgemm, as Double.
@inline(__always)
func gemmFlops(_ m: Int, _ n: Int, _ k: Int) -> Double { 2 * Double(m) * Double(n) * Double(k) }
