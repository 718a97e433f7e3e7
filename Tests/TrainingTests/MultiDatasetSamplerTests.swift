import Foundation
import IO
import TestSupport
import Testing
import Training

/// The batch orders of sentence-transformers' trainer, reproduced exactly: torch's generator and
/// randperm, the round-robin and proportional multi-dataset samplers over NO_DUPLICATES or plain
/// batch-sampler children, and the single-dataset order. The expected orders were taken from a real
/// SentenceTransformerTrainer's DataLoader by tools/make_loss_reference.py.
@Suite struct MultiDatasetSamplerTests {
    static let fixture = TestPaths.fixtures + "/losses/loss-reference-bert-tiny.safetensors"

    /// MT19937 and randperm against values printed by torch 2.15.
    @Test func torchGeneratorMatchesTorch() {
        let g = TorchGenerator(seed: 42)
        #expect((0..<5).map { _ in g.nextUInt32() } == [1_608_637_542, 3_421_126_067, 4_083_286_876, 787_846_414, 3_143_890_026])
        #expect(TorchGenerator(seed: 42).randperm(10) == [2, 6, 1, 8, 4, 5, 0, 9, 3, 7])
        #expect(TorchGenerator(seed: 43).randperm(10) == [8, 4, 9, 0, 5, 1, 6, 7, 2, 3])
        // One generator continues its stream (n − 1 draws per randperm); manualSeed restarts it.
        let h = TorchGenerator(seed: 42)
        #expect(h.randperm(5) == [2, 4, 3, 0, 1])
        #expect(h.randperm(5) == [1, 4, 3, 2, 0])
        h.manualSeed(42)
        #expect(h.randperm(5) == [2, 4, 3, 0, 1])
        #expect(h.randperm(0) == [] && h.randperm(1) == [0])
    }

    /// A stable hash of a text (the sampler compares texts by hash).
    static func hash(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }

    /// The fixture's two datasets ("big", 50 rows; "small", 23 rows with planted duplicate texts),
    /// batch 4, seed 42, epochs 0–2, every combination of multi-dataset and child sampler.
    @Test(arguments: [MultiDatasetSamplerKind.proportional, .roundRobin], [BatchSamplerKind.batchSampler, .noDuplicates])
    func ordersMatchSentenceTransformers(_ kind: MultiDatasetSamplerKind, _ child: BatchSamplerKind) throws {
        let ref = try SafetensorsFile(path: Self.fixture)
        let tables = try ["texts_sampler_big", "texts_sampler_small"].map { key -> [[UInt64]] in
            let rows = try JSON.parse(ref.metadata[key]!).array!
            return rows.map { r in ["anchor", "positive", "negative"].map { Self.hash(r[$0]!.string!) } }
        }
        #expect(tables.map(\.count) == [50, 23])
        let datasets = tables.map { t in SamplerDataset(rows: t.count) { t[$0] } }
        let offsets = [0, 50]
        for epoch in 0..<3 {
            let key = "sampler.\(kind.rawValue).\(child.rawValue).e\(epoch)"
            let got = MultiDatasetSampler.epoch(kind, child: child, datasets: datasets, batchSize: 4, seed: 42, epoch: epoch)
            let flat = got.flatMap { b in b.rows.map { $0 + offsets[b.dataset] } }
            #expect(flat == (try ref.ints(key + ".indices")), "\(key): batch rows differ")
            var bounds = [0]
            for b in got { bounds.append(bounds.last! + b.rows.count) }
            #expect(bounds == (try ref.ints(key + ".offsets")), "\(key): batch sizes differ")
            #expect(got.map(\.dataset) == (try ref.ints(key + ".dataset")), "\(key): dataset order differs")
            #expect(got.count == (kind == .roundRobin ? 12 : 19))
            #expect(MultiDatasetSampler.batchesPerEpoch(kind, rows: [50, 23], batchSize: 4) == got.count)
            if child == .noDuplicates {
                // No two rows of a batch share a text (a row may repeat its own: nb → nn translations
                // are often identical).
                for b in got {
                    let sets = b.rows.map { Set(tables[b.dataset][$0]) }
                    for i in sets.indices {
                        for j in sets.indices where j > i {
                            #expect(sets[i].isDisjoint(with: sets[j]), "\(key): rows \(b.rows[i]) and \(b.rows[j]) share a text")
                        }
                    }
                }
            }
        }
    }

    /// Plain children sharing one generator on awkward sizes, where a dataset runs out before
    /// another starts and its unused tail permutation shifts the others' (80 real orders).
    @Test func edgeCasesMatchSentenceTransformers() throws {
        let ref = try SafetensorsFile(path: Self.fixture)
        let cases = try JSON.parse(ref.metadata["sampler_edge_cases"]!).array!
        #expect(cases.count == 80)
        var mismatches: [String] = []
        for c in cases {
            let sizes = c["sizes"]!.array!.map { $0.int! }
            let kind = MultiDatasetSamplerKind(rawValue: c["kind"]!.string!)!
            let seed = UInt64(c["seed"]!.int!), epoch = c["epoch"]!.int!
            var offsets = [0]
            for s in sizes { offsets.append(offsets.last! + s) }
            let got = MultiDatasetSampler.epoch(kind, child: .batchSampler, datasets: sizes.map { SamplerDataset(rows: $0) { _ in [] } },
                                                batchSize: 4, seed: seed, epoch: epoch)
                .map { b in b.rows.map { $0 + offsets[b.dataset] } }
            let want = c["batches"]!.array!.map { $0.array!.map { $0.int! } }
            if got != want { mismatches.append("\(kind.rawValue) sizes \(sizes) seed \(seed) epoch \(epoch)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) orders differ: \(mismatches.prefix(5))")
    }

    /// One dataset with the default batch sampler: torch's randperm from seed + epoch, in batches.
    @Test func singleDatasetOrderMatchesSentenceTransformers() throws {
        let ref = try SafetensorsFile(path: Self.fixture)
        for epoch in 0..<3 {
            let got = MultiDatasetSampler.randomEpoch(rows: 50, batchSize: 4, seed: 42, epoch: epoch)
            #expect(got.flatMap { $0 } == (try ref.ints("sampler.single.batch_sampler.e\(epoch).indices")))
            #expect(got.map(\.count) == Array(repeating: 4, count: 12) + [2])
        }
    }
}
