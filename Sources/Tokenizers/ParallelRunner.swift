import IO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body(k)` for k in 0..<count on `count` threads and waits for all of them. Threads get a
/// large stack (reserved, not committed) because regex matching recurses on long inputs.
func runOnThreads(_ count: Int, stackBytes: Int = 64 << 20, _ body: @escaping @Sendable (Int) -> Void) {
    if count <= 1 {
        body(0)
        return
    }
    final class Job: @unchecked Sendable {
        let index: Int
        let body: @Sendable (Int) -> Void
        init(index: Int, body: @escaping @Sendable (Int) -> Void) {
            self.index = index
            self.body = body
        }
    }
    var threads: [pthread_t] = []
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setstacksize(&attr, stackBytes)
    defer { pthread_attr_destroy(&attr) }
    for k in 1..<count {
        let job = Unmanaged.passRetained(Job(index: k, body: body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attr, { raw in
            let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
            job.body(job.index)
            return nil
        }, job)
        if rc != 0 {
            // No thread: run this share here instead.
            let j = Unmanaged<Job>.fromOpaque(job).takeRetainedValue()
            j.body(j.index)
        } else {
            threads.append(thread)
        }
    }
    body(0)
    for t in threads { pthread_join(t, nil) }
}
