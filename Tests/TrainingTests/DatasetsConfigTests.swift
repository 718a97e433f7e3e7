import Foundation
import IO
import TestSupport
import Testing
import Training

/// The `datasets:` list and the loss keys: parsing, defaults, and an error naming the entry and key
/// for each kind of mistake.
@Suite struct DatasetsConfigTests {
    static let nliAndSTS = """
        datasets:
          - name: Fremtind/all-nli-norwegian
            train_split: train
            eval_split: dev
            test_split: test
            max_train_samples: 1000
          - name: data/sts
            train_split: tr
            columns: [sentence1, sentence2]
            score_column: score
            loss: cosent
          - name: data/pairs
            columns: [q, d]
            max_train_samples: 50
        training:
          loss: cached_mnrl
          matryoshka_dims: [128, 384]
          multi_dataset_sampler: round_robin
        """

    @Test func aListOfDatasetsWithTheirOwnLosses() throws {
        let c = try TrainingConfigTests.parse(Self.nliAndSTS)
        let list = try #require(c.datasets)
        #expect(list.count == 3)
        #expect(list[0].name == "Fremtind/all-nli-norwegian" && list[0].columns == ["anchor", "positive", "negative"])
        #expect(list[0].isTriplets && list[0].maxTrainSamples == 1000 && list[0].loss == nil)
        #expect(list[1].columns == ["sentence1", "sentence2"] && list[1].scoreColumn == "score" && list[1].loss == .cosent)
        #expect(list[1].trainSplit == "tr" && !list[1].isTriplets)
        #expect(list[2].trainSplit == "train" && list[2].columns == ["q", "d"])
        // The first dataset is the evaluated one.
        #expect(c.dataset == list[0] && c.trainDatasets == list)
        #expect(c.training.multiDatasetSampler == .roundRobin)
        // Each dataset's loss: its own, or training.loss; Matryoshka around every one, largest first.
        #expect(c.loss(for: list[0]) == TrainingLoss(kind: .cachedMNRL, miniBatchSize: 32, matryoshkaDims: [384, 128]))
        #expect(c.loss(for: list[1]).kind == .cosent && c.loss(for: list[1]).matryoshkaDims == [384, 128])
        #expect(c.loss(for: list[1]).description == "MatryoshkaLoss(CoSENTLoss)")
        let s = c.summary()
        for piece in ["Dataset 2:", "data/sts: train 'tr' (all), columns sentence1 / sentence2, score score, loss MatryoshkaLoss(CoSENTLoss)",
                      "Evaluation:", "round_robin over the datasets", "Matryoshka:", "dimensions 128, 384", "mini-batches of 32"] {
            #expect(s.contains(piece), "summary lacks '\(piece)':\n\(s)")
        }
    }

    /// The single-dataset config is what it was: no list, MNRL, NO_DUPLICATES, no Matryoshka.
    @Test func theSingleDatasetConfigIsUnchanged() throws {
        let c = try TrainingConfigTests.parse("{}")
        #expect(c.datasets == nil && c.trainDatasets == [c.dataset])
        #expect(c.loss(for: c.dataset) == .mnrl && c.training.batchSampler == .noDuplicates)
        #expect(c.training.multiDatasetSampler == .proportional && c.training.matryoshkaDims.isEmpty)
        #expect(try TrainingConfigTests.parse("datasets: null").datasets == nil)
    }

    @Test func aWholeListCanBeGivenOnTheCommandLine() throws {
        let c = try TrainingConfigTests.parse("{}", overrides: ["datasets=[{name: a, columns: [x, y]}, {name: b, loss: mnrl}]",
                                                 "training.matryoshka_dims=[8, 4]"])
        #expect(c.datasets?.map(\.name) == ["a", "b"] && c.datasets?[0].columns == ["x", "y"])
        #expect(c.training.matryoshkaDims == [8, 4])
    }

    @Test(arguments: [
        ("datasets:\n  - name: a\n    colums: [x, y]\n", "c.yaml:3:5: unknown key 'datasets[0].colums' (did you mean 'columns'?)"),
        ("datasets:\n  - train_split: x\n", "c.yaml:2:5: datasets[0] needs a name"),
        ("datasets: [a, b]\n", "c.yaml:1:12: datasets[0] must be a mapping of keys"),
        ("datasets: {name: a}\n", "c.yaml:1:11: 'datasets' must be a non-empty list of datasets"),
        ("datasets: []\n", "c.yaml:1:11: 'datasets' must be a non-empty list of datasets"),
        ("datasets:\n  - name: a\n    loss: cosent\n", "c.yaml:3:11: datasets[0]: cosent needs exactly two text columns (sentence1, sentence2), got 3"),
        ("datasets:\n  - name: a\n    columns: [s1, s2]\n    loss: cosent\n", "c.yaml:4:11: datasets[0]: cosent needs a score column (score_column)"),
        ("datasets:\n  - name: a\n    columns: [x]\n", "c.yaml:3:14: datasets[0]: mnrl needs at least two text columns"),
        ("datasets:\n  - name: a\n    columns: [x, x]\n", "c.yaml:3:14: datasets[0].columns must be different, non-empty column names, got [x, x]"),
        ("datasets:\n  - name: a\n    columns: [x, y]\n    score_column: y\n", "c.yaml:4:19: datasets[0].score_column must be a column of its own"),
        ("datasets:\n  - name: a\n    loss: triplet\n", "c.yaml:3:11: datasets[0].loss: unknown value 'triplet'; valid: mnrl, cached_mnrl, cosent"),
        ("datasets:\n  - name: a\n    max_train_samples: 0\n", "c.yaml:3:24: datasets[0].max_train_samples must be at least 1"),
        ("datasets:\n  - name: a\ndataset:\n  name: b\n", "c.yaml:2:3: 'datasets' and 'dataset' (at c.yaml:3:1) exclude each other"),
        ("training:\n  loss: cosent\n", "c.yaml:2:9: training.loss cosent needs (sentence1, sentence2, score) pairs: give them as a datasets: entry"),
        ("training:\n  loss: cached\n", "c.yaml:2:9: training.loss: unknown value 'cached' (did you mean 'cached_mnrl'?); valid: mnrl, cached_mnrl, cosent"),
        ("training:\n  mini_batch_size: 0\n", "c.yaml:2:20: training.mini_batch_size must be at least 1, got 0"),
        ("training:\n  matryoshka_dims: 64\n", "c.yaml:2:20: training.matryoshka_dims must be a list, e.g. [a, b], not the integer 64"),
        ("training:\n  matryoshka_dims: [64, 0]\n", "c.yaml:2:20: training.matryoshka_dims must be positive dimensions, got 0"),
        ("training:\n  matryoshka_weights: [1]\n", "c.yaml:2:23: training.matryoshka_weights needs training.matryoshka_dims"),
        ("training:\n  matryoshka_dims: [8, 4]\n  matryoshka_weights: [1]\n", "c.yaml:3:23: training.matryoshka_weights needs one weight per dimension of training.matryoshka_dims (2), got 1"),
        ("training:\n  multi_dataset_sampler: roundrobin\n", "c.yaml:2:26: training.multi_dataset_sampler: unknown value 'roundrobin' (did you mean 'round_robin'?)"),
        ("training:\n  batch_sampler: no_dups\n", "c.yaml:2:18: training.batch_sampler: unknown value 'no_dups'"),
    ])
    func mistakesNameTheEntryAndKey(_ yaml: String, _ expected: String) {
        let message = TrainingConfigTests.error(yaml)
        #expect(message.hasPrefix(expected), "got: \(message)")
    }
}
