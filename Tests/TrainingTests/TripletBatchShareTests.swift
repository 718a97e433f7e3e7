import IO
import NN
import TestSupport
import Testing
import Training

/// How a global micro-batch is dealt to data-parallel ranks.
@Suite struct TripletBatchShareTests {
    @Test func sharesAreContiguousAndCoverTheBatch() {
        // A full batch of N·b rows: rank r gets rows r·b ..< (r+1)·b.
        for r in 0..<4 { #expect(TripletBatch.share(of: 32, rank: r, ranks: 4) == (8 * r)..<(8 * r + 8)) }
        // Short batches: contiguous, as even as possible, possibly empty.
        for (rows, ranks) in [(13, 2), (2, 3), (0, 2), (7, 7), (5, 8)] {
            let shares = (0..<ranks).map { TripletBatch.share(of: rows, rank: $0, ranks: ranks) }
            #expect(shares.first?.lowerBound == 0 && shares.last?.upperBound == rows)
            for k in 1..<ranks { #expect(shares[k].lowerBound == shares[k - 1].upperBound) }
            #expect(shares.map(\.count).max()! - shares.map(\.count).min()! <= 1)
        }
        #expect(TripletBatch.share(of: 2, rank: 0, ranks: 3).isEmpty)
    }

    /// A rank's share packs its rows column by column and keys each sequence for dropout by its
    /// place in the single-process packing of the whole batch (column · rows + row).
    @Test func aShareKeepsTheGlobalSequenceIDs() {
        let table = TinyModel.triplets(rows: 10, seed: 1)
        let rows = [9, 3, 5, 0, 7]
        let names = table.columns
        let b = TripletBatch.share(rows, rank: 1, ranks: 2, columns: 3) { c, r in table.ids(column: names[c], row: r) }
        #expect(b.size == 3 && b.firstRow == 2 && b.globalSize == 5 && b.columns == 3)
        #expect(b.packed.sequenceIDs == [2, 3, 4, 7, 8, 9, 12, 13, 14])
        #expect(Array(b.packed.tokens[b.packed.offsets[3]..<b.packed.offsets[4]]) == Array(table.ids(column: names[1], row: 5)))
        // One process: the whole batch, keyed by its own positions (no explicit ids needed).
        let all = TripletBatch.share(rows, rank: 0, ranks: 1, columns: 3) { c, r in table.ids(column: names[c], row: r) }
        #expect(all.size == 5 && all.firstRow == 0 && all.packed.sequenceIDs == nil && all.packed.count == 15)
    }
}
