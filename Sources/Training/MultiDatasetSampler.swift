/// How each dataset's rows are grouped into batches: sentence-transformers' `batch_sampler`.
package enum BatchSamplerKind: String, Sendable, Equatable, CaseIterable {
    /// NoDuplicatesBatchSampler: no text twice in a batch (no false in-batch negatives).
    case noDuplicates = "no_duplicates"
    /// The plain PyTorch BatchSampler over a RandomSampler.
    case batchSampler = "batch_sampler"
}

/// In what order batches are drawn from several datasets: `multi_dataset_batch_sampler`.
package enum MultiDatasetSamplerKind: String, Sendable, Equatable, CaseIterable {
    /// One batch from each dataset in turn, until the smallest (in batches) runs out.
    case roundRobin = "round_robin"
    /// Every batch of every dataset once per epoch, in a random order of datasets: larger datasets
    /// are drawn from more often.
    case proportional
}

/// One training dataset as the samplers see it.
package struct SamplerDataset {
    package var rows: Int
    /// The hashes of row i's texts (for `no_duplicates`; label columns excluded).
    package var values: (Int) -> [UInt64]

    package init(rows: Int, values: @escaping (Int) -> [UInt64]) {
        self.rows = rows
        self.values = values
    }
}

/// sentence-transformers' multi-dataset batch samplers (RoundRobinBatchSampler,
/// ProportionalBatchSampler) over one child sampler per dataset, reproducing its batch order bit
/// for bit (drop_last false, as its trainer's default). Everything draws from one `TorchGenerator`
/// seeded with seed + epoch, and — as the Python generators do — lazily: a child shuffles at its
/// first batch, a plain child draws one more (unused) permutation when it runs out, and the
/// proportional order is drawn before any child's. Each batch holds rows of one dataset only.
package enum MultiDatasetSampler {
    /// A batch: which dataset, and row indices within it.
    package typealias Batch = (dataset: Int, rows: [Int])

    /// The number of batches an epoch advertises (the sampler's `__len__`), from which the trainer
    /// counts its steps.
    package static func batchesPerEpoch(_ kind: MultiDatasetSamplerKind, rows: [Int], batchSize: Int) -> Int {
        let lengths = rows.map { ($0 + batchSize - 1) / batchSize }
        switch kind {
        case .roundRobin: return (lengths.min() ?? 0) * lengths.count
        case .proportional: return lengths.reduce(0, +)
        }
    }

    /// The batches of one epoch, in order.
    package static func epoch(_ kind: MultiDatasetSamplerKind, child: BatchSamplerKind, datasets: [SamplerDataset],
                              batchSize: Int, seed: UInt64, epoch: Int) -> [Batch] {
        let generator = TorchGenerator()
        generator.manualSeed(seed &+ UInt64(epoch))
        let children: [ChildBatches] = datasets.map { d in
            switch child {
            case .batchSampler: return RandomBatches(rows: d.rows, batchSize: batchSize, generator: generator)
            case .noDuplicates:
                return NoDuplicateBatches(dataset: d, batchSize: batchSize, generator: generator, seed: seed &+ UInt64(epoch))
            }
        }
        var out: [Batch] = []
        switch kind {
        case .roundRobin:
            // zip(*children): a round stops at the first child that has run out, dropping the
            // batches already drawn in that round.
            rounds: while true {
                var round: [Batch] = []
                for (d, c) in children.enumerated() {
                    guard let b = c.next() else { break rounds }
                    round.append((d, b))
                }
                out += round
            }
        case .proportional:
            var slots: [Int] = []
            for (d, ds) in datasets.enumerated() {
                slots += Array(repeating: d, count: (ds.rows + batchSize - 1) / batchSize)
            }
            for p in generator.randperm(slots.count) {
                let d = slots[p]
                if let b = children[d].next() { out.append((d, b)) }
            }
        }
        return out
    }

    /// The single-dataset `batch_sampler` order of sentence-transformers' trainer (accelerate's
    /// SeedableRandomSampler): a permutation from a generator seeded with seed + epoch, in batches.
    package static func randomEpoch(rows: Int, batchSize: Int, seed: UInt64, epoch: Int) -> [[Int]] {
        let order = TorchGenerator(seed: seed &+ UInt64(epoch)).randperm(rows)
        return stride(from: 0, to: rows, by: batchSize).map { Array(order[$0..<min(rows, $0 + batchSize)]) }
    }
}

/// A child sampler, drawn one batch at a time (nil once it has run out).
private protocol ChildBatches: AnyObject {
    func next() -> [Int]?
}

/// torch's BatchSampler(RandomSampler(dataset, generator), drop_last=False): randperm(n) at the
/// first batch; when the rows run out, RandomSampler draws randperm(n)[:0] — n − 1 outputs spent
/// for nothing, which shifts every later draw from the shared generator.
private final class RandomBatches: ChildBatches {
    let rows: Int, batchSize: Int
    let generator: TorchGenerator
    var order: [Int]?
    var position = 0
    var exhausted = false

    init(rows: Int, batchSize: Int, generator: TorchGenerator) {
        self.rows = rows
        self.batchSize = batchSize
        self.generator = generator
    }

    func next() -> [Int]? {
        if exhausted { return nil }
        if order == nil { order = generator.randperm(rows) }
        var batch: [Int] = []
        while batch.count < batchSize {
            guard position < rows else {
                _ = generator.randperm(rows)
                exhausted = true
                break
            }
            batch.append(order![position])
            position += 1
        }
        return batch.isEmpty ? nil : batch
    }
}

/// NoDuplicatesBatchSampler as a child: at its first batch it reseeds the shared generator to
/// seed + epoch and draws its permutation, then walks it greedily (`NoDuplicatesSampler.onePass`).
/// With drop_last false one pass places every row, so it never needs the extra passes.
private final class NoDuplicateBatches: ChildBatches {
    let dataset: SamplerDataset
    let batchSize: Int
    let generator: TorchGenerator
    let seed: UInt64
    var batches: [[Int]]?
    var position = 0

    init(dataset: SamplerDataset, batchSize: Int, generator: TorchGenerator, seed: UInt64) {
        self.dataset = dataset
        self.batchSize = batchSize
        self.generator = generator
        self.seed = seed
    }

    func next() -> [Int]? {
        if batches == nil {
            generator.manualSeed(seed)
            batches = NoDuplicatesSampler.onePass(order: generator.randperm(dataset.rows), batchSize: batchSize,
                                                  dropLast: false, values: dataset.values)
        }
        guard position < batches!.count else { return nil }
        defer { position += 1 }
        return batches![position]
    }
}
