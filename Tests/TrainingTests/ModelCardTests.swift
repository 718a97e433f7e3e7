import Foundation
import IO
import Inference
import NN
import TestSupport
import Testing
import Training

/// The model card: the pieces formatted as sentence-transformers formats them (checked against its
/// generated example card in /work/notes), and a card from a real (tiny) run whose front matter our
/// YAML reader parses to what the hub needs, with the sections in sentence-transformers' order.
/// (tools/check_model_card.py checks the same with huggingface_hub.ModelCard.load.)
@Suite struct ModelCardFormattingTests {
    /// Every string comes back as the same string through a YAML 1.1 reader (PyYAML's rules:
    /// `no` would be false, `1.0` a float, `- x` a list), and non-BMP characters are written raw.
    @Test func frontMatterStringsAndFloatsReadBackUnchanged() throws {
        let strings = ["no", "yes", "off", "null", "~", "1.0", "2e-5", "- x", "a: b", "# c", "@x", "`x`", "'q'", "\"dq\"",
                       " lead", "trail ", "tab\there", "line\nbreak", "bell\u{7}", "del\u{7F}", "æøå", "🤗 emoji", "\\"]
        let doc: JSON = .object(JSONObject([("s", .array(strings.map { .string($0) })), ("f", [1.0, 1e-5, 0.8533333333333334, 3])]))
        let yaml = FrontMatterYAML.render(doc)
        #expect(yaml.contains("🤗") && !yaml.contains("\\ud83e"))
        #expect(yaml.contains("- \"no\"\n") && yaml.contains("- 1.0e-05\n") && yaml.contains("- 3.0\n"))
        let root = try #require(try YAML.parse(yaml, source: "card"))
        let items = try #require(root["s"]?.items)
        #expect(try items.map { try $0.resolved() } == strings.map { .string($0) })
        let floats = try #require(root["f"]?.items)
        #expect(try floats.map { try $0.resolved() } == [.float(1.0), .float(1e-5), .float(0.8533333333333334), .float(3)])
    }

    @Test func nestedListsOfMappingsUsePyYAMLsLayout() {
        let doc: JSON = .object(JSONObject([("model-index", [.object(JSONObject([("name", "m"), ("results", [
            .object(JSONObject([("task", .object(JSONObject([("type", "triplet"), ("name", "Triplet")]))),
                                ("metrics", [.object(JSONObject([("type", "cosine_accuracy"), ("value", 1.0)]))])])),
        ])]))])]))
        #expect(FrontMatterYAML.render(doc) == """
            model-index:
            - name: "m"
              results:
              - task:
                  type: "triplet"
                  name: "Triplet"
                metrics:
                - type: "cosine_accuracy"
                  value: 1.0

            """)
    }

    /// Tables of the example card, byte for byte.
    @Test func markdownTablesMatchTransformers() {
        #expect(MarkdownTable.render(header: ["Metric", "Value"], rows: [["**cosine_accuracy**", "**1.0**"]]) == """
            | Metric              | Value   |
            |:--------------------|:--------|
            | **cosine_accuracy** | **1.0** |

            """)
        #expect(MarkdownTable.render(header: ["Epoch", "Step", "Training Loss"], rows: [["0.3333", "1", "0.0091"], ["-1", "-1", "-"]],
                                     leftAligned: false) == """
            | Epoch  | Step | Training Loss |
            |:------:|:----:|:-------------:|
            | 0.3333 | 1    | 0.0091        |
            | -1     | -1   | -             |

            """)
        // Widths count code points, as Python's len.
        #expect(MarkdownTable.render(header: ["a"], rows: [["æø"]]).hasPrefix("| a  |\n|:---|\n| æø |"))
    }

    @Test func numbersAndStringsPrintAsPythonPrintsThem() {
        #expect(Python.str(2e-5) == "2e-05" && Python.str(3) == "3.0" && Python.str(1e-8) == "1e-08" && Python.str(0.1) == "0.1")
        #expect(Python.round4(0.8533333333333334) == "0.8533" && Python.round4(1) == "1.0")
        #expect(Python.maybeRound(1.0 / 3) == "0.3333" && Python.maybeRound(0.5) == "0.5" && Python.maybeRound(2e-5) == "2e-05")
        #expect(Python.title("cosine ndcg@10") == "Cosine Ndcg@10" && Python.title("max accuracy") == "Max Accuracy")
        #expect(Python.repr("It's") == "\"It's\"" && Python.repr("a") == "'a'" && Python.repr("'\"") == "'\\'\"'")
        #expect(Python.grouped(1252) == "1,252" && Python.grouped(569_000) == "569,000" && Python.grouped(12) == "12")
        #expect(ModelCard.torchMatrix([[1, 0.9178], [0.9178, 1]]) == "tensor([[1.0000, 0.9178],\n        [0.9178, 1.0000]])")
        #expect(ModelCard.torchMatrix([[1, -0.0332]]) == "tensor([[ 1.0000, -0.0332]])")
    }
}

@Suite struct ModelCardTests {
    static let yaml = """
        model: {name: tiny, max_seq_length: 32}
        dataset: {name: synthetic, max_eval_samples: 40}
        training:
          output_dir: OUT
          per_device_train_batch_size: 8
          per_device_eval_batch_size: 16
          num_train_epochs: 2
          learning_rate: 1.0e-3
          eval_steps: 4
          save_steps: 4
          logging_steps: 2
          seed: 7
        model_card:
          language: [nb, "no"]
          license: apache-2.0
          base_model: example-org/tiny-bert
        """

    /// Trains the tiny model for 16 steps with text files beside the token tables.
    static func train(in root: String) throws -> (Trainer, String) {
        let base = try TinyModel.make(in: root + "/base")
        let texts = try TinyModel.dataset(in: root + "/text", rows: ["train": 60, "dev": 50], seed: 3)
        let opts = try TrainOptions.resolve(configText: Array(yaml.replacingOccurrences(of: "OUT", with: root + "/out").utf8),
                                            configPath: "card.yaml", overrides: [])
        let inputs = TrainingInputs(modelDirectory: base, train: TinyModel.triplets(rows: 60, seed: 3), trainSource: "train",
                                    eval: TinyModel.triplets(rows: 50, seed: 4), evalSource: "eval",
                                    trainText: texts + "/train.jsonl", evalText: texts + "/dev.jsonl")
        let trainer = try Trainer(options: opts, inputs: inputs)
        _ = try trainer.run()
        return (trainer, root + "/out")
    }

    /// The front matter of a card, parsed with our YAML reader.
    static func frontMatter(_ card: String) throws -> YAMLNode {
        #expect(card.hasPrefix("---\n"))
        let end = try #require(card.range(of: "\n---\n"))
        return try #require(try YAML.parse(String(card[card.index(card.startIndex, offsetBy: 4)..<end.lowerBound]), source: "README.md"))
    }

    static func strings(_ n: YAMLNode?) throws -> [String] {
        try (n?.items ?? []).map { item in
            guard case .string(let s) = try item.resolved() else { throw EmbedError("not a string: \(item.summary)") }
            return s
        }
    }

    /// The body's headings in sentence-transformers' order (check_model_card.py's list), outside
    /// code fences and HTML comments.
    static func headings(_ card: String) -> [String] {
        var body = card
        for (open, close) in [("```", "```"), ("<!--", "-->")] {
            while let a = body.range(of: open), let b = body.range(of: close, range: a.upperBound..<body.endIndex) {
                body.removeSubrange(a.lowerBound..<b.upperBound)
            }
        }
        return body.split(separator: "\n").filter { $0.hasPrefix("#") }.map(String.init)
    }

    /// The trimmed cells of the last table row that starts with `prefix`.
    static func row(_ card: String, startingWith prefix: String) -> [String]? {
        card.split(separator: "\n").last { $0.hasPrefix(prefix) }.map { line in
            line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    @Test func aRunWritesACardTheHubCanRead() throws {
        let root = TestPaths.scratch()
        let (trainer, out) = try Self.train(in: root)
        let card = try String(contentsOfFile: out + "/README.md", encoding: .utf8)
        let fm = try Self.frontMatter(card)
        #expect(fm.entries?.compactMap(\.key.scalarText) == ["language", "license", "tags", "base_model", "widget", "pipeline_tag",
                                                             "library_name", "metrics", "model-index"])
        // "no" is the language code, not YAML's false.
        #expect(try Self.strings(fm["language"]) == ["nb", "no"])
        #expect(try Self.strings(fm["tags"]) == ["sentence-transformers", "sentence-similarity", "feature-extraction", "dense",
                                                 "generated_from_trainer", "dataset_size:60", "loss:MultipleNegativesRankingLoss"])
        #expect(try fm["base_model"]?.resolved() == .string("example-org/tiny-bert"))
        #expect(try fm["library_name"]?.resolved() == .string("sentence-transformers"))
        #expect(try fm["pipeline_tag"]?.resolved() == .string("sentence-similarity"))
        #expect(try fm["license"]?.resolved() == .string("apache-2.0"))
        let metricNames = ["cosine_accuracy", "dot_accuracy", "euclidean_accuracy", "manhattan_accuracy", "max_accuracy"]
        #expect(try Self.strings(fm["metrics"]) == metricNames)
        // model-index: one entry with the name, one result per evaluated dataset, every metric a float.
        let index = try #require(fm["model-index"]?.items)
        #expect(index.count == 1)
        #expect(try index[0]["name"]?.resolved() == .string("SentenceTransformer based on example-org/tiny-bert"))
        let results = try #require(index[0]["results"]?.items)
        #expect(results.count == 1)
        #expect(try results[0]["task"]?["type"]?.resolved() == .string("triplet"))
        #expect(try results[0]["dataset"]?["type"]?.resolved() == .string("synthetic-dev"))
        #expect(try results[0]["dataset"]?["name"]?.resolved() == .string("synthetic dev"))
        let metrics = try #require(results[0]["metrics"]?.items)
        #expect(try metrics.map { try $0["type"]?.resolved() } == metricNames.map { .string($0) })
        #expect(try metrics.map { try $0["name"]?.resolved() } == ["Cosine Accuracy", "Dot Accuracy", "Euclidean Accuracy",
                                                                   "Manhattan Accuracy", "Max Accuracy"].map { .string($0) })
        // The value is the reloaded best model's evaluation.
        let history = try TrainingHistory(stateFile: out + "/trainer_state.json")
        let best = try #require(history.best)
        if case .float(let v) = try metrics[0]["value"]!.resolved() { #expect(v == best.value) } else { Issue.record("value is not a float") }
        let widget = try #require(fm["widget"]?.items)
        #expect(widget.count == 5 && widget.allSatisfy { $0["source_sentence"] != nil && $0["sentences"]?.items?.count == 3 })

        // The body: sentence-transformers' headings in order, our additions in between.
        let want = ["# SentenceTransformer based on example-org/tiny-bert", "## Model Details", "### Model Description",
                    "### Model Sources", "### Full Model Architecture", "## Usage", "### Direct Usage (Sentence Transformers)",
                    "### Direct Usage (norembed)", "## Evaluation", "### Metrics", "#### Triplet", "## Training Details",
                    "### Training Dataset", "#### synthetic", "### Evaluation Dataset", "#### synthetic",
                    "### Training Hyperparameters", "#### Non-Default Hyperparameters", "#### All Hyperparameters",
                    "### Training Logs", "### Training Time", "### Framework Versions", "## Additional Resources", "## Citation",
                    "### BibTeX", "#### Sentence Transformers", "#### MultipleNegativesRankingLoss"]
        #expect(Self.headings(card) == want)
        for line in ["* Size: 60 training samples", "* Size: 40 evaluation samples",
                     "* Columns: <code>anchor</code>, <code>positive</code>, and <code>negative</code>",
                     "* Approximate statistics based on the first 60 samples:", "* Approximate statistics based on the first 40 samples:",
                     "- `per_device_train_batch_size`: 8", "- `learning_rate`: 0.001", "- `batch_sampler`: no_duplicates",
                     "- `num_train_epochs`: 2.0", "- `warmup_steps`: 0.1", "- `load_best_model_at_end`: True",
                     "* The bold row denotes the saved checkpoint.", "![Training curves", "](training_curves.svg)",
                     "  (0): Transformer({'max_seq_length': 32, 'do_lower_case': False, 'architecture': 'BertModel'})",
                     "# [3, 16]", "print(similarities)\n# tensor([[1.0000,", "- norembed: \(BuildInfo.version)",
                     "| Training Loss | Validation Loss | synthetic-dev_cosine_accuracy |",
                     "| **\(Python.maybeRound(Double(best.step) / 8))**", "| **\(best.step)**"] {
            #expect(card.contains(line), "the card lacks: \(line)")
        }
        // Non-default first: the defaults sentence-transformers would also have are only in "All".
        let nonDefault = card.components(separatedBy: "#### Non-Default Hyperparameters")[1].components(separatedBy: "#### All")[0]
        #expect(!nonDefault.contains("`max_grad_norm`") && nonDefault.contains("`use_cpu`: True"))
        // Samples are the text files' first rows.
        let firstRow = try #require(try JSONLReader(path: root + "/text/train.jsonl").nextRow(columns: ["anchor", "positive", "negative"]))
        #expect(card.contains("<code>\(firstRow[0])</code>"))
        // The curves beside it, and the summary line with the times.
        #expect(FileManager.default.fileExists(atPath: out + "/training_curves.svg"))
        #expect(history.trainRuntime != nil && history.evaluationRuntime! > 0)
        _ = trainer
    }

    /// `evaluate`'s results newer than the model add the test split to the model-index, the log's
    /// `-1` row and a base-vs-fine-tuned table; older ones (a previous model's) are left out.
    @Test func evaluateResultsJoinTheCardOnlyWhenFresh() throws {
        let root = TestPaths.scratch()
        let (trainer, out) = try Self.train(in: root)
        try FileManager.default.createDirectory(atPath: out + "/eval", withIntermediateDirectories: true)
        let base = TripletMetrics(cosine: 0.5, dot: 0.5, euclidean: 0.5, manhattan: 0.5, count: 20)
        let tuned = TripletMetrics(cosine: 0.75, dot: 0.7, euclidean: 0.75, manhattan: 0.75, count: 20)
        try FileSystem.writeText(base.json(extra: [("model", "models/base/tiny")]).serialized(), to: out + "/eval/base.json")
        try FileSystem.writeText(tuned.json().serialized(), to: out + "/eval/finetuned.json")
        func card() throws -> String {
            let t = trainer.config.training
            return try ModelCard.gather(ModelCard.Inputs(
                config: trainer.config, model: trainer.model, tokenizerDirectory: nil,
                trainerState: try FileSystem.readJSON(t.outputDir + "/trainer_state.json"), train: trainer.inputs.train, trainRows: 60,
                trainText: nil, eval: trainer.inputs.eval, evalRows: 40, evalText: nil, outputDirectory: t.outputDir)).markdown
        }
        let fresh = try card()
        let results = try #require(try Self.frontMatter(fresh)["model-index"]?.items?.first?["results"]?.items)
        #expect(try results.map { try $0["dataset"]?["type"]?.resolved() } == [.string("synthetic-dev"), .string("synthetic-test")])
        #expect(fresh.contains("* Datasets: `synthetic-dev` and `synthetic-test`"))
        #expect(fresh.contains("#### Base model vs fine-tuned"))
        #expect(Self.row(fresh, startingWith: "| cosine_accuracy ") == ["cosine_accuracy", "0.5", "0.75", "+25.00 pt"])
        #expect(Self.row(fresh, startingWith: "| -1 ") == ["-1", "-1", "-", "-", "-", "0.75"])
        // Without text files: the default usage sentences, no widget, no samples; no similarities without a tokenizer.
        #expect(fresh.contains("'The weather is lovely today.'") && !fresh.contains("widget:") && !fresh.contains("* Samples:"))
        #expect(fresh.contains("print(similarities.shape)\n# [3, 3]"))

        let old = Date(timeIntervalSinceNow: -3600)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: out + "/eval/finetuned.json")
        let stale = try card()
        #expect(!stale.contains("synthetic-test") && !stale.contains("Base model vs fine-tuned"))
    }
}
