import IO
import NN

/// One training dataset as the trainer uses it: its tokens, the rows it trains on, its columns,
/// gold scores and loss, and the text hashes the NO_DUPLICATES sampler compares.
struct TrainingSet {
    let table: any TokenTable
    let source: String
    let rows: Int
    let columns: [String]
    /// One gold score per row (CoSENT), else nil.
    let scores: [Float]?
    let loss: TrainingLoss
    /// rows × columns hashes of the texts.
    let hashes: [UInt64]

    /// Checks the tokens against the dataset's config and the model; `rows` is the dataset's
    /// `max_train_samples` (or all rows).
    init(_ d: TrainingConfig.Dataset, table: any TokenTable, source: String, loss: TrainingLoss, model: SentenceModel) throws {
        self.table = table
        self.source = source
        self.loss = loss
        columns = d.columns
        try table.require(columns: columns, source: source)
        rows = min(d.maxTrainSamples ?? table.rows, table.rows)
        guard rows > 0 else { throw EmbedError("\(source): no training rows") }
        // Tokens longer than max_seq_length mean the tokens file was made for another length.
        try table.validate(columns: columns, rows: rows, maxLength: model.maxSeqLength,
                           vocabularySize: model.encoder.vocabularySize, source: source)
        if let name = d.scoreColumn {
            guard let all = table.scores(column: name) else {
                throw EmbedError("\(source): no score column '\(name)' (tokenize it with --score-column \(name))")
            }
            scores = Array(all.prefix(rows))
        } else {
            scores = nil
        }
        if let why = loss.check(columns: columns.count, hasScores: scores != nil) { throw EmbedError("\(source): \(why)") }
        var h = [UInt64](repeating: 0, count: rows * columns.count)
        for r in 0..<rows {
            for (c, name) in columns.enumerated() { h[r * columns.count + c] = NoDuplicatesSampler.hash(table.ids(column: name, row: r)) }
        }
        hashes = h
    }

    /// The hashes of row r's texts.
    func values(_ r: Int) -> [UInt64] { Array(hashes[(r * columns.count)..<((r + 1) * columns.count)]) }

    /// The packed batch of some rows: column after column, with their scores and the loss.
    func batch(_ rowIndices: [Int]) -> TripletBatch {
        var packed = PackedBatch()
        for c in columns {
            for r in rowIndices { packed.append(table.ids(column: c, row: r)) }
        }
        return TripletBatch(packed: packed, size: rowIndices.count, columns: columns.count,
                            labels: scores.map { s in rowIndices.map { s[$0] } }, loss: loss)
    }
}

/// The batches of one epoch — (dataset, rows) each — and how many the epoch advertises.
struct EpochPlan {
    let sets: [TrainingSet]
    let batchSize: Int
    let seed: UInt64
    /// nil: one dataset from the `dataset:` section, batched as this trainer always has.
    let multi: MultiDatasetSamplerKind?
    let sampler: BatchSamplerKind

    var batchesPerEpoch: Int {
        if let multi { return MultiDatasetSampler.batchesPerEpoch(multi, rows: sets.map(\.rows), batchSize: batchSize) }
        return (sets[0].rows + batchSize - 1) / batchSize
    }

    /// At most `batchesPerEpoch` batches (a no-duplicates pass may yield a few short extra ones; as
    /// transformers' trainer, an epoch is the advertised length).
    func batches(epoch: Int) -> [MultiDatasetSampler.Batch] {
        var out: [MultiDatasetSampler.Batch]
        if let multi {
            let datasets = sets.map { s in SamplerDataset(rows: s.rows) { s.values($0) } }
            out = MultiDatasetSampler.epoch(multi, child: sampler, datasets: datasets, batchSize: batchSize, seed: seed, epoch: epoch)
        } else {
            let s = sets[0]
            let rows = sampler == .noDuplicates
                // The NO_DUPLICATES order of the single-dataset trainer since its first version
                // (a SplitMix64 shuffle); `datasets:` lists use torch's generator.
                ? NoDuplicatesSampler.epoch(rows: s.rows, batchSize: batchSize, seed: seed, epoch: epoch) { s.values($0) }
                : MultiDatasetSampler.randomEpoch(rows: s.rows, batchSize: batchSize, seed: seed, epoch: epoch)
            out = rows.map { (0, $0) }
        }
        if out.count > batchesPerEpoch { out.removeLast(out.count - batchesPerEpoch) }
        return out
    }
}
