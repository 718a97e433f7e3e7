import Dispatch
import IO
import NN
import Training
#if canImport(Glibc)
import Glibc
#endif

/// CPU seconds used by the whole process (all threads): a load-insensitive companion to wall time
/// on a shared machine.
func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// `--ops`: each element-wise kernel alone on activation-sized buffers, in ns per element (wall
/// clock, both workers), to compare kernels without the noise of a whole step.
func runOpsBench(T: Int, C: Int) {
    let I = 4 * C, n = T * I
    let x = UnsafeMutablePointer<Float>.allocate(capacity: n), y = UnsafeMutablePointer<Float>.allocate(capacity: n)
    let z = UnsafeMutablePointer<Float>.allocate(capacity: 2 * n)
    let mean = UnsafeMutablePointer<Float>.allocate(capacity: T), rstd = UnsafeMutablePointer<Float>.allocate(capacity: T)
    let w = UnsafeMutablePointer<Float>.allocate(capacity: I), b = UnsafeMutablePointer<Float>.allocate(capacity: I)
    defer { for p in [x, y, z, mean, rstd, w, b] { p.deallocate() } }
    var rng = SplitMix64(seed: 3)
    for i in 0..<n { x[i] = (Float(rng.next() >> 40) / 16_777_216 - 0.5) * 6 }
    for i in 0..<(2 * n) { z[i] = (Float(rng.next() >> 40) / 16_777_216 - 0.5) * 6 }
    for i in 0..<I { w[i] = 1 + Float(i % 7) * 0.01; b[i] = Float(i % 5) * 0.01 }
    y.initialize(repeating: 0, count: n)
    func time(_ name: String, elements: Int, _ body: () -> Void) {
        body()
        var best = Double.infinity, bestCPU = Double.infinity
        for _ in 0..<7 {
            let t0 = OpProfiler.now(), c0 = cpuSeconds()
            body()
            best = min(best, OpProfiler.now() - t0)
            bestCPU = min(bestCPU, cpuSeconds() - c0)
        }
        print("| \(name) | \(elements) | \(fmt(best * 1e3, 3)) | \(fmt(best * 1e9 / Double(elements), 2)) | \(fmt(bestCPU * 1e9 / Double(elements), 2)) |")
    }
    print("Element-wise kernels, T = \(T), C = \(C), I = \(I) (best of 7):")
    print("")
    print("| kernel | elements | ms | ns/element | CPU ns/element |")
    print("|---|---:|---:|---:|---:|")
    let rngD = CounterRandom(seed: 1, 2)
    time("gelu fwd [T, I]", elements: n) { activationForward(y, x, count: n, .gelu) }
    time("gelu bwd [T, I]", elements: n) { activationBackward(y, x, x, count: n, .gelu) }
    time("gelu_tanh fwd [T, I]", elements: n) { activationForward(y, x, count: n, .geluTanh) }
    time("geglu fwd [T, 2I]→[T, I]", elements: n) { gegluForward(y, z, T: T, I: I) }
    time("geglu bwd", elements: n) { gegluBackward(z, x, z, T: T, I: I) }
    time("dropout [T, C]", elements: T * C) { dropout(y, x, count: T * C, p: 0.1, rng: rngD) }
    time("layernorm fwd [T, C]", elements: T * C) {
        layerNormForward(y, mean: mean, rstd: rstd, x, w, b, T: T, C: C, eps: 1e-12)
    }
    time("layernorm bwd [T, C]", elements: T * C) {
        layerNormBackward(dx: z, dw: w, db: b, dout: x, x: y, mean: mean, rstd: rstd, w: w, T: T, C: C)
    }
    time("softmax rows [T, 20]", elements: T * 20) { softmaxRows(y, rows: T, cols: 20) }
    time("column sums [T, C]", elements: T * C) { addColumnSums(w, x, rows: T, cols: C) }
    print("")
}

/// `--ops`: the optimizer passes over a flat parameter set of `count` floats.
func runOptimizerBench(count: Int) {
    let params = ParameterSet([("w", [count], true)])
    var rng = SplitMix64(seed: 5)
    for i in 0..<count { params.values[i] = Float(rng.next() >> 40) / 16_777_216 - 0.5; params.grads[i] = (Float(rng.next() >> 40) / 16_777_216 - 0.5) * 1e-3 }
    let opt = AdamW(parameters: params, weightDecay: 0.01)
    func time(_ name: String, _ body: () -> Void) {
        body()
        var best = Double.infinity, bestCPU = Double.infinity
        for _ in 0..<5 {
            let t0 = OpProfiler.now(), c0 = cpuSeconds()
            body()
            best = min(best, OpProfiler.now() - t0)
            bestCPU = min(bestCPU, cpuSeconds() - c0)
        }
        print("| \(name) | \(count) | \(fmt(best * 1e3, 2)) | \(fmt(best * 1e9 / Double(count), 2)) | \(fmt(bestCPU * 1e9 / Double(count), 2)) |")
    }
    print("Optimizer passes (best of 5):")
    print("")
    print("| pass | parameters | ms | ns/parameter | CPU ns/parameter |")
    print("|---|---:|---:|---:|---:|")
    time("zero grads") { params.zeroGrads() }
    time("gradient norm") { _ = gradientNorm(params) }
    time("clip (norm + scale)") { clipGradients(params, maxNorm: 1e-9) }
    time("AdamW update") { opt.update(params, lr: 1e-5) }
    print("")
}

/// `--ops`: attention forward + backward over 48 sequences of one length, per head size.
func runAttentionBench() {
    print("Attention forward + backward, 48 sequences, 12 heads, dropout 0.1 (best of 5):")
    print("")
    print("| length | C | ms | CPU ms |")
    print("|---:|---:|---:|---:|")
    for C in [384, 768] {
        for len in [8, 16, 24, 32, 48, 64, 96, 128] {
            let layout = AttentionLayout(offsets: (0...48).map { $0 * len }, heads: 12)
            let T = layout.tokens
            let qkv = UnsafeMutablePointer<Float>.allocate(capacity: 3 * T * C), dqkv = UnsafeMutablePointer<Float>.allocate(capacity: 3 * T * C)
            let ctx = UnsafeMutablePointer<Float>.allocate(capacity: T * C), probs = UnsafeMutablePointer<Float>.allocate(capacity: layout.probCount)
            defer { qkv.deallocate(); dqkv.deallocate(); ctx.deallocate(); probs.deallocate() }
            var rng = SplitMix64(seed: 8)
            for i in 0..<(3 * T * C) { qkv[i] = Float(rng.next() >> 40) / 16_777_216 - 0.5 }
            let r = CounterRandom(seed: 3)
            func run() {
                attentionForward(ctx: ctx, probs: probs, qkv: qkv, layout: layout, C: C, dropoutP: 0.1, rng: r)
                attentionBackward(dqkv: dqkv, dctx: ctx, probs: probs, qkv: qkv, layout: layout, C: C, dropoutP: 0.1, rng: r)
            }
            run()
            var best = Double.infinity, bestCPU = Double.infinity
            for _ in 0..<5 {
                let t0 = OpProfiler.now(), c0 = cpuSeconds()
                run()
                best = min(best, OpProfiler.now() - t0)
                bestCPU = min(bestCPU, cpuSeconds() - c0)
            }
            print("| \(len) | \(C) | \(fmt(best * 1e3, 2)) | \(fmt(bestCPU * 1e3, 2)) |")
        }
    }
    print("")
}

/// `--ops`: what a parallel call costs. Calls of one item per worker, each item busy for a fixed
/// time, on `WorkerPool` (what `Parallel.forEach` uses), on libdispatch's concurrentPerform (what
/// it used before), and one after the other on one thread; the median of many calls, in µs.
/// "after a pause" calls once every 5 ms, so the pool's workers have gone to sleep (they poll for
/// `WorkerPool.spinSeconds`).
func runParallelCallBench() {
    let n = Parallel.workers
    guard n > 1 else { print("Parallel calls: one worker, nothing to measure.\n"); return }
    print("Parallel calls, \(n) items of equal work on \(n) workers (median µs per call):")
    print("")
    print("| work per item, µs | calls | WorkerPool | libdispatch | one thread |")
    print("|---:|---|---:|---:|---:|")
    @Sendable func busy(_ us: Double) {
        let end = OpProfiler.now() + us * 1e-6
        while OpProfiler.now() < end {}
    }
    func median(_ reps: Int, pause: Bool, _ call: () -> Void) -> Double {
        var t: [Double] = []
        for _ in 0..<reps {
            if pause { usleep(5_000) }
            let t0 = OpProfiler.now()
            call()
            t.append(OpProfiler.now() - t0)
        }
        return t.sorted()[reps / 2] * 1e6
    }
    for (us, pause) in [(0.0, false), (20, false), (100, false), (500, false), (100, true)] {
        let reps = pause ? 200 : us >= 500 ? 400 : 2000
        let pool = median(reps, pause: pause) { _ = WorkerPool.shared.run(n, threads: n - 1) { _ in busy(us) } }
        let dispatch = median(reps, pause: pause) { DispatchQueue.concurrentPerform(iterations: n) { _ in busy(us) } }
        let serial = median(reps, pause: pause) { for _ in 0..<n { busy(us) } }
        print("| \(fmt(us, 0)) | \(pause ? "after a pause" : "back to back") | \(fmt(pool, 1)) | \(fmt(dispatch, 1)) | \(fmt(serial, 1)) |")
    }
    print("")
}
