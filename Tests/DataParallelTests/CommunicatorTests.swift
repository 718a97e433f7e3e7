import DataParallel
import Foundation
import IO
import TestSupport
import Testing

/// The collectives, on one process and as the ranks of a real Open MPI job.
@Suite struct CommunicatorTests {
    @Test func singleProcessIsTheIdentity() throws {
        let c = SingleProcess()
        #expect(c.rank == 0 && c.size == 1)
        var x: [Float] = [1, 2, 3]
        x.withUnsafeMutableBufferPointer { c.startAllReduce($0.baseAddress!, count: 3).wait() }
        #expect(x == [1, 2, 3])
        var y = [Float](repeating: 0, count: 3)
        x.withUnsafeBufferPointer { s in y.withUnsafeMutableBufferPointer { c.startAllGather(s.baseAddress!, into: $0.baseAddress!, counts: [3]).wait() } }
        #expect(y == x)
        #expect(c.allReduce([2, 5], .max) == [2, 5])
        #expect(try c.fromRoot { () throws -> String in "ok" } == "ok")
        #expect(throws: EmbedError.self) { try c.onRoot { throw EmbedError("no") } }
    }

    /// Without a launcher MPI is never loaded; srun without a PMI plugin is refused, naming the fix.
    @Test func launchDetection() throws {
        #expect(try Launch.communicator(environment: [:]) is SingleProcess)
        #expect(try Launch.communicator(environment: ["SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "1"]) is SingleProcess)
        do {
            _ = try Launch.communicator(environment: ["SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "4"])
            Issue.record("srun without PMI was accepted")
        } catch let e as EmbedError {
            #expect(e.message.contains("srun started 4 tasks") && e.message.contains("--mpi=pmix"), "\(e.message)")
        }
    }

    /// Three ranks (not a power of two) of a real mpirun job run `collectivesAsRank`.
    @Test(.enabled(if: MPIRun.available, "needs mpirun (Debian: openmpi-bin)"))
    func collectivesUnderMpirun() throws {
        let dir = TestPaths.scratch()
        let r = try MPIRun.runChildTest("collectivesAsRank", np: 3, directory: dir)
        #expect(r.status == 0, "mpirun exited \(r.status)\n\(r.stdout.suffix(3000))\n\(r.stderr.suffix(2000))")
        // Every rank ran the child test (and it did not skip).
        for rank in 0..<3 {
            #expect(FileManager.default.fileExists(atPath: "\(dir)/rank-\(rank)"), "rank \(rank) did not report")
        }
    }

    @Test(.enabled(if: ChildTest.isChild("collectivesAsRank"), "runs only as a rank of collectivesUnderMpirun"))
    func collectivesAsRank() throws {
        let dir = try #require(ChildTest.directory("collectivesAsRank"))
        let c = try Launch.communicator()
        let rank = c.rank, size = c.size
        #expect(size == 3 && c is MPICommunicator)

        // All-reduce in place, started asynchronously, two at once.
        var a = (0..<1000).map { Float($0 * (rank + 1)) }, b: [Float] = [Float(rank), 1]
        a.withUnsafeMutableBufferPointer { pa in
            b.withUnsafeMutableBufferPointer { pb in
                let r1 = c.startAllReduce(pa.baseAddress!, count: 1000), r2 = c.startAllReduce(pb.baseAddress!, count: 2)
                r2.wait(); r1.wait()
            }
        }
        #expect(a == (0..<1000).map { Float($0 * 6) })
        #expect(b == [3, 3])

        // Gather of uneven blocks (rank r sends r + 1 floats; rank 0's is not the largest), then the
        // reduce-scatter back: every rank sends the same gathered vector, so each gets its block × 3.
        let counts = [1, 2, 3]
        let mine = (0..<counts[rank]).map { Float(100 * rank + $0) }
        var all = [Float](repeating: -1, count: 6)
        mine.withUnsafeBufferPointer { m in all.withUnsafeMutableBufferPointer { c.startAllGather(m.baseAddress!, into: $0.baseAddress!, counts: counts).wait() } }
        #expect(all == [0, 100, 101, 200, 201, 202])
        var back = [Float](repeating: 0, count: counts[rank])
        all.withUnsafeBufferPointer { s in back.withUnsafeMutableBufferPointer { c.startReduceScatter(s.baseAddress!, into: $0.baseAddress!, counts: counts).wait() } }
        #expect(back == mine.map { $0 * 3 })

        // Small reductions, broadcast, and rank 0's errors reaching every rank.
        #expect(c.allReduce([Double(rank), 1], .max) == [2, 1])
        #expect(c.allReduce([Double(rank)], .min) == [0])
        #expect(c.broadcast(Array("from rank \(rank)".utf8)) == Array("from rank 0".utf8))
        #expect(try c.fromRoot { () throws -> String in "path-\(rank)" } == "path-0")
        do {
            try c.onRoot { throw EmbedError("disk full") }
            Issue.record("no error")
        } catch let e as EmbedError {
            #expect(rank == 0 && e.message == "disk full")
        } catch let e as RankZeroFailed {
            #expect(rank > 0 && e.message == "disk full")
        }
        #expect(c.waitSeconds >= 0)
        FileManager.default.createFile(atPath: "\(dir)/rank-\(rank)", contents: nil)
        c.finish()
    }
}
