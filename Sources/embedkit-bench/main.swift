import CBLAS
import DataParallel
import IO
import NN
import Training
import Foundation

// embedkit-bench: times one MNRL training step (forward, loss, backward, clipping, AdamW) on 16
// triplets and an embedding pass over 256 sentences, for random-weight models of real shapes, with
// a per-op breakdown and the raw sgemm ceiling for the same shapes, in each matrix-product precision
// (fp32, and bf16 where the CPU has AVX512-BF16) side by side. Results are Markdown tables on
// stdout (progress on stderr). See tools/bench.sh and BENCHMARKS.md.
// Under mpirun it times a data-parallel step instead: the --batch triplets of a step are the global
// batch, each rank computes its share (as `train` does), and rank 0 reports the step time and the
// share of it the ranks spend waiting on communication.

struct Options {
    var models: [BenchModel] = BenchModel.allCases
    var steps = 5
    var embedReps = 3
    var batchSize = 16
    var embedCount = 256
    var embedBatch = 32
    var seed: UInt64 = 2024
    var lengthScale = 1.0
    var breakdown = true
    var gemm = true
    var train = true
    var embed = true
    var ops = false
    /// fp32, then bf16 where it can run.
    var precisions: [MatmulPrecision] = MatmulPrecision.bf16Supported ? [.fp32, .bf16] : [.fp32]
    /// cached_mnrl with mini-batches of this many sequences (nil: plain MNRL).
    var miniBatch: Int?

    static let usage = """
    usage: embedkit-bench [--models minilm,bert,norbert] [--steps N] [--embed-reps N] [--batch N]
                          [--sentences N] [--embed-batch N] [--length-scale X] [--seed N] [--no-breakdown] [--no-gemm]
                          [--no-train] [--no-embed] [--precision fp32,bf16] [--ops] [--mini-batch N]
      Times training steps (median of --steps after one warm-up) and embedding passes (median of
      --embed-reps) of random-weight models with the real shapes, in each --precision of the matrix
      products (default fp32, and bf16 where the CPU has AVX512-BF16). --ops times the element-wise kernels alone, and what a parallel call costs.
      --mini-batch N trains with cached_mnrl (GradCache) in mini-batches of N sequences (one process
      only); --no-breakdown skips the profiled steps. The peak resident memory (VmHWM) is printed at the end.
      EMBEDKIT_THREADS sets the worker count. Under mpirun (e.g. mpirun -np 2 embedkit-bench --models
      minilm), a data-parallel training step over the ranks: training only, --batch is the global batch.
    """

    init(_ args: [String]) {
        var i = 0
        func value() -> String {
            i += 1
            guard i < args.count else { fail("\(args[i - 1]) needs a value") }
            return args[i]
        }
        func int(_ s: String) -> Int {
            guard let v = Int(s), v > 0 else { fail("expected a positive integer, got '\(s)'") }
            return v
        }
        while i < args.count {
            switch args[i] {
            case "--models":
                models = value().split(separator: ",").map { name in
                    guard let m = BenchModel(rawValue: String(name)) else { fail("unknown model '\(name)' (minilm, bert, norbert)") }
                    return m
                }
            case "--steps": steps = int(value())
            case "--embed-reps": embedReps = int(value())
            case "--batch": batchSize = int(value())
            case "--sentences": embedCount = int(value())
            case "--embed-batch": embedBatch = int(value())
            case "--seed": seed = UInt64(int(value()))
            case "--length-scale":
                guard let x = Double(value()), x > 0 else { fail("--length-scale needs a positive number") }
                lengthScale = x
            case "--no-breakdown": breakdown = false
            case "--no-gemm": gemm = false
            case "--no-train": train = false
            case "--no-embed": embed = false
            case "--ops": ops = true
            case "--precision":
                precisions = value().split(separator: ",").map { name in
                    guard let p = MatmulPrecision(rawValue: String(name)) else { fail("unknown precision '\(name)' (fp32, bf16)") }
                    if p == .bf16, !MatmulPrecision.bf16Supported { fail("bf16 needs AVX512-BF16 and a dispatching build") }
                    return p
                }
            case "--mini-batch": miniBatch = int(value())
            case "-h", "--help": print(Options.usage); exit(0)
            default: fail("unknown option '\(args[i])'\n\(Options.usage)")
            }
            i += 1
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("embedkit-bench: \(message)\n".utf8))
    exit(2)
}

func note(_ message: String) {
    guard (Launch.rankFromEnvironment() ?? 0) == 0 else { return }
    FileHandle.standardError.write(Data("\(message)\n".utf8))
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
}

func fmt(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }

if CommandLine.arguments.count == 3, CommandLine.arguments[1] == "--sha256" {
    runSHA256Bench(path: CommandLine.arguments[2])
    exit(0)
}
/// The process's peak resident set size so far, from /proc/self/status.
func peakRSS() -> String {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return "?" }
    return "\(fmt(kb / 1024, 0)) MiB"
}

let communicator: any Communicator = {
    do { return try Launch.communicator() } catch { fail("\(error)") }
}()
let ranks = communicator.size
// Rank 0 speaks for the job; data-parallel, only the training step is timed.
if !communicator.isMain { dup2(open("/dev/null", O_WRONLY), STDOUT_FILENO) }
var opts = Options(Array(CommandLine.arguments.dropFirst()))
if ranks > 1 { (opts.embed, opts.gemm, opts.ops) = (false, false, false) }
if ranks > 1, opts.miniBatch != nil { fail("--mini-batch (cached_mnrl) runs in one process, not under mpirun") }
let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
    .split(separator: "\n").first { $0.hasPrefix("model name") }?
    .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "?"
print("# embedkit-bench")
print("")
print("- CPU: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores; EmbedKit workers \(Parallel.workers); "
      + "OpenBLAS \(String(cString: openblas_get_config())) core \(String(cString: openblas_get_corename())), \(openblas_get_num_threads()) threads")
print("- load average at start: \(loadAverage())")
print("- training: \(opts.batchSize) triplets per step\(opts.miniBatch.map { ", cached_mnrl in mini-batches of \($0)" } ?? ""), dropout 0.1, clip 1.0, AdamW; median of \(opts.steps) steps after a warm-up")
if ranks > 1 {
    print("- data-parallel: \(ranks) MPI ranks × \(Parallel.workers) worker\(Parallel.workers == 1 ? "" : "s") (on rank 0); each rank computes its share of the \(opts.batchSize) triplets")
}
print("- embedding: \(opts.embedCount) sentences, \(opts.embedBatch) per batch sorted by length; median of \(opts.embedReps) passes")
print("- matrix products: \(opts.precisions.map(\.rawValue).joined(separator: ", ")); element-wise kernels: \(KernelISA.current.rawValue)")
print("- lengths: log-normal, median \(fmt(18 * opts.lengthScale, 0)), σ 0.5, clamped 5…128 (seed \(opts.seed))")
print("")

if opts.ops {
    runParallelCallBench()
    runOpsBench(T: 1000, C: 384)
    runOpsBench(T: 1000, C: 768)
    runOptimizerBench(count: 22_000_000)
    runAttentionBench()
    exit(0)
}

struct Result {
    var model: BenchModel
    var precision: MatmulPrecision
    var trainMs = 0.0, trainTokens = 0.0, trainFlops = 0.0, trainCPUms = 0.0
    /// Data-parallel: the median share of a step rank 0 spent waiting on communication, and the
    /// largest of the ranks' medians.
    var waitShare = 0.0, maxWaitShare = 0.0
    var embedMs = 0.0, embedTokens = 0.0, embedFlops = 0.0, embedCPUms = 0.0
}
var results: [Result] = []
let profiler = OpProfiler.shared

for m in opts.models {
    note("[\(m.rawValue)] building")
    let model = m.build(seed: opts.seed)
    let params = model.encoder.parameters
    var work = Workload(vocab: m.vocab, batchSize: opts.batchSize, trainBatches: 3, embedCount: opts.embedCount,
                        embedBatch: opts.embedBatch, seed: opts.seed, lengthScale: opts.lengthScale,
                        rank: communicator.rank, ranks: ranks)
    if let mb = opts.miniBatch {
        for i in work.train.indices { work.train[i].loss = TrainingLoss(kind: .cachedMNRL, miniBatchSize: mb) }
    }
    for precision in opts.precisions {
        model.encoder.matmulPrecision = precision
        var r = Result(model: m, precision: precision)
        print("## \(m.title), \(precision.rawValue) matrix products")
        print("")
        print("\(params.count / 1_000_000)M parameters; \(ranks > 1 ? "rank 0's shares of the " : "")training batches of \(work.trainTokens.map(String.init).joined(separator: ", ")) tokens; "
              + "embedding \(work.embedTokens) tokens")
        print("")

        if opts.train {
            let objective = MNRLObjective(model: model)
            let optimizer = AdamW(parameters: params, weightDecay: 0.01)
            var step = 0
            // The trainer's own step: one micro-batch, clipping folded into AdamW.
            @discardableResult
            func runStep() -> StepResult {
                defer { step += 1 }
                return trainStep(objective: objective, optimizer: optimizer, microBatches: [work.train[step % work.train.count]],
                                 seed: 1, step: step, lr: 2e-5, maxGradNorm: 1.0, communicator: communicator)
            }
            note("[\(m.rawValue) \(precision.rawValue)] training warm-up")
            runStep()
            // One profiled step per distinct batch (FLOPs and breakdown), then the timed steps.
            profiler.reset()
            profiler.enabled = true
            var profiledSeconds = 0.0
            for _ in 0..<(opts.breakdown ? work.train.count : 0) {
                let t0 = OpProfiler.now()
                runStep()
                profiledSeconds += OpProfiler.now() - t0
            }
            profiler.enabled = false
            let entries = profiler.entries
            let flopsPerStep = opts.breakdown ? entries.reduce(0) { $0 + $1.flops } / Double(work.train.count) : .nan
            var times: [Double] = [], cpu: [Double] = [], waits: [Double] = []
            for s in 0..<opts.steps {
                let t0 = OpProfiler.now(), c0 = cpuSeconds()
                let result = runStep()
                times.append(OpProfiler.now() - t0)
                cpu.append(cpuSeconds() - c0)
                waits.append(result.communicationSeconds / times.last!)
                note("[\(m.rawValue) \(precision.rawValue)] step \(s + 1)/\(opts.steps): \(fmt(times.last! * 1000, 0)) ms, CPU \(fmt(cpu.last! * 1000, 0)) ms"
                     + (ranks > 1 ? ", waiting \(fmt(waits.last! * 100))%" : ""))
            }
            r.waitShare = median(waits)
            r.maxWaitShare = communicator.allReduce([r.waitShare], .max)[0]
            r.trainCPUms = median(cpu) * 1000
            r.trainMs = median(times) * 1000
            r.trainTokens = Double(work.trainTokens.reduce(0, +)) / Double(work.train.count)
            r.trainFlops = flopsPerStep
            print("Training step: **\(fmt(r.trainMs, 0)) ms** (min \(fmt(times.min()! * 1000, 0)), max \(fmt(times.max()! * 1000, 0))), "
                  + "\(fmt(Double(opts.batchSize) / (r.trainMs / 1000))) triplets/s, \(fmt(r.trainTokens / (r.trainMs / 1000), 0)) tokens/s, "
                  + (opts.breakdown ? "\(fmt(flopsPerStep / 1e9)) GFLOP/step → \(fmt(flopsPerStep / 1e9 / (r.trainMs / 1000))) GFLOP/s; " : "")
                  + "CPU time \(fmt(r.trainCPUms, 0)) ms/step")
            print("")
            if ranks > 1 {
                print("Waiting on communication (not hidden behind backward): **\(fmt(r.waitShare * 100))%** of a step on rank 0, "
                      + "\(fmt(r.maxWaitShare * 100))% on the rank that waits most (medians)")
                print("")
            }
            if opts.breakdown {
                printBreakdown(entries, steps: work.train.count, total: profiledSeconds)
            }
        }

        if opts.embed {
            // As the inference tools run it: a model of its own with frozen weights (bf16: converted once).
            let inference = m.build(seed: opts.seed)
            inference.encoder.matmulPrecision = precision
            inference.encoder.freezeWeights()
            func pass() { for b in work.embed { _ = inference.embed(b) } }
            note("[\(m.rawValue) \(precision.rawValue)] embedding warm-up")
            pass()
            profiler.reset()
            profiler.enabled = true
            let p0 = OpProfiler.now()
            pass()
            let profiledSeconds = OpProfiler.now() - p0
            profiler.enabled = false
            let entries = profiler.entries
            var times: [Double] = [], cpu: [Double] = []
            for _ in 0..<opts.embedReps {
                let t0 = OpProfiler.now(), c0 = cpuSeconds()
                pass()
                times.append(OpProfiler.now() - t0)
                cpu.append(cpuSeconds() - c0)
            }
            r.embedMs = median(times) * 1000
            r.embedCPUms = median(cpu) * 1000
            r.embedTokens = Double(work.embedTokens)
            r.embedFlops = entries.reduce(0) { $0 + $1.flops }
            print("Embedding \(opts.embedCount) sentences: **\(fmt(r.embedMs, 0)) ms** (min \(fmt(times.min()! * 1000, 0))), "
                  + "\(fmt(Double(opts.embedCount) / (r.embedMs / 1000), 0)) sentences/s, \(fmt(r.embedTokens / (r.embedMs / 1000), 0)) tokens/s, "
                  + "\(fmt(r.embedFlops / 1e9 / (r.embedMs / 1000))) GFLOP/s; CPU time \(fmt(r.embedCPUms, 0)) ms")
            print("")
            if opts.breakdown { printBreakdown(entries, steps: 1, total: profiledSeconds) }
        }

        results.append(r)
    }

    if opts.gemm, let batch = work.train.first {
        printGemmCeiling(m, T: batch.packed.tokenCount, meanLength: Double(batch.packed.tokenCount) / Double(batch.packed.count),
                         bf16: opts.precisions.contains(.bf16))
    }
}

print("## Summary")
print("")
print("| model | products | train ms/step | CPU ms/step | triplets/s | train tokens/s | train GFLOP/s | embed ms (\(opts.embedCount) sent.) | embed CPU ms | sentences/s | embed GFLOP/s | train speed-up (wall, CPU) | embed speed-up (wall, CPU) |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in results {
    let t = r.trainMs / 1000, e = r.embedMs / 1000
    // Against the same model's fp32 row (GFLOP/s counts the same work in both precisions).
    let base = results.first { $0.model == r.model && $0.precision == .fp32 }
    // CPU time too: on a loaded machine wall time counts other processes' turns.
    let trainUp = base.map { opts.train ? "\(fmt($0.trainMs / r.trainMs, 2))×, \(fmt($0.trainCPUms / r.trainCPUms, 2))×" : "–" } ?? "–"
    let embedUp = base.map { opts.embed ? "\(fmt($0.embedMs / r.embedMs, 2))×, \(fmt($0.embedCPUms / r.embedCPUms, 2))×" : "–" } ?? "–"
    print("| \(r.model.rawValue) | \(r.precision.rawValue) | \(opts.train ? fmt(r.trainMs, 0) : "–") | \(opts.train ? fmt(r.trainCPUms, 0) : "–") | \(opts.train ? fmt(Double(opts.batchSize) / t) : "–") | "
          + "\(opts.train ? fmt(r.trainTokens / t, 0) : "–") | \(opts.train && opts.breakdown ? fmt(r.trainFlops / 1e9 / t) : "–") | "
          + "\(opts.embed ? fmt(r.embedMs, 0) : "–") | \(opts.embed ? fmt(r.embedCPUms, 0) : "–") | \(opts.embed ? fmt(Double(opts.embedCount) / e, 0) : "–") | "
          + "\(opts.embed ? fmt(r.embedFlops / 1e9 / e) : "–") | \(trainUp) | \(embedUp) |")
}
print("")
print("- load average at end: \(loadAverage())")
print("- peak resident memory (VmHWM): \(peakRSS())")
communicator.finish()

// MARK: - Report pieces

func printBreakdown(_ entries: [OpProfiler.Entry], steps: Int, total: Double) {
    let n = Double(steps)
    let covered = entries.reduce(0) { $0 + $1.seconds }
    print("| op | calls | ms | % | GFLOP/s |")
    print("|---|---:|---:|---:|---:|")
    for e in entries.sorted(by: { $0.seconds > $1.seconds }) {
        let g = e.flops > 0 ? fmt(e.flops / e.seconds / 1e9) : ""
        print("| \(e.kind.name) | \(Int(Double(e.calls) / n)) | \(fmt(e.seconds / n * 1000)) | \(fmt(100 * e.seconds / total)) | \(g) |")
    }
    print("| (not instrumented) | | \(fmt((total - covered) / n * 1000)) | \(fmt(100 * (total - covered) / total)) | |")
    print("| **total (profiled)** | | \(fmt(total / n * 1000)) | 100 | |")
    print("")
}

/// Raw cblas_sgemm speed for the step's matrix shapes on 1 and 2 OpenBLAS threads: the ceiling for
/// the linear layers; with `bf16`, also the AVX512-BF16 kernel on 1 thread and on our workers as the
/// linear layers run it. Shapes are (M, N, K) with the transposes the layers use.
func printGemmCeiling(_ m: BenchModel, T: Int, meanLength: Double, bf16: Bool) {
    let (C, I): (Int, Int) = m == .minilm ? (384, 1536) : (768, m == .norbert ? 2048 : 3072)
    struct Shape { let name: String; let transA: Bool; let transB: Bool; let M: Int; let N: Int; let K: Int }
    var shapes: [Shape] = []
    let linears: [(String, Int, Int)] = m == .norbert
        ? [("qk", C, 2 * C), ("v/out", C, C), ("ffn in", C, 2 * I), ("ffn out", I, C)]
        : [("qkv", C, 3 * C), ("out", C, C), ("ffn in", C, I), ("ffn out", I, C)]
    for (name, ic, oc) in linears {
        shapes.append(Shape(name: "\(name) fwd  x·Wᵀ", transA: false, transB: true, M: T, N: oc, K: ic))
        shapes.append(Shape(name: "\(name) dx   dy·W", transA: false, transB: false, M: T, N: ic, K: oc))
        shapes.append(Shape(name: "\(name) dW   dyᵀ·x", transA: true, transB: false, M: oc, N: ic, K: T))
    }
    let hd = C / 12, len = Int(meanLength.rounded())
    shapes.append(Shape(name: "attn q·kᵀ (len \(len), hd \(hd))", transA: false, transB: true, M: len, N: len, K: hd))
    shapes.append(Shape(name: "attn p·v", transA: false, transB: false, M: len, N: hd, K: len))
    let maxA = shapes.map { $0.M * $0.K }.max()!, maxB = shapes.map { $0.K * $0.N }.max()!, maxC = shapes.map { $0.M * $0.N }.max()!
    let a = UnsafeMutablePointer<Float>.allocate(capacity: maxA), b = UnsafeMutablePointer<Float>.allocate(capacity: maxB)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: maxC)
    defer { a.deallocate(); b.deallocate(); c.deallocate() }
    var rng = SplitMix64(seed: 7)
    for i in 0..<maxA { a[i] = Float(rng.next() >> 40) / 16_777_216 - 0.5 }
    for i in 0..<maxB { b[i] = Float(rng.next() >> 40) / 16_777_216 - 0.5 }
    c.initialize(repeating: 0, count: maxC)
    let saved = openblas_get_num_threads()
    defer { openblas_set_num_threads(saved) }
    /// Times one call of each policy in turn (1 OpenBLAS thread; 2 OpenBLAS threads; our two
    /// workers each running a 1-thread sgemm on half the rows of C; with `bf16` also the bf16 kernel
    /// on 1 thread and the linear layers' bf16 split over the workers), 15 rounds interleaved so
    /// that background load hits all alike; returns the best GFLOP/s of each.
    let policies = bf16 ? 5 : 3
    func gflops(_ s: Shape) -> [Double] {
        let flops = 2 * Double(s.M) * Double(s.N) * Double(s.K)
        let lda = s.transA ? s.M : s.K, ldb = s.transB ? s.K : s.N
        func run(_ rows: Range<Int>) {
            cblas_sgemm(CblasRowMajor, s.transA ? CblasTrans : CblasNoTrans, s.transB ? CblasTrans : CblasNoTrans,
                        Int32(rows.count), Int32(s.N), Int32(s.K), 1, a + (s.transA ? rows.lowerBound : rows.lowerBound * lda),
                        Int32(lda), b, Int32(ldb), 0, c + rows.lowerBound * s.N, Int32(s.N))
        }
        let inner = max(1, Int(2e8 / flops))
        var best = [Double](repeating: .infinity, count: policies)
        for _ in 0..<15 {
            for policy in 0..<policies {
                openblas_set_num_threads(policy == 1 ? 2 : 1)
                let t0 = OpProfiler.now()
                for _ in 0..<inner {
                    switch policy {
                    case 2: Parallel.forEach(2) { k in run(((s.M * k / 2) & ~15)..<(k == 1 ? s.M : (s.M / 2) & ~15)) }
                    case 3: gemm(.bf16, transA: s.transA, transB: s.transB, M: s.M, N: s.N, K: s.K, a, lda: lda, b, ldb: ldb, beta: 0, c, ldc: s.N)
                    case 4: linearGemm(.bf16, transA: s.transA, transB: s.transB, M: s.M, N: s.N, K: s.K, a, lda: lda, b, ldb: ldb, beta: 0, c, ldc: s.N)
                    default: run(0..<s.M)
                    }
                }
                best[policy] = min(best[policy], (OpProfiler.now() - t0) / Double(inner))
            }
        }
        return best.map { flops / $0 / 1e9 }
    }
    note("[\(m.rawValue)] sgemm ceiling")
    print("Raw cblas_sgemm, T = \(T) tokens (best of 15 interleaved rounds):")
    print("")
    print("| shape (M×N×K) | 1 thread GFLOP/s | 2 threads GFLOP/s | 2 workers × 1 thread, rows split |"
          + (bf16 ? " bf16 1 thread | bf16 2 workers (linear layers) |" : ""))
    print("|---|---:|---:|---:|" + (bf16 ? "---:|---:|" : ""))
    var linearFlops = 0.0, linearTime = [Double](repeating: 0, count: policies)
    for s in shapes {
        let g = gflops(s)
        print("| \(s.name) \(s.M)×\(s.N)×\(s.K) | " + g.map { fmt($0) }.joined(separator: " | ") + " |")
        if !s.name.hasPrefix("attn") {
            let f = 2 * Double(s.M) * Double(s.N) * Double(s.K)
            linearFlops += f
            for p in 0..<policies { linearTime[p] += f / (g[p] * 1e9) }
        }
    }
    print("| **linear layers combined** | " + linearTime.map { fmt(linearFlops / $0 / 1e9) }.joined(separator: " | ") + " |")
    print("")
}
