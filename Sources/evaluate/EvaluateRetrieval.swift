import CLI
import Foundation
import IO
import Inference

/// `evaluate --task retrieval`: sentence-transformers' InformationRetrievalEvaluator on a BEIR
/// folder, a pairs file or a tokenized pairs file.
extension Evaluate {
    /// The evaluator's corpus chunk size (sentence-transformers' `corpus_chunk_size` default).
    static let corpusChunk = 50000

    func executeRetrieval() throws {
        var functions: [ScoreFunction] = []
        for name in scoreFunctions.split(separator: ",") {
            let f = ScoreFunction(rawValue: name.trimmingCharacters(in: .whitespaces))!
            if !functions.contains(f) { functions.append(f) }
        }
        let search = RetrievalSearch(functions: functions)
        let embedder = try TextEmbedder(directory: model.model, batchSize: batch.batchSize, maxSeqLength: model.maxSeqLength,
                                        bf16: precision.bf16)
        let prompts = try ModelPrompts.load(directory: model.model)
        let path = inputPath
        let progress = ProgressBar("evaluate", unit: "texts")
        var extra: [(String, JSON)] = [("model", .string(model.model)), ("data", .string(path))]
        let metrics: RetrievalMetrics
        if path != "-", FileSystem.isDirectory(path) {
            var beir = BEIRFolder(path: path, split: split)
            beir.keepZeroScores = keepZeroScores
            let loaded = try beir.load()
            extra.append(("split", .string(split)))
            IO.log("\(path): \(loaded.queryIds.count) queries with relevant documents in qrels/\(split), a corpus of \(loaded.corpusIds.count) documents"
                + (loaded.skippedRows > 0 ? "; \(loaded.skippedRows) qrels rows with score 0 or less are not relevant (--keep-zero-scores counts them)" : ""))
            guard !loaded.queryIds.isEmpty else { throw EmbedError("\(path): no query in queries.jsonl has a relevant document in qrels/\(split)") }
            let queries = try embedder.embed(loaded.queryTexts, prompt: prompts.query, normalized: false, progress: progress)
            let reader = try beir.corpusReader()
            metrics = try search.evaluate(queries: queries, dimension: embedder.dimension, judgements: loaded.judgements,
                                          corpusCount: loaded.corpusIds.count, tieRanks: loaded.tieRanks) {
                try reader.next(maxCount: Evaluate.corpusChunk).map {
                    try embedder.embed($0, prompt: prompts.document, normalized: false, progress: progress)
                }
            }
        } else if path.hasSuffix(".safetensors") {
            let table = try TokenizedFile(path: path)
            let cols = columnList ?? Array(table.columns.prefix(2))
            guard cols.count == 2 else { throw EmbedError("\(path): retrieval on pairs needs two columns (the file has \(table.columns.joined(separator: ", ")))") }
            try table.require(columns: cols, source: path)
            let rows = min(maxSamples ?? table.rows, table.rows)
            guard rows > 0 else { throw EmbedError("\(path): no rows") }
            let m = embedder.model
            try table.validate(columns: cols, rows: rows, maxLength: m.encoder.maxPositions, vocabularySize: m.encoder.vocabularySize, source: path)
            metrics = try search.evaluate(table: table, anchor: cols[0], positive: cols[1], rows: rows, model: m,
                                          batchSize: batch.batchSize, progress: progress)
        } else {
            let cols = columnList.map { (anchor: $0[0], positive: $0[1]) }
            let data = try PairsData.read(path: path, columns: cols, limit: maxSamples)
            metrics = try search.evaluate(pairs: data, embedder: embedder, prompts: prompts, chunkSize: Evaluate.corpusChunk, progress: progress)
        }
        progress.finish()
        for f in functions {
            let v = { (name: String) in ProgressBar.decimal(metrics.value("\(f.rawValue)_\(name)") ?? .nan, 4) }
            IO.log("\(f.rawValue): NDCG@10 \(v("ndcg@10")) · MRR@10 \(v("mrr@10")) · MAP@100 \(v("map@100")) · accuracy@1 \(v("accuracy@1")) · recall@10 \(v("recall@10")) (\(metrics.queries) queries, \(metrics.corpus) documents)")
        }
        let w = try ByteWriter(path: output)
        try w.write(metrics.json(extra: extra).serialized(indent: 2) + "\n")
        try w.commit()
        if let csv { try metrics.appendCSV(path: csv, functions: functions, cutoffs: search.cutoffs, epoch: -1, steps: -1) }
    }
}
