import Foundation
import IO
import Testing
import Training

/// What data-parallel training refuses at start-up (several ranks gather MNRL's candidates; the
/// other losses and several datasets run in one process only): each refusal names its config key,
/// and what it does train passes.
@Suite struct DataParallelRefusalTests {
    static func refusal(_ yaml: String) throws -> String? {
        let c = try TrainingConfigTests.parse(yaml)
        do {
            try Trainer.refuseUnderDataParallelism(c, ranks: 2)
            return nil
        } catch let e as EmbedError {
            return e.description
        }
    }

    @Test func plainMNRLOnOneDatasetTrains() throws {
        #expect(try Self.refusal("training:\n  batch_sampler: batch_sampler\n") == nil)
        #expect(try Self.refusal("training:\n  eval_task: retrieval\n") == nil)
        #expect(try Self.refusal("datasets:\n  - name: data/one\n") == nil)
    }

    @Test func eachRefusalNamesItsKey() throws {
        let cached = try #require(try Self.refusal("training:\n  loss: cached_mnrl\n"))
        #expect(cached.contains("training.loss: cached_mnrl") && cached.contains("2 ranks"), "\(cached)")
        let matryoshka = try #require(try Self.refusal("training:\n  matryoshka_dims: [8, 4]\n"))
        #expect(matryoshka.contains("training.matryoshka_dims"), "\(matryoshka)")
        let two = try #require(try Self.refusal("datasets:\n  - name: data/a\n  - name: data/b\n"))
        #expect(two.hasPrefix("datasets: 2 training datasets"), "\(two)")
        let cosent = try #require(try Self.refusal(
            "datasets:\n  - name: data/sts\n    columns: [s1, s2]\n    score_column: score\n    loss: cosent\n"))
        #expect(cosent.contains("datasets[0].loss: cosent"), "\(cosent)")
    }
}
