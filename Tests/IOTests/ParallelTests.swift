import Dispatch
import IO
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The thread primitives under contention (and under `make test-sanitize`'s ThreadSanitizer):
/// disjoint writes from `Parallel`, counters behind `Mutex`, a progress bar advanced from workers,
/// and `WorkerPool` (behind `Parallel.forEach`): hot and after its workers slept, nested, and
/// called from two threads at once.
@Suite struct ParallelTests {
    /// Every item of every call runs exactly once, for calls in quick succession (workers
    /// polling) and after pauses longer than the workers poll (workers asleep).
    @Test func forEachRunsEveryItemOnce() {
        let counts = UnsafeMutableBufferPointer<Int32>.allocate(capacity: 1000)
        defer { counts.deallocate() }
        let box = UncheckedSendable(counts)
        for round in 0..<300 {
            let n = [2, 3, 7, 64, 1000][round % 5]
            counts.initialize(repeating: 0)
            Parallel.forEach(n) { k in box.value[k] += 1 }
            #expect(counts[0..<n].allSatisfy { $0 == 1 } && counts[n...].allSatisfy { $0 == 0 }, "round \(round), \(n) items")
            if round % 50 == 49 { usleep(20_000) }
        }
    }

    /// With two or more workers, the items of one call do run at the same time: each of two items
    /// waits (up to 10 s) until both have started, which one thread alone could never see.
    @Test(.enabled(if: Parallel.workers >= 2, "needs two workers"))
    func itemsRunConcurrently() {
        for pause in [0, 20_000] {
            usleep(UInt32(pause))  // the second time, the workers have gone to sleep
            let lock = Mutex(), counts = UncheckedSendable(UnsafeMutablePointer<Int>.allocate(capacity: 2))
            counts.value.initialize(repeating: 0, count: 2)  // [items started, items that saw both start]
            defer { counts.value.deallocate() }
            Parallel.forEach(2) { _ in
                lock.withLock { counts.value[0] += 1 }
                let deadline = ProgressBar.now() + 10
                while ProgressBar.now() < deadline {
                    if lock.withLock({ counts.value[0] }) == 2 {
                        lock.withLock { counts.value[1] += 1 }
                        break
                    }
                }
            }
            #expect(counts.value[1] == 2, "after a pause of \(pause) µs, \(counts.value[1]) of 2 items saw the other one running")
        }
    }

    /// Calls from two threads at once, and calls inside an item, run every item once (the pool
    /// serves one call at a time; the others go to libdispatch).
    @Test func concurrentAndNestedCalls() {
        let counts = UnsafeMutableBufferPointer<Int32>.allocate(capacity: 2 * 64)
        counts.initialize(repeating: 0)
        defer { counts.deallocate() }
        let box = UncheckedSendable(counts)
        DispatchQueue.concurrentPerform(iterations: 2) { caller in
            for _ in 0..<200 {
                Parallel.forEach(8) { i in
                    Parallel.forEach(8) { j in box.value[caller * 64 + i * 8 + j] += 1 }
                }
            }
        }
        #expect(counts.allSatisfy { $0 == 200 })
    }

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
