import IO
import Inference

/// The model card (README.md) written into the final model folder.
extension Trainer {
    func modelCard(metrics: TripletMetrics?) -> String {
        let t = config.training, d = config.dataset
        // sentence-transformers' loss tags: loss:MatryoshkaLoss and loss:<inner> for a Matryoshka model.
        var lossTags: [String] = t.matryoshkaDims.isEmpty ? [] : ["MatryoshkaLoss"]
        for s in plan.sets where !lossTags.contains(s.loss.kind.className) { lossTags.append(s.loss.kind.className) }
        let dims = t.matryoshkaDims.sorted(by: >)
        let data = plan.sets.count == 1 && d.isTriplets ? "(anchor, positive, negative) triplets of `\(d.name)`"
            : config.trainDatasets.map { "`\($0.name)`" }.joined(separator: ", ")
        var losses: [String] = []
        for set in plan.sets where !losses.contains(set.loss.description) { losses.append(set.loss.description) }
        var s = """
        ---
        library_name: sentence-transformers
        pipeline_tag: sentence-similarity
        tags:
        - sentence-transformers
        - sentence-similarity
        - feature-extraction
        \(lossTags.map { "- loss:\($0)" }.joined(separator: "\n"))
        base_model: \(config.model.name)
        datasets:
        \(Array(Set(config.trainDatasets.map(\.name))).sorted().map { "- \($0)" }.joined(separator: "\n"))
        language:
        - "no"
        ---

        # \(PipelinePaths.slug(t.outputDir))

        A sentence-embedding model fine-tuned from [\(config.model.name)](https://huggingface.co/\(config.model.name)) on
        \(data) with \(losses.joined(separator: " and ")), by the Swift
        CPU trainer of this project (`train`). It maps text to \(model.dimension)-dimensional vectors
        (\(model.pooling.rawValue) pooling\(model.normalize ? ", normalized" : "")).

        ```python
        from sentence_transformers import SentenceTransformer
        model = SentenceTransformer("\(t.outputDir)")
        embeddings = model.encode(["Hva er hovedstaden i Norge?", "Oslo er Norges hovedstad."])
        ```

        """
        if let small = dims.last {
            s += "\nMatryoshka dimensions: \(dims.map(String.init).joined(separator: ", ")) (trained with MatryoshkaLoss: the vectors cut to\n"
                + "any of these sizes work on their own: `embed --dims \(small)`, or in Python\n"
                + "`SentenceTransformer(path, truncate_dim=\(small))` and `encode(..., normalize_embeddings=True)`).\n"
        }
        s += """

        ## Training

        | setting | value |
        |---|---|
        | base model | `\(config.model.name)` |
        \(zip(config.trainDatasets, plan.sets).map { e, set in
            "| data | `\(e.name)` (`\(e.trainSplit)`, \(set.rows) rows; columns \(set.columns.joined(separator: ", "))\(e.scoreColumn.map { "; score column \($0)" } ?? "")) |\n"
            + "| loss | \(set.loss.description) (scale 20\(set.loss.kind == .cachedMNRL ? ", mini-batches of \(set.loss.miniBatchSize)" : "")) |"
        }.joined(separator: "\n"))
        | batch size | \(t.perDeviceTrainBatchSize) × \(t.gradientAccumulationSteps) accumulation, \(t.batchSampler == .noDuplicates ? "NO_DUPLICATES" : "random") batches\(plan.sets.count > 1 ? ", \(t.multiDatasetSampler.rawValue) over the datasets" : "") |
        | steps | \(state.globalStep) (epochs: \(ProgressBar.decimal(state.epoch, 2))) |
        | learning rate | \(t.learningRate), \(t.lrScheduler.rawValue) schedule, warmup ratio \(t.warmupRatio) |
        | optimizer | AdamW (β 0.9/0.999, ε 1e-8), weight decay \(t.weightDecay), max grad norm \(t.maxGradNorm) |
        | max sequence length | \(model.maxSeqLength) |
        | seed | \(t.seed) |

        """
        if let m = metrics {
            s += """

            ## Evaluation

            Triplet accuracy on `\(d.evalSplit)` (\(m.count) triplets\(state.bestCheckpoint != nil && t.loadBestModelAtEnd ? ", best checkpoint" : "")):

            | metric | value |
            |---|---|
            | cosine accuracy | \(ProgressBar.decimal(m.cosine * 100, 2))% |
            | dot accuracy | \(ProgressBar.decimal(m.dot * 100, 2))% |
            | euclidean accuracy | \(ProgressBar.decimal(m.euclidean * 100, 2))% |
            | manhattan accuracy | \(ProgressBar.decimal(m.manhattan * 100, 2))% |

            """
            if !lastEvalByDimension.isEmpty {
                s += "\n| dimensions | cosine accuracy |\n|---|---|\n"
                for (dims, m) in lastEvalByDimension { s += "| \(dims) | \(ProgressBar.decimal(m.cosine * 100, 2))% |\n" }
            }
        }
        return s
    }
}
