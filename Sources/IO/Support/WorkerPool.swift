import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Our own pool rather than DispatchQueue.concurrentPerform, because libdispatch on Linux wakes its
// threads per call, and when they come late the caller runs every item itself: on 2 cores two
// 100 µs halves took 201 µs, no faster than one thread, and two 500 µs halves 599 µs, where this
// pool takes 101 and 501 µs (`embedkit-bench --ops`, BENCHMARKS.md). A training step makes
// several hundred parallel calls (every layer's products, norms, activations, dropout), many short.

/// Persistent worker threads behind `Parallel.forEach`. A call publishes its items; the calling
/// thread and the workers claim them one at a time until none is left, and the caller returns once
/// every item is done. After a call a worker keeps polling for the next one for `spinSeconds`, then
/// sleeps until woken, so the calls of a training step start on threads that are already running,
/// and an idle process uses no CPU. The caller never waits for a worker to wake: items nobody has
/// claimed it runs itself. Which thread runs an item never changes what the item computes.
package final class WorkerPool: @unchecked Sendable {
    /// The pool behind `Parallel.forEach`, its threads started on first use.
    package static let shared = WorkerPool()

    /// How long a worker polls for the next call before it sleeps.
    static let spinSeconds = 0.002

    // The published call: generation (24 bits) | item count (20 bits) | next unclaimed item (20 bits).
    // A claim is a compare-and-swap of `next`, so an item is claimed once, and only while its call
    // is the current one (a worker holding a stale ticket fails the swap).
    private let ticket = Atomic<UInt64>(0)
    private let done = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    /// How many workers may claim items (the worker count less the caller), read on every claim.
    private let active = Atomic<Int>(0)
    private let started = Synchronization.Mutex<Int>(0)
    /// The threads started so far, read without the lock on every call.
    private let startedCount = Atomic<Int>(0)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// The current call's body. Written only while no call is in flight (`busy` is taken and the
    /// previous call's items are all done), read only by a thread that has claimed one of its items.
    private let body = UnsafeMutablePointer<(Int) -> Void>.allocate(capacity: 1)

    /// Item counts fit the ticket's 20 bits.
    static let maxItems = 1 << 20

    private init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        body.initialize(to: { _ in })
    }

    /// Runs `work(k)` for k in 0..<n on the caller and `threads` workers. False (nothing run) when
    /// the pool is in use, by another thread or by an enclosing call, or for 2²⁰ items or more:
    /// the caller then runs the items some other way.
    package func run(_ n: Int, threads: Int, _ work: (Int) -> Void) -> Bool {
        guard n > 0, n < Self.maxItems, threads >= 0,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        if startedCount.load(ordering: .acquiring) < threads { startThreads(threads) }
        return withoutActuallyEscaping(work) { work in
            body.pointee = work
            active.store(threads, ordering: .relaxed)
            done.store(0, ordering: .relaxed)
            let generation = (ticket.load(ordering: .relaxed) >> 40 &+ 1) & 0xFF_FFFF
            let published = generation << 40 | UInt64(n) << 20
            ticket.store(published, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(cond)
                pthread_mutex_unlock(mutex)
            }
            claimAll(from: published)
            var polls = 0
            while done.load(ordering: .acquiring) < n {
                polls += 1
                if polls > 100_000 { sched_yield() }  // a long item on a worker: let others run
            }
            // Replaced by a no-op so that the pool keeps no reference to `work` past this call.
            body.pointee = { _ in }
            return true
        }
    }

    /// Claims and runs items of the call `ticket` was read from until none is left.
    private func claimAll(from seen: UInt64) {
        var t = seen
        while t & 0xF_FFFF < t >> 20 & 0xF_FFFF {
            let (exchanged, current) = ticket.compareExchange(expected: t, desired: t + 1, ordering: .acquiringAndReleasing)
            if exchanged {
                body.pointee(Int(t & 0xF_FFFF))
                done.add(1, ordering: .releasing)
                t = ticket.load(ordering: .acquiring)
            } else {
                t = current
            }
        }
    }

    private func startThreads(_ count: Int) {
        started.withLock { n in
            while n < count {
                let index = n
                var thread = pthread_t()
                let context = Unmanaged.passRetained(Box { [unowned self] in self.workerLoop(index) }).toOpaque()
                let rc = pthread_create(&thread, nil, { p in
                    let box = Unmanaged<Box>.fromOpaque(p!).takeRetainedValue()
                    box.run()
                    return nil
                }, context)
                precondition(rc == 0, "could not start a worker thread (\(rc))")
                pthread_detach(thread)
                n += 1
            }
            startedCount.store(n, ordering: .releasing)
        }
    }

    private final class Box {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    private func workerLoop(_ index: Int) -> Never {
        var seen = ticket.load(ordering: .acquiring)
        while true {
            if index < active.load(ordering: .relaxed) { claimAll(from: seen) }
            seen = waitForChange(from: seen)
        }
    }

    /// Polls the ticket for `spinSeconds`, then sleeps until a call is published; the new ticket.
    private func waitForChange(from seen: UInt64) -> UInt64 {
        let deadline = ProgressBar.now() + Self.spinSeconds
        var polls = 0
        while true {
            let t = ticket.load(ordering: .acquiring)
            if t != seen { return t }
            polls += 1
            if polls & 1023 == 0 && ProgressBar.now() > deadline { break }
        }
        pthread_mutex_lock(mutex)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        var t = ticket.load(ordering: .sequentiallyConsistent)
        while t == seen {
            pthread_cond_wait(cond, mutex)
            t = ticket.load(ordering: .sequentiallyConsistent)
        }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(mutex)
        return ticket.load(ordering: .acquiring)
    }
}
