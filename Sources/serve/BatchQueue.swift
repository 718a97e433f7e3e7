import Foundation
import IO
import Inference
import ServiceLifecycle

/// Dynamic batching, as text-embeddings-inference does it: every input of every request is one
/// entry in a FIFO queue; whenever the model is free, the worker takes the entries waiting, in
/// arrival order, while their tokens fit in `maxBatchTokens` and their count in `maxBatchCount`
/// (the engine packs sequences end to end, so the budget is the sum of real tokens: no padding).
/// An entry that does not fit heads the next batch. No timer: what is queued when the model becomes
/// free is the next batch, so a lone request is never held back.
///
/// Admission is bounded: a request takes one permit per input, at once or never (`tryAcquire`),
/// so past `maxPermits` inputs in flight the server answers 429 instead of growing a queue.
final class BatchQueue: @unchecked Sendable {
    struct Output: Sendable {
        /// The model's vector (pooled, normalized when the model has a Normalize module).
        let vector: [Float]
        let queueSeconds: Double
        let inferenceSeconds: Double
    }

    /// One request's inputs, queued together: its continuation is resumed once, with every vector
    /// in input order, or with the first error. Mutated only under the queue's lock.
    private final class Request: @unchecked Sendable {
        var outputs: [Output?]
        var remaining: Int
        var continuation: CheckedContinuation<[Output], any Error>?

        init(count: Int) {
            outputs = Array(repeating: nil, count: count)
            remaining = count
        }

        /// The continuation, taken so that nothing resumes it twice.
        func take() -> CheckedContinuation<[Output], any Error>? {
            defer { continuation = nil }
            return continuation
        }
    }

    private final class Entry {
        let request: Request
        let index: Int
        let ids: [Int32]
        let enqueued: Double

        init(request: Request, index: Int, ids: [Int32], enqueued: Double) {
            self.request = request
            self.index = index
            self.ids = ids
            self.enqueued = enqueued
        }
    }

    let maxPermits: Int
    let maxBatchTokens: Int
    let maxBatchCount: Int
    private let metrics: ServerMetrics
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var entries: [Entry] = []
    private var head = 0
    private var permitsInUse = 0
    private var closed = false

    init(maxPermits: Int, maxBatchTokens: Int, maxBatchCount: Int, metrics: ServerMetrics) {
        self.maxPermits = maxPermits
        self.maxBatchTokens = maxBatchTokens
        self.maxBatchCount = maxBatchCount
        self.metrics = metrics
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    /// Takes `n` permits if that many are free (never waits).
    func tryAcquire(_ n: Int) -> Bool {
        locked {
            guard permitsInUse + n <= maxPermits else { return false }
            permitsInUse += n
            return true
        }
    }

    func release(_ n: Int) {
        locked { permitsInUse -= n }
    }

    var isClosed: Bool { locked { closed } }

    /// Queues a request's tokenized inputs, all at once and in order, and waits for their vectors.
    /// Queued together, a request alone on the server always forms the same batches, so it gets
    /// the same vectors bit for bit every time (a row's sums can depend on its place in a batch).
    /// A task cancelled while inputs of its request are still queued takes them out
    /// (`te_request_failure{err="dropped"}`, one per input). (A client that disconnects does not
    /// cancel it: Hummingbird lets the handler finish.)
    func submit(_ inputs: [[Int32]]) async throws -> [Output] {
        if inputs.isEmpty { return [] }
        // The worker writes the outputs under the lock and resumes the continuation after it: the
        // resume orders them before our reads, but ThreadSanitizer does not see that ordering (it
        // happens in the uninstrumented concurrency runtime) and neither the HTTP request's state,
        // which this task may now read on another thread. Taking the lock once more shows it.
        defer { locked {} }
        let request = Request(count: inputs.count)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[Output], any Error>) in
                // Task.isCancelled is read under the lock that onCancel takes, so the request is
                // either never queued or queued before onCancel looks for it.
                let refusal: (any Error)? = locked {
                    if closed { return APIError(.Unhealthy, "the server is shutting down", kind: .inference) }
                    if Task.isCancelled { return CancellationError() }
                    request.continuation = continuation
                    let now = ProgressBar.now()
                    for (k, ids) in inputs.enumerated() {
                        entries.append(Entry(request: request, index: k, ids: ids, enqueued: now))
                    }
                    metrics.set("te_queue_size", Double(entries.count - head))
                    condition.signal()
                    return nil
                }
                if let refusal { continuation.resume(throwing: refusal) }
            }
        } onCancel: {
            let (dropped, continuation) = locked { () -> (Int, CheckedContinuation<[Output], any Error>?) in
                let dropped = removeQueued(of: request)
                return (dropped, dropped > 0 ? request.take() : nil)
            }
            if dropped > 0 { metrics.increment("te_request_failure", "err=\"dropped\"", by: dropped) }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Takes the request's entries still waiting out of the queue; how many. Under the lock.
    private func removeQueued(of request: Request) -> Int {
        let kept = entries[head...].filter { $0.request !== request }
        let dropped = entries.count - head - kept.count
        if dropped > 0 { entries.replaceSubrange(head..., with: kept) }
        return dropped
    }

    /// Blocks until entries are waiting and returns the next batch; nil once closed and drained.
    private func nextBatch() -> [Entry]? {
        locked {
            while head == entries.count && !closed { condition.wait() }
            if head == entries.count { return nil }
            var batch: [Entry] = [], tokens = 0
            while head < entries.count, batch.count < maxBatchCount {
                let e = entries[head]
                if !batch.isEmpty && tokens + e.ids.count > maxBatchTokens { break }
                batch.append(e)
                tokens += e.ids.count
                head += 1
            }
            if head > 1024 && head * 2 > entries.count {
                entries.removeFirst(head)
                head = 0
            }
            metrics.observe("te_batch_next_size", Double(batch.count))
            metrics.observe("te_batch_next_tokens", Double(tokens))
            metrics.set("te_queue_size", Double(entries.count - head))
            return batch
        }
    }

    /// Stops accepting entries; the worker finishes those queued, then ends.
    func close() {
        locked {
            closed = true
            condition.broadcast()
        }
    }

    /// The worker's loop, on its own thread: batch after batch through `embed` (which runs the
    /// model on all cores), until `close()` and an empty queue. `delaySeconds` (tests only) holds
    /// each batch before the model runs, so a test can fill the queue deterministically.
    func drain(delaySeconds: Double, embed: ([[Int32]]) throws -> [Float]) {
        while let batch = nextBatch() {
            let start = ProgressBar.now()
            if delaySeconds > 0 { usleep(UInt32(delaySeconds * 1e6)) }
            var finished: [(CheckedContinuation<[Output], any Error>, Result<[Output], any Error>)] = []
            do {
                let vectors = try embed(batch.map(\.ids))
                let end = ProgressBar.now()
                let D = vectors.count / max(batch.count, 1)
                locked {
                    for (k, e) in batch.enumerated() {
                        let r = e.request
                        r.outputs[e.index] = Output(vector: Array(vectors[(k * D)..<((k + 1) * D)]),
                                                    queueSeconds: start - e.enqueued, inferenceSeconds: end - start)
                        r.remaining -= 1
                        if r.remaining == 0, let c = r.take() { finished.append((c, .success(r.outputs.map { $0! }))) }
                    }
                }
            } catch {
                let failure = APIError(.Backend, "inference failed: \(error)", kind: .inference)
                locked {
                    for e in batch {
                        // The request fails as a whole: its inputs still queued are not embedded.
                        _ = removeQueued(of: e.request)
                        if let c = e.request.take() { finished.append((c, .failure(failure))) }
                    }
                }
            }
            for (c, result) in finished { c.resume(with: result) }
        }
    }
}

/// Runs the queue's worker on a dedicated thread for as long as the server runs. On SIGTERM the
/// service group stops the HTTP server first (it stops accepting and answers the requests in
/// flight) and this service last, so everything queued is embedded before the process exits.
struct BatchWorker: Service {
    let queue: BatchQueue
    let delaySeconds: Double
    let embed: @Sendable ([[Int32]]) throws -> [Float]

    func run() async throws {
        let queue = self.queue, delay = delaySeconds, embed = self.embed
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    let thread = Thread {
                        queue.drain(delaySeconds: delay, embed: embed)
                        done.resume()
                    }
                    thread.name = "serve-model"
                    thread.start()
                }
            } onCancel: {
                queue.close()
            }
        } onGracefulShutdown: {
            queue.close()
        }
    }
}
