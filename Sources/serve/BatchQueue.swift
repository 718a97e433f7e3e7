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

    private final class Entry {
        let id: UInt64
        let ids: [Int32]
        let enqueued: Double
        let continuation: CheckedContinuation<Output, any Error>

        init(id: UInt64, ids: [Int32], enqueued: Double, continuation: CheckedContinuation<Output, any Error>) {
            self.id = id
            self.ids = ids
            self.enqueued = enqueued
            self.continuation = continuation
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
    private var nextID: UInt64 = 0
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

    /// Queues one tokenized input and waits for its vector. A task cancelled while its entry is
    /// still queued (its client went away) takes the entry out (`te_request_failure{err="dropped"}`).
    func submit(_ ids: [Int32]) async throws -> Output {
        let id: UInt64 = locked {
            nextID += 1
            return nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Output, any Error>) in
                let accepted: Bool = locked {
                    guard !closed else { return false }
                    entries.append(Entry(id: id, ids: ids, enqueued: ProgressBar.now(), continuation: continuation))
                    metrics.set("te_queue_size", Double(entries.count - head))
                    condition.signal()
                    return true
                }
                if !accepted {
                    continuation.resume(throwing: APIError(.Unhealthy, "the server is shutting down", kind: .inference))
                }
            }
        } onCancel: {
            let dropped: Entry? = locked {
                guard let k = entries[head...].firstIndex(where: { $0.id == id }) else { return nil }
                return entries.remove(at: k)
            }
            if let dropped {
                metrics.increment("te_request_failure", "err=\"dropped\"")
                dropped.continuation.resume(throwing: CancellationError())
            }
        }
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
            do {
                let vectors = try embed(batch.map(\.ids))
                let end = ProgressBar.now()
                let D = vectors.count / max(batch.count, 1)
                for (k, e) in batch.enumerated() {
                    e.continuation.resume(returning: Output(vector: Array(vectors[(k * D)..<((k + 1) * D)]),
                                                            queueSeconds: start - e.enqueued, inferenceSeconds: end - start))
                }
            } catch {
                for e in batch {
                    e.continuation.resume(throwing: APIError(.Backend, "inference failed: \(error)", kind: .inference))
                }
            }
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
