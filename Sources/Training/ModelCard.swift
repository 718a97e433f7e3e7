import IO
import Inference

/// The model card (README.md) written into the final model folder.
extension Trainer {
    func modelCard(metrics: TripletMetrics?) -> String {
        let t = config.training, d = config.dataset
        // Pushed to the hub under a full id, the card tells readers to load it from there.
        let loadName = t.pushToHub && t.hubRepositoryID.contains("/") ? t.hubRepositoryID : t.outputDir
        var s = """
        ---
        library_name: sentence-transformers
        pipeline_tag: sentence-similarity
        tags:
        - sentence-transformers
        - sentence-similarity
        - feature-extraction
        - loss:MultipleNegativesRankingLoss
        base_model: \(config.model.name)
        datasets:
        - \(d.name)
        language:
        - "no"
        ---

        # \(PipelinePaths.slug(t.outputDir))

        A sentence-embedding model fine-tuned from [\(config.model.name)](https://huggingface.co/\(config.model.name)) on
        (anchor, positive, negative) triplets of `\(d.name)` with MultipleNegativesRankingLoss, by the Swift
        CPU trainer of this project (`train`). It maps text to \(model.dimension)-dimensional vectors
        (\(model.pooling.rawValue) pooling\(model.normalize ? ", normalized" : "")).

        ```python
        from sentence_transformers import SentenceTransformer
        model = SentenceTransformer("\(loadName)")
        embeddings = model.encode(["Hva er hovedstaden i Norge?", "Oslo er Norges hovedstad."])
        ```

        ## Training

        | setting | value |
        |---|---|
        | base model | `\(config.model.name)` |
        | data | `\(d.name)` (`\(d.trainSplit)`, \(rows) triplets; columns \(columns.joined(separator: ", "))) |
        | loss | MultipleNegativesRankingLoss (scale 20, cosine similarity) |
        | batch size | \(t.perDeviceTrainBatchSize) × \(t.gradientAccumulationSteps) accumulation, NO_DUPLICATES batches |
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
        }
        return s
    }
}
