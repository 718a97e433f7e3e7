import CMPIDyn
import Dispatch
import Foundation
import IO
#if canImport(Glibc)
import Glibc
#endif

/// The ranks of an MPI job (Open MPI, loaded at run time by CMPIDyn). One thread owns MPI: it
/// initializes it (MPI_THREAD_FUNNELED is then enough), serves a FIFO of collectives in submission
/// order — the same order on every rank, as MPI requires — and finalizes it. Each collective runs as
/// a non-blocking MPI call that the thread drives with MPI_Test: Open MPI has no progress thread of
/// its own, and a blocking call would spin a core the rank's compute threads need.
package final class MPICommunicator: Communicator, @unchecked Sendable {
    package let rank: Int
    package let size: Int
    /// MPI_Get_library_version, for the log.
    package let libraryVersion: String
    private let queue = OperationQueue()
    private let clock = WaitClock()
    private var finished = false

    package var waitSeconds: Double { clock.seconds }

    /// Starts the communication thread, which loads libmpi and calls MPI_Init_thread.
    package init() throws {
        let ready = DispatchSemaphore(value: 0)
        let startup = StartupResult()
        let queue = self.queue
        let thread = Thread {
            var error = [CChar](repeating: 0, count: 512)
            if nm_mpi_load(nil, &error, error.count) != 0 {
                startup.error = "launched by an MPI launcher, but Open MPI's libmpi could not be loaded: "
                    + text(error) + " (install Open MPI, e.g. Debian's openmpi-bin, or set NOREMBED_MPI_LIB to libmpi.so.40)"
                ready.signal()
                return
            }
            var provided: Int32 = 0
            let rc = nm_mpi_init_thread(1, &provided)  // MPI_THREAD_FUNNELED
            guard rc == 0, provided >= 1 else {
                startup.error = "MPI_Init_thread failed (\(rc); thread level \(provided))"
                ready.signal()
                return
            }
            var version = [CChar](repeating: 0, count: 512)
            nm_mpi_library_version(&version, Int32(version.count))
            startup.rank = Int(nm_mpi_rank())
            startup.size = Int(nm_mpi_size())
            startup.version = text(version).split(separator: "\n").first.map(String.init) ?? ""
            ready.signal()
            MPICommunicator.serve(queue)
        }
        thread.stackSize = 8 << 20
        thread.name = "mpi"
        thread.start()
        ready.wait()
        if let e = startup.error { throw EmbedError(e) }
        rank = startup.rank
        size = startup.size
        libraryVersion = startup.version
    }

    private final class StartupResult: @unchecked Sendable {
        var error: String?
        var rank = 0, size = 1
        var version = ""
    }

    // MARK: Collectives

    /// MPI counts are ints: a buffer of more floats goes in several calls.
    private static let maxCount = 1 << 30

    package func startAllReduce(_ buffer: UnsafeMutablePointer<Float>, count: Int) -> CommRequest {
        let p = UncheckedSendable(buffer)
        let parts = stride(from: 0, to: count, by: Self.maxCount).map { start -> Start in
            let n = min(Self.maxCount, count - start)
            return { request in nm_mpi_iallreduce(nil, p.value + start, Int32(n), Int32(NM_FLOAT), Int32(NM_SUM), request) }
        }
        return submit(parts)
    }

    package func startAllGather(_ send: UnsafePointer<Float>, into receive: UnsafeMutablePointer<Float>, counts: [Int]) -> CommRequest {
        precondition(counts.count == size)
        let (c, d) = Self.countsAndDisplacements(counts)
        let s = UncheckedSendable(send), r = UncheckedSendable(receive), mine = Int32(counts[rank])
        return submit([{ request in nm_mpi_iallgatherv(s.value, mine, r.value, c.pointer, d.pointer, Int32(NM_FLOAT), request) }])
    }

    package func startReduceScatter(_ send: UnsafePointer<Float>, into receive: UnsafeMutablePointer<Float>, counts: [Int]) -> CommRequest {
        precondition(counts.count == size)
        let (c, _) = Self.countsAndDisplacements(counts)
        let s = UncheckedSendable(send), r = UncheckedSendable(receive)
        return submit([{ request in nm_mpi_ireduce_scatter(s.value, r.value, c.pointer, Int32(NM_FLOAT), Int32(NM_SUM), request) }])
    }

    package func allReduce(_ values: [Double], _ operation: ReduceOperation) -> [Double] {
        let buffer = UnsafeMutablePointer<Double>.allocate(capacity: max(values.count, 1))
        defer { buffer.deallocate() }
        buffer.initialize(from: values, count: values.count)
        let op: Int32 = switch operation {
        case .sum: Int32(NM_SUM)
        case .max: Int32(NM_MAX)
        case .min: Int32(NM_MIN)
        }
        let p = UncheckedSendable(buffer), n = Int32(values.count)
        submit([{ request in nm_mpi_iallreduce(nil, p.value, n, Int32(NM_DOUBLE), op, request) }]).wait()
        return Array(UnsafeBufferPointer(start: buffer, count: values.count))
    }

    package func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) {
        let p = UncheckedSendable(buffer)
        let parts = stride(from: 0, to: bytes, by: Self.maxCount).map { start -> Start in
            let n = min(Self.maxCount, bytes - start)
            return { request in nm_mpi_ibcast(p.value + start, Int32(n), Int32(NM_BYTE), Int32(root), request) }
        }
        submit(parts).wait()
    }

    package func finish() {
        guard !finished else { return }
        finished = true
        let done = DispatchSemaphore(value: 0)
        queue.push(.finish(done))
        done.wait()
    }

    /// The count and displacement arrays of a gather or scatter. A non-blocking collective may read
    /// them until it completes, so they live in buffers that the start closure (kept until then) owns.
    private static func countsAndDisplacements(_ counts: [Int]) -> (Int32Buffer, Int32Buffer) {
        var displacements: [Int] = [], at = 0
        for c in counts {
            precondition(c >= 0 && at + c <= Int(Int32.max), "a gather of more than 2³¹ floats")
            displacements.append(at)
            at += c
        }
        return (Int32Buffer(counts), Int32Buffer(displacements))
    }

    final class Int32Buffer: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<Int32>
        init(_ values: [Int]) {
            pointer = .allocate(capacity: max(values.count, 1))
            for (i, v) in values.enumerated() { pointer[i] = Int32(v) }
        }
        deinit { pointer.deallocate() }
    }

    // MARK: The communication thread

    /// Starts one non-blocking MPI call, storing its request; returns the MPI error code.
    typealias Start = @Sendable (UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Int32

    enum Operation {
        case collective([Start], DispatchSemaphore)
        case finish(DispatchSemaphore)
    }

    private func submit(_ parts: [Start]) -> CommRequest {
        precondition(!finished, "communication after finish()")
        let done = DispatchSemaphore(value: 0)
        queue.push(.collective(parts, done))
        return CommRequest(semaphore: done, clock: clock)
    }

    /// The thread's loop: one collective at a time, in submission order, each driven to completion
    /// with MPI_Test — tightly at first (small collectives finish in microseconds), then with short
    /// sleeps, so that a rank bound to one core leaves it to the computation.
    private static func serve(_ queue: OperationQueue) {
        while true {
            switch queue.pop() {
            case .finish(let done):
                nm_mpi_finalize()
                done.signal()
                return
            case .collective(let parts, let done):
                for start in parts {
                    var request: UnsafeMutableRawPointer? = nil
                    check(start(&request), "starting a collective")
                    var flag: Int32 = 0, polls = 0
                    while true {
                        check(nm_mpi_test(&request, &flag), "MPI_Test")
                        if flag != 0 { break }
                        polls += 1
                        if polls > 200 { usleep(polls > 2000 ? 200 : 20) }
                    }
                }
                done.signal()
            }
        }
    }

    /// MPI's default error handler aborts the job on an error; this catches a handler that returns.
    private static func check(_ rc: Int32, _ what: String) {
        guard rc != 0 else { return }
        var message = [CChar](repeating: 0, count: 512)
        nm_mpi_error_string(rc, &message, Int32(message.count))
        writeStderr("error: MPI failed while \(what): \(DataParallel.text(message))\n")
        nm_mpi_abort(1)
        exit(1)
    }

    /// The FIFO between the training thread and the communication thread.
    final class OperationQueue: @unchecked Sendable {
        private let lock = Mutex()
        private let available = DispatchSemaphore(value: 0)
        private var items: [Operation] = []
        private var head = 0

        func push(_ op: Operation) {
            lock.withLock { items.append(op) }
            available.signal()
        }

        func pop() -> Operation {
            available.wait()
            return lock.withLock {
                let op = items[head]
                head += 1
                if head > 64, head * 2 > items.count {
                    items.removeFirst(head)
                    head = 0
                }
                return op
            }
        }
    }
}

/// A C string in a buffer, as text.
func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
