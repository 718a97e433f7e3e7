import Foundation
import IO
import Inference
import NN
import TestSupport
import Testing
import Training

/// The configs and the demo dataset the repository ships: `make demo` and the README's examples
/// depend on them, so a broken edit must fail here rather than in front of a new user.
@Suite struct ShippedConfigsTests {
    static let root = TestPaths.packageRoot

    @Test(arguments: ["configs/demo.yaml", "configs/experiments/minilm-nb-nn-hard.yaml"])
    func configParses(_ file: String) throws {
        let config = try TrainingConfig.load(path: Self.root + "/" + file)
        #expect(config.dataset.columns == ["anchor", "positive", "negative"])
    }

    /// Every split of demo/norwegian-triplets: three non-empty, trimmed string columns per row, and no
    /// text twice anywhere (a repeated text would be a false negative for MNRL, or a leak between
    /// the training and the held-out splits).
    @Test func demoDatasetIsWellFormed() throws {
        let config = try TrainingConfig.load(path: Self.root + "/configs/demo.yaml")
        let folder = Self.root + "/" + config.dataset.name
        let splits = [config.dataset.trainSplit, config.dataset.evalSplit, config.dataset.testSplit]
        var seen: [String: String] = [:]
        var counts: [String: Int] = [:]
        for split in splits {
            let reader = try JSONLReader(path: "\(folder)/\(split).jsonl")
            while let row = try reader.nextRow(columns: config.dataset.columns) {
                let place = "\(split).jsonl:\(reader.lineNumber)"
                for text in row {
                    #expect(!text.isEmpty && text == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(place)")
                    if let first = seen.updateValue(place, forKey: text) {
                        Issue.record("\(place) repeats a text of \(first): \(text)")
                    }
                }
                counts[split, default: 0] += 1
            }
        }
        // Enough for the demo to train for a few minutes and to measure accuracy to about ±2 points.
        #expect(counts[config.dataset.trainSplit, default: 0] >= 1000)
        #expect(counts[config.dataset.evalSplit, default: 0] >= 100)
        #expect(counts[config.dataset.testSplit, default: 0] >= 250)
    }
}
