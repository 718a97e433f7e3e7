import IO
import Inference
import NN
import TestSupport
import Testing
import Training

@Suite struct NoDuplicatesSamplerTests {
    /// Rows share texts (value v appears in rows v, v+1, v+2 …); no batch may hold a value twice,
    /// every row appears once, and the shuffle is a function of seed + epoch.
    @Test func noBatchHoldsATextTwice() {
        let rows = 103
        let values: (Int) -> [UInt64] = { [UInt64($0 % 17), 1000 + UInt64($0 % 29), 5000 + UInt64($0)] }
        let batches = NoDuplicatesSampler.epoch(rows: rows, batchSize: 8, seed: 42, epoch: 0, values: values)
        // ⌈103 / 8⌉ = 13 batches at least; skipped rows can add short batches at the end of the pass.
        #expect(batches.count >= 13)
        // Batches are full until the first walk reaches the end of the rows.
        let firstShort = batches.firstIndex { $0.count < 8 } ?? batches.count
        #expect(firstShort >= 12)
        for b in batches {
            let all = b.flatMap(values)
            #expect(Set(all).count == all.count, "duplicate text in \(b)")
        }
        #expect(batches.flatMap { $0 }.sorted() == Array(0..<rows))
        #expect(NoDuplicatesSampler.epoch(rows: rows, batchSize: 8, seed: 42, epoch: 0, values: values) == batches)
        #expect(NoDuplicatesSampler.epoch(rows: rows, batchSize: 8, seed: 42, epoch: 1, values: values) != batches)
    }

    /// With too few distinct texts a pass (dropping short batches) yields fewer full batches than
    /// expected; the rows are reshuffled and sampled again up to the expected count.
    @Test func makesUpTheExpectedBatchCount() {
        // Rows 0–7 share one text; rows 8–11 are distinct. A pass fills one batch of 4 at most.
        let values: (Int) -> [UInt64] = { [$0 < 8 ? 0 : UInt64($0)] }
        let batches = NoDuplicatesSampler.epoch(rows: 12, batchSize: 4, seed: 1, epoch: 0, dropLast: true, values: values)
        #expect(batches.count == 3)
        for b in batches {
            #expect(b.count == 4)
            #expect(Set(b.flatMap(values)).count == 4)
        }
    }

    @Test func hashSeesEveryToken() {
        let a: [Int32] = [101, 7, 102], b: [Int32] = [101, 8, 102]
        let ha = a.withUnsafeBufferPointer(NoDuplicatesSampler.hash), hb = b.withUnsafeBufferPointer(NoDuplicatesSampler.hash)
        #expect(ha != hb)
        #expect(ha == a.withUnsafeBufferPointer(NoDuplicatesSampler.hash))
    }
}
