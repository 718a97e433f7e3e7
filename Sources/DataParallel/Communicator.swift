import Dispatch
import IO

/// How a reduction combines the ranks' values.
package enum ReduceOperation: Sendable {
    case sum, max, min
}

/// The collectives data-parallel training needs, between the `size` processes (ranks) of one job.
/// Every rank must issue the same collectives in the same order. The `start…` calls return at once
/// with a request: the buffers belong to the communication until `wait()` returns, and the caller
/// computes meanwhile (gradient buckets reduced while backward goes on). The others block.
package protocol Communicator: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Sums `count` floats in place over the ranks.
    func startAllReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int) -> CommRequest
    /// Gathers every rank's block, rank-major: rank r sends `counts[r]` floats from `send`, and
    /// every rank receives all blocks, one after another, in `receive` (Σ counts floats).
    func startAllGather(_ send: UnsafePointer<Float>, into receive: UnsafeMutablePointer<Float>, counts: [Int]) -> CommRequest
    /// Sums `send` (Σ counts floats, rank-major blocks) over the ranks; rank r receives block r
    /// (`counts[r]` floats) of the sum. The inverse of `startAllGather` for gradients.
    func startReduceScatter(_ send: UnsafePointer<Float>, into receive: UnsafeMutablePointer<Float>, counts: [Int]) -> CommRequest
    /// A few numbers combined over the ranks (losses, flags), blocking.
    func allReduce(_ values: [Double], _ operation: ReduceOperation) -> [Double]
    /// `bytes` bytes from rank `root` to every rank, blocking.
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int)
    /// Ends the communication (MPI_Finalize): every rank calls it once, at the end of a run that
    /// did not fail. A failing rank exits without it and the launcher ends the job.
    func finish()
    /// Seconds the calling thread has spent blocked on communication so far.
    var waitSeconds: Double { get }
}

extension Communicator {
    package var isMain: Bool { rank == 0 }

    package func barrier() { _ = allReduce([0], .sum) }

    /// Broadcasts floats from `root`.
    package func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int = 0) {
        broadcast(UnsafeMutableRawPointer(buffer), bytes: count * MemoryLayout<Float>.size, root: root)
    }

    /// Broadcasts a byte string of any length from `root` (length first, then the bytes).
    package func broadcast(_ data: [UInt8], root: Int = 0) -> [UInt8] {
        var n = UInt64(data.count)
        broadcast(&n, bytes: 8, root: root)
        var out = rank == root ? data : [UInt8](repeating: 0, count: Int(n))
        if n > 0 { out.withUnsafeMutableBytes { broadcast($0.baseAddress!, bytes: Int(n), root: root) } }
        return out
    }

    /// Whether any rank says yes.
    package func any(_ flag: Bool) -> Bool { allReduce([flag ? 1 : 0], .max)[0] > 0 }
}

/// A collective in flight; `wait()` blocks until it is complete (and counts the time as waiting).
package final class CommRequest: @unchecked Sendable {
    private let semaphore: DispatchSemaphore?
    private let clock: WaitClock?

    /// A request that is already complete.
    package static let done = CommRequest(semaphore: nil, clock: nil)

    init(semaphore: DispatchSemaphore?, clock: WaitClock?) {
        self.semaphore = semaphore
        self.clock = clock
    }

    package func wait() {
        guard let semaphore else { return }
        clock?.measure { semaphore.wait() }
    }
}

/// Accumulated time spent blocked on communication (read and written by the training thread only).
final class WaitClock: @unchecked Sendable {
    private(set) var seconds = 0.0

    func measure<T>(_ body: () -> T) -> T {
        let t0 = ProgressBar.now()
        defer { seconds += ProgressBar.now() - t0 }
        return body()
    }
}

/// One process, no MPI: every collective is the identity (a gather or scatter copies).
package final class SingleProcess: Communicator {
    package init() {}
    package var rank: Int { 0 }
    package var size: Int { 1 }
    package var waitSeconds: Double { 0 }

    package func startAllReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int) -> CommRequest { .done }

    package func startAllGather(_ send: UnsafePointer<Float>, into receive: UnsafeMutablePointer<Float>, counts: [Int]) -> CommRequest {
        receive.update(from: send, count: counts[0])
        return .done
    }

    package func startReduceScatter(_ send: UnsafePointer<Float>, into receive: UnsafeMutablePointer<Float>, counts: [Int]) -> CommRequest {
        receive.update(from: send, count: counts[0])
        return .done
    }

    package func allReduce(_ values: [Double], _ operation: ReduceOperation) -> [Double] { values }
    package func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) {}
    package func finish() {}
}

extension Communicator {
    /// Runs `body` on rank 0 alone (writing files, reading rank 0's checkpoints) and gives its result
    /// to every rank; or, when it throws, throws its error on every rank, so that all ranks stop
    /// together with rank 0's message instead of waiting for it forever.
    package func fromRoot(_ body: () throws -> [UInt8]) throws -> [UInt8] {
        if size == 1 { return try body() }
        var message: [UInt8]
        if isMain {
            do {
                message = [0] + (try body())
            } catch let e as EmbedError {
                message = [1] + Array(e.message.utf8)
            } catch {
                message = [1] + Array("\(error)".utf8)
            }
        } else {
            message = []
        }
        message = broadcast(message)
        guard message.first == 0 else {
            let text = String(decoding: message.dropFirst(), as: UTF8.self)
            if isMain { throw EmbedError(text) }
            throw RankZeroFailed(message: text)
        }
        return Array(message.dropFirst())
    }

    /// `fromRoot` for work without a result.
    package func onRoot(_ body: () throws -> Void) throws {
        _ = try fromRoot { () throws -> [UInt8] in try body(); return [] }
    }

    package func fromRoot(_ body: () throws -> String) throws -> String {
        if size == 1 { return try body() }
        return String(decoding: try fromRoot { () throws -> [UInt8] in Array(try body().utf8) }, as: UTF8.self)
    }
}

/// What the ranks other than 0 throw when rank 0's part of a `fromRoot` failed: rank 0 reports the
/// error, the others need only stop.
package struct RankZeroFailed: Error, CustomStringConvertible {
    package let message: String
    package var description: String { "rank 0 failed: \(message)" }
}
