import IO

extension Trainer {
    /// Saves a checkpoint of the current step and prunes old ones (keeping the best).
    func saveCheckpoint() throws -> String {
        let t = config.training
        let path = try Checkpoint.save(model: model, optimizer: optimizer, state: state, outputDir: t.outputDir)
        currentWeightsCheckpoint = path
        Checkpoint.prune(outputDir: t.outputDir, limit: t.saveTotalLimit, keep: state.bestCheckpoint)
        return path
    }
}
