import Foundation
import IO
import Inference
import NN

/// What a checkpoint holds besides the model: the optimizer's moments and the trainer's position.
/// Everything random in training is a function of (seed, epoch) for the data order and of
/// (seed, step, micro-batch) for dropout, so the step number is the whole RNG state; it is written
/// out anyway (`rng`) so a checkpoint documents itself.
package struct TrainerState: Sendable, Equatable {
    package var globalStep: Int
    package var maxSteps: Int
    package var epoch: Double
    package var bestMetric: Double?
    package var bestCheckpoint: String?
    /// Loss sum and step count since the last log line, so a resumed run logs the same numbers.
    package var pendingLossSum: Double
    package var pendingLossSteps: Int
    /// Every log line so far, as in transformers' trainer_state.json.
    package var logHistory: [JSON]
    package var seed: UInt64
    package var trainRows: Int
    /// Triplets per micro-batch over all data-parallel ranks (ranks × per-device batch); a resumed
    /// run needs the same, whatever its number of ranks. Nil in checkpoints that predate it.
    package var globalBatchSize: Int?

    package init(globalStep: Int = 0, maxSteps: Int, epoch: Double = 0, bestMetric: Double? = nil, bestCheckpoint: String? = nil,
                pendingLossSum: Double = 0, pendingLossSteps: Int = 0, logHistory: [JSON] = [], seed: UInt64, trainRows: Int,
                globalBatchSize: Int? = nil) {
        self.globalStep = globalStep
        self.maxSteps = maxSteps
        self.epoch = epoch
        self.bestMetric = bestMetric
        self.bestCheckpoint = bestCheckpoint
        self.pendingLossSum = pendingLossSum
        self.pendingLossSteps = pendingLossSteps
        self.logHistory = logHistory
        self.seed = seed
        self.trainRows = trainRows
        self.globalBatchSize = globalBatchSize
    }

    package var json: JSON {
        .object(JSONObject([
            ("global_step", .number(Double(globalStep))),
            ("max_steps", .number(Double(maxSteps))),
            ("epoch", .number(epoch)),
            ("best_metric", bestMetric.map { .number($0) } ?? .null),
            ("best_model_checkpoint", bestCheckpoint.map { .string($0) } ?? .null),
            ("pending_loss_sum", .number(pendingLossSum)),
            ("pending_loss_steps", .number(Double(pendingLossSteps))),
            ("train_rows", .number(Double(trainRows))),
            ("global_batch_size", globalBatchSize.map { .number(Double($0)) } ?? .null),
            ("rng", .object(JSONObject([
                ("seed", .string(String(seed))),
                ("data_order", "NO_DUPLICATES shuffle seeded with seed + epoch"),
                ("dropout", "counter-based stream of (seed, step, micro-batch, layer, site, sequence in the batch)"),
            ]))),
            ("log_history", .array(logHistory)),
        ]))
    }

    package init(json: JSON, path: String) throws {
        func int(_ k: String) throws -> Int {
            guard let v = json[k]?.int else { throw EmbedError("\(path): missing or invalid '\(k)'") }
            return v
        }
        guard let seedText = json["rng"]?["seed"]?.string, let seed = UInt64(seedText) else {
            throw EmbedError("\(path): missing or invalid 'rng.seed'")
        }
        self.init(globalStep: try int("global_step"), maxSteps: try int("max_steps"), epoch: json["epoch"]?.double ?? 0,
                  bestMetric: json["best_metric"]?.double, bestCheckpoint: json["best_model_checkpoint"]?.string,
                  pendingLossSum: json["pending_loss_sum"]?.double ?? 0, pendingLossSteps: json["pending_loss_steps"]?.int ?? 0,
                  logHistory: json["log_history"]?.array ?? [], seed: seed, trainRows: try int("train_rows"),
                  globalBatchSize: json["global_batch_size"]?.int)
    }
}

package enum Checkpoint {
    package static let stateFile = "trainer_state.json"
    package static let optimizerFile = "optimizer.safetensors"

    /// `checkpoint-<step>` directories in `outputDir`, oldest first.
    package static func list(in outputDir: String) -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outputDir)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)) else { return nil }
            let path = outputDir + "/" + name
            guard FileManager.default.fileExists(atPath: path + "/" + stateFile) else { return nil }
            return (step, path)
        }.sorted { $0.0 < $1.0 }
    }

    /// Writes the model, optimizer and trainer state to `<outputDir>/checkpoint-<step>` atomically,
    /// so that a kill at any moment leaves either no such checkpoint or a whole one: everything goes
    /// to a temporary directory, which is fsynced and renamed into place. A checkpoint of the same
    /// step being replaced is first renamed aside (rename is atomic; deleting a tree is not).
    package static func save(model: SentenceModel, optimizer: AdamW, state: TrainerState, outputDir: String) throws -> String {
        let fm = FileManager.default
        let name = "checkpoint-\(state.globalStep)"
        let final = "\(outputDir)/\(name)"
        let temp = "\(outputDir)/.tmp-\(getpid())-\(name)"
        let trash = "\(outputDir)/.trash-\(getpid())-\(name)"
        // What earlier runs killed mid-save left behind.
        FileSystem.removeStaleTemporaries(in: outputDir, prefix: ".tmp-")
        FileSystem.removeStaleTemporaries(in: outputDir, prefix: ".trash-")
        FileSystem.removeTree(temp)
        do {
            try fm.createDirectory(atPath: temp, withIntermediateDirectories: true)
        } catch {
            throw EmbedError("\(outputDir): cannot create a checkpoint directory: \(error.localizedDescription)")
        }
        do {
            try model.save(to: temp)
            let w = SafetensorsWriter()
            w.metadata["adam_step"] = String(optimizer.step)
            w.metadata["parameters"] = String(optimizer.count)
            w.add("exp_avg", shape: [optimizer.count], floats: UnsafeBufferPointer(start: optimizer.m, count: optimizer.count))
            w.add("exp_avg_sq", shape: [optimizer.count], floats: UnsafeBufferPointer(start: optimizer.v, count: optimizer.count))
            try w.write(to: temp + "/" + optimizerFile)
            try FileSystem.writeText(state.json.serialized(indent: 2), to: temp + "/" + stateFile)
            try FileSystem.syncTree(temp)
            if FileSystem.exists(final) { try FileSystem.rename(final, trash) }
            try FileSystem.rename(temp, final)
            FileSystem.syncDirectory(outputDir)
            FileSystem.removeTree(trash)
        } catch {
            FileSystem.removeTree(temp)
            if let e = error as? EmbedError { throw e }
            throw EmbedError("\(final): cannot write the checkpoint: \(error.localizedDescription)")
        }
        return final
    }

    /// Reads a checkpoint's trainer state and optimizer moments (the model loads as a model folder).
    package static func loadState(_ path: String, optimizer: AdamW) throws -> TrainerState {
        let statePath = path + "/" + stateFile
        guard FileManager.default.fileExists(atPath: statePath) else {
            throw EmbedError("\(path): not a checkpoint (no \(stateFile))")
        }
        let state = try TrainerState(json: try FileSystem.readJSON(statePath), path: statePath)
        let opt = try SafetensorsFile(path: path + "/" + optimizerFile)
        guard let stepText = opt.metadata["adam_step"], let step = Int(stepText),
              try opt.info("exp_avg").count == optimizer.count, try opt.info("exp_avg_sq").count == optimizer.count else {
            throw EmbedError("\(path)/\(optimizerFile): optimizer state does not match this model's \(optimizer.count) parameters")
        }
        let m = try opt.floats("exp_avg"), v = try opt.floats("exp_avg_sq")
        m.withUnsafeBufferPointer { mp in
            v.withUnsafeBufferPointer { vp in optimizer.restore(step: step, m: mp.baseAddress!, v: vp.baseAddress!) }
        }
        return state
    }

    /// Deletes the oldest checkpoints beyond `limit`, never the best one nor the newest (as
    /// transformers' rotation: with a limit of 1 and an older best, both stay).
    package static func prune(outputDir: String, limit: Int?, keep best: String?) {
        guard let limit, limit > 0 else { return }
        let all = list(in: outputDir)
        let canonical = { (p: String) in URL(fileURLWithPath: p).standardizedFileURL.path }
        let bestPath = best.map(canonical)
        var remaining = all.count
        for c in all.dropLast() where remaining > limit && canonical(c.path) != bestPath {
            // Renamed out of the `checkpoint-N` namespace first, so a kill mid-delete leaves no
            // half-deleted checkpoint that `list` would offer for resuming.
            let trash = "\(outputDir)/.trash-\(getpid())-\(FileSystem.basename(c.path))"
            if (try? FileSystem.rename(c.path, trash)) != nil { FileSystem.removeTree(trash) }
            remaining -= 1
        }
    }
}
