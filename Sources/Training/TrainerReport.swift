import IO
import Inference
import NN

/// What a run leaves for people to look at: training_curves.svg (redrawn after every evaluation,
/// atomically, so it can be watched during a run) and, at the end, the model card.
extension Trainer {
    /// Rank 0 alone writes (data-parallel, every rank holds the same state).
    func writeCurves() throws {
        guard communicator.rank == 0 else { return }
        let history = try TrainingHistory(trainerState: state.json)
        try FileSystem.writeText(TrainingCurves.svg(history), to: config.training.outputDir + "/" + ModelCard.curvesFileName)
    }

    func writeModelCard() throws {
        guard communicator.rank == 0 else { return }
        let t = config.training
        let evalRows = inputs.eval.map { min(config.dataset.maxEvalSamples ?? $0.rows, $0.rows) } ?? 0
        let card = try ModelCard.gather(ModelCard.Inputs(
            config: config, model: model, tokenizerDirectory: t.outputDir, trainerState: state.json, train: inputs.train,
            trainRows: plan.sets[0].rows, trainText: inputs.trainText, eval: inputs.eval, evalRows: evalRows, evalText: inputs.evalText,
            outputDirectory: t.outputDir))
        try FileSystem.writeText(card.markdown, to: t.outputDir + "/README.md")
    }

    /// transformers' closing log entry: how long this process trained and evaluated.
    func recordRunSummary(seconds: Double, resumedFrom startStep: Int) {
        var o = JSONObject([("step", .number(Double(state.globalStep))), ("epoch", .number(state.epoch)),
                            ("train_runtime", .number((seconds * 1000).rounded() / 1000)),
                            ("evaluation_runtime", .number((evaluationSeconds * 1000).rounded() / 1000))])
        if startStep > 0 { o["resumed_from_step"] = .number(Double(startStep)) }
        state.logHistory.append(.object(o))
    }
}

extension ModelCard {
    /// Rewrites README.md and training_curves.svg in a finished run's output folder from the files
    /// it holds (the model, trainer_state.json, eval/*.json) and the splits: `train --model-card`,
    /// which `make evaluate` runs to add the test results. Returns the card's path.
    package static func refresh(config: TrainingConfig, trainTokens: String, evalTokens: String?) throws -> String {
        let out = config.training.outputDir
        let statePath = out + "/" + Checkpoint.stateFile
        guard FileSystem.isFile(statePath), FileSystem.isFile(out + "/model.safetensors") else {
            throw EmbedError("\(out): no trained model here (model.safetensors and \(Checkpoint.stateFile) are written at the end of train)")
        }
        let state = try FileSystem.readJSON(statePath)
        let model = try SentenceModel.load(directory: out)
        let train = try TokenizedFile(path: trainTokens)
        let eval = try evalTokens.flatMap { FileSystem.isFile($0) ? try TokenizedFile(path: $0) : nil }
        // train_rows counts every dataset of a `datasets:` list; the card describes the first.
        let trainRows = (config.datasets == nil ? state["train_rows"]?.int : nil) ?? min(config.dataset.maxTrainSamples ?? train.rows, train.rows)
        let evalRows = eval.map { min(config.dataset.maxEvalSamples ?? $0.rows, $0.rows) } ?? 0
        try FileSystem.writeText(TrainingCurves.svg(try TrainingHistory(trainerState: state, source: statePath)),
                                 to: out + "/" + curvesFileName)
        let card = try gather(Inputs(config: config, model: model, tokenizerDirectory: out, trainerState: state, train: train,
                                     trainRows: trainRows, trainText: train.textSource, eval: eval, evalRows: evalRows,
                                     evalText: eval?.textSource,
                                     outputDirectory: out))
        try FileSystem.writeText(card.markdown, to: out + "/README.md")
        return out + "/README.md"
    }
}

extension TokenizedFile {
    /// The JSON Lines file this was tokenized from (its `source`), when it is still there.
    package var textSource: String? {
        guard let s = metadata["source"], s != "-", FileSystem.isFile(s) else { return nil }
        return s
    }
}
