import DataParallel
import IO
import NN

extension Trainer {
    /// Saves a checkpoint of the current step and prunes old ones (keeping the best). Rank 0 writes
    /// it, once it has checked that every rank holds the same weights.
    func saveCheckpoint() throws -> String {
        let t = config.training
        if communicator.size > 1 { try checkRanksAgree() }
        let path = try communicator.fromRoot { () throws -> String in
            let path = try Checkpoint.save(model: self.model, optimizer: self.optimizer, state: self.state, outputDir: t.outputDir)
            Checkpoint.prune(outputDir: t.outputDir, limit: t.saveTotalLimit, keep: self.state.bestCheckpoint)
            return path
        }
        currentWeightsCheckpoint = path
        return path
    }

    /// The ranks take identical steps, so they must hold identical weights; a cheap fingerprint
    /// (the weights' sum, computed in a fixed order) catches a rank that went its own way.
    func checkRanksAgree() throws {
        let p = model.encoder.parameters
        var sum = 0.0
        for i in 0..<p.count { sum += Double(p.values[i]) }
        let low = communicator.allReduce([sum], .min)[0], high = communicator.allReduce([sum], .max)[0]
        guard low == high else {
            throw EmbedError("the ranks' weights differ at step \(state.globalStep) (fingerprints \(low) … \(high)): the ranks did not take the same steps")
        }
    }
}

extension Communicator {
    /// `fromRoot` for a trainer state (sent as its JSON).
    func fromRoot(_ body: () throws -> TrainerState) throws -> TrainerState {
        if size == 1 { return try body() }
        let bytes = try fromRoot { () throws -> [UInt8] in Array(try body().json.serialized().utf8) }
        return try TrainerState(json: try JSON.parse(bytes), path: "the trainer state from rank 0")
    }
}
