import IO
import Inference
import NN

/// Training metrics, two ways: `metrics.jsonl` (one JSON object per log line, appended, so a resumed
/// run continues the same file) and TensorBoard event files, both in `logging_dir`.
final class MetricsLog {
    let jsonlPath: String
    let tensorboard: TensorBoardWriter

    init(directory: String) throws {
        jsonlPath = directory + "/metrics.jsonl"
        tensorboard = try TensorBoardWriter(directory: directory)
    }

    func write(_ entry: JSON, step: Int, scalars: [(String, Double)]) throws {
        try FileSystem.append(entry.serialized() + "\n", to: jsonlPath)
        try tensorboard.scalars(scalars.map { ($0.0, Float($0.1)) }, step: step)
    }
}
