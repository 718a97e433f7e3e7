import IO
import TestSupport
import Testing

/// The thread primitives under contention (and under `make test-sanitize`'s ThreadSanitizer):
/// disjoint writes from `Parallel`, counters behind `Mutex`, a progress bar advanced from workers.
@Suite struct ParallelTests {
    @Test func chunksCoverEveryIndexOnce() {
        let n = 100_003
        let out = UnsafeMutableBufferPointer<Int32>.allocate(capacity: n)
        out.initialize(repeating: 0)
        defer { out.deallocate() }
        let box = UncheckedSendable(out)
        Parallel.chunks(n, minChunk: 1_000) { range in
            for i in range { box.value[i] += 1 }
        }
        #expect(out.allSatisfy { $0 == 1 })
    }

    @Test func mutexSerializesUpdates() {
        final class Counter: @unchecked Sendable {
            let lock = Mutex()
            var value = 0
        }
        let counter = Counter()
        Parallel.forEach(8) { _ in
            for _ in 0..<10_000 { counter.lock.withLock { counter.value += 1 } }
        }
        #expect(counter.value == 80_000)
    }

    @Test func progressBarFromWorkers() {
        let bar = ProgressBar("test", total: 8_000, quiet: true)
        Parallel.forEach(8) { _ in
            for _ in 0..<1_000 { bar.advance() }
        }
        bar.finish()
        #expect(bar.count == 8_000)
    }
}
