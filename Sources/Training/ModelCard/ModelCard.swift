import IO
import Inference
import NN

/// The model card (README.md in the model folder, the model's page on the Hugging Face hub) as
/// sentence-transformers 6.3 writes it after its trainer ran: YAML front matter the hub reads
/// (tags, base model, datasets, language, the evaluation results as `model-index`), then its
/// sections in its order — description, architecture, usage (Python and our `embed`), evaluation
/// (with base model vs fine-tuned when `evaluate` ran), training data with statistics and samples,
/// loss, hyperparameters, the training log and curves, time, versions, citations.
///
/// This type holds the facts; `ModelCard.gather` collects them from a run, and `markdown` renders.
/// To add to the card (e.g. Matryoshka dimensions), add a fact here and its lines in the section
/// that shows it: `losses` and `evaluations` are lists so that more losses and evaluators need no
/// new layout.
package struct ModelCard {
    package struct DatasetFacts {
        package var name: String
        /// Set when the dataset is on the hub: links and the front matter's `datasets`.
        package var hubID: String?
        package var rows: Int
        package var columns: [String]
        /// Per column: token counts (with special tokens, after truncation) over the first `statsRows`.
        package var tokenStats: [(min: Int, mean: Double, max: Int)]
        package var statsRows: Int
        /// The first rows' texts (up to three), when the text file was at hand.
        package var samples: [[String]]
    }

    /// A loss as the card shows it: its documentation link, parameters and citation.
    package struct Loss {
        package var name: String
        package var docsAnchor: String
        package var parameters: JSON
        package var citation: String?

        /// MultipleNegativesRankingLoss with sentence-transformers 6.3's parameters and citation (the
        /// loss `train` computes: scale 20, cosine similarity, anchor → candidates).
        package static let multipleNegativesRanking = Loss(
            name: "MultipleNegativesRankingLoss", docsAnchor: "multiplenegativesrankingloss",
            parameters: .object(JSONObject([
                ("scale", 20.0), ("similarity_fct", "cos_sim"), ("gather_across_devices", false),
                ("directions", ["query_to_doc"]), ("partition_mode", "joint"), ("hardness_mode", nil),
                ("hardness_strength", 0.0),
            ])),
            citation: """
                @misc{oord2019representationlearningcontrastivepredictive,
                      title={Representation Learning with Contrastive Predictive Coding},
                      author={Aaron van den Oord and Yazhe Li and Oriol Vinyals},
                      year={2019},
                      eprint={1807.03748},
                      archivePrefix={arXiv},
                      primaryClass={cs.LG},
                      url={https://arxiv.org/abs/1807.03748},
                }
                """)
    }

    /// The losses a config trains with (every dataset's, once each), as the card lists them: for
    /// MatryoshkaLoss, the wrapper and then the loss inside it, as sentence-transformers tags them.
    package static func losses(_ config: TrainingConfig) -> [Loss] {
        var out: [Loss] = []
        for l in config.trainDatasets.map({ config.loss(for: $0) }) {
            for card in cardLosses(l) where !out.contains(where: { $0.name == card.name && $0.parameters == card.parameters }) {
                out.append(card)
            }
        }
        return out
    }

    /// A `TrainingLoss` as sentence-transformers' card shows it (MatryoshkaLoss: it, then the inner loss).
    package static func cardLosses(_ l: TrainingLoss) -> [Loss] {
        let inner: Loss
        switch l.kind {
        case .mnrl: inner = .multipleNegativesRanking
        case .cachedMNRL:
            inner = Loss(name: "CachedMultipleNegativesRankingLoss", docsAnchor: "cachedmultiplenegativesrankingloss",
                         parameters: .object(JSONObject([("scale", .number(Double(l.scale))), ("similarity_fct", "cos_sim"),
                                                         ("mini_batch_size", .number(Double(l.miniBatchSize))),
                                                         ("gather_across_devices", false)])),
                         citation: """
                            @misc{gao2021scaling,
                                title={Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup},
                                author={Luyu Gao and Yunyi Zhang and Jiawei Han and Jamie Callan},
                                year={2021},
                                eprint={2101.06983},
                                archivePrefix={arXiv},
                                primaryClass={cs.LG}
                            }
                            """)
        case .cosent:
            inner = Loss(name: "CoSENTLoss", docsAnchor: "cosentloss",
                         parameters: .object(JSONObject([("scale", .number(Double(l.scale))), ("similarity_fct", "pairwise_cos_sim")])),
                         citation: """
                            @online{kexuefm-8847,
                                title={CoSENT: A more efficient sentence vector scheme than Sentence-BERT},
                                author={Su Jianlin},
                                year={2022},
                                month={Jan},
                                url={https://kexue.fm/archives/8847},
                            }
                            """)
        }
        guard !l.matryoshkaDims.isEmpty else { return [inner] }
        let matryoshka = Loss(name: "MatryoshkaLoss", docsAnchor: "matryoshkaloss",
                              parameters: .object(JSONObject([
                                  ("loss", .string(inner.name)),
                                  ("matryoshka_dims", .array(l.matryoshkaDims.map { .number(Double($0)) })),
                                  ("matryoshka_weights", .array(l.matryoshkaWeights.map { .number(Double($0)) })),
                                  ("n_dims_per_step", -1),
                              ])),
                              citation: """
                                @misc{kusupati2024matryoshka,
                                    title={Matryoshka Representation Learning},
                                    author={Aditya Kusupati and Gantavya Bhatt and Aniket Rege and Matthew Wallingford and Aditya Sinha and Vivek Ramanujan and William Howard-Snyder and Kaifeng Chen and Sham Kakade and Prateek Jain and Ali Farhadi},
                                    year={2024},
                                    eprint={2205.13147},
                                    archivePrefix={arXiv},
                                    primaryClass={cs.LG}
                                }
                                """)
        return [matryoshka, inner]
    }


    /// One evaluator's final results on one dataset (a `model-index` entry and a table column).
    package struct EvaluationResult {
        /// sentence-transformers' description of the evaluator class (`Triplet`).
        package var task: String = "Triplet"
        package var evaluatorClass: String = "TripletEvaluator"
        /// The evaluator's name, e.g. `norwegian-triplets-dev`.
        package var dataset: String
        /// Metric names without the evaluator prefix, in the evaluator's order.
        package var metrics: [(name: String, value: Double)]
        /// The metric shown in bold and in the training log.
        package var primary: String = "cosine_accuracy"
        /// Scored during training (a column of the training log) rather than after it (its `-1` row).
        package var duringTraining: Bool
    }

    /// The test split scored by `evaluate` before (base model) and after training.
    package struct Comparison {
        package var dataset: String
        package var baseLabel: String
        package var base: TripletMetrics
        package var finetuned: TripletMetrics
    }

    package var title: String
    package var baseModel: String?
    /// The base model as configured (a hub id or a local folder).
    package var baseModelSource: String
    /// Hub ids of the training datasets (the front matter's `datasets`).
    package var datasetIDs: [String]
    package var language: [String]
    package var license: String?
    package var architecture: String
    package var dimension: Int
    package var maxSeqLength: Int
    package var pooling: PoolingMode
    package var normalize: Bool
    package var train: DatasetFacts
    package var eval: DatasetFacts?
    package var losses: [Loss] = [.multipleNegativesRanking]
    package var evaluations: [EvaluationResult] = []
    package var comparison: Comparison?
    package var history: TrainingHistory
    package var loadBestModelAtEnd: Bool
    /// (name, value, default) in sentence-transformers' order; values as Python prints them.
    package var hyperparameters: [(name: String, value: String, defaultValue: String)]
    package var widget: [(source: String, sentences: [String])] = []
    package var usageTexts: [String]
    /// Cosine similarities of `usageTexts` under this model, when it could be run.
    package var usageSimilarities: [[Double]]?
    /// How to load the model: the output folder (or a hub id).
    package var modelReference: String
    /// training_curves.svg beside the card, when written.
    package var curvesFile: String?

    package var markdown: String {
        "---\n" + FrontMatterYAML.render(frontMatter) + "---\n" + body
    }

    // MARK: Front matter

    /// Every metric name of every evaluation, first seen first.
    var metricNames: [String] {
        var names: [String] = []
        for e in evaluations { for m in e.metrics where !names.contains(m.name) { names.append(m.name) } }
        return names
    }

    package var frontMatter: JSON {
        var o = JSONObject()
        if !language.isEmpty { o["language"] = .array(language.map { .string($0) }) }
        if let license { o["license"] = .string(license) }
        var tags = ["sentence-transformers", "sentence-similarity", "feature-extraction", "dense", "generated_from_trainer",
                    "dataset_size:\(train.rows)"]
        tags += losses.map { "loss:\($0.name)" }
        var seen = Set<String>()
        o["tags"] = .array(tags.filter { seen.insert($0).inserted }.map { .string($0) })
        if let baseModel { o["base_model"] = .string(baseModel) }
        if !widget.isEmpty {
            o["widget"] = .array(widget.map { w in
                .object(JSONObject([("source_sentence", .string(w.source)), ("sentences", .array(w.sentences.map { .string($0) }))]))
            })
        }
        if !datasetIDs.isEmpty { o["datasets"] = .array(datasetIDs.map { .string($0) }) }
        o["pipeline_tag"] = "sentence-similarity"
        o["library_name"] = "sentence-transformers"
        if !evaluations.isEmpty {
            o["metrics"] = .array(metricNames.map { .string($0) })
            o["model-index"] = [.object(JSONObject([("name", .string(title)), ("results", .array(evaluations.map(modelIndexResult)))]))]
        }
        return .object(o)
    }

    /// One `model-index` result, as huggingface_hub's `eval_results_to_model_index` writes it.
    func modelIndexResult(_ e: EvaluationResult) -> JSON {
        .object(JSONObject([
            ("task", .object(JSONObject([("type", .string(e.task.lowercased().replacingOccurrences(of: " ", with: "-"))),
                                         ("name", .string(e.task))]))),
            ("dataset", .object(JSONObject([("name", .string(e.dataset.map { $0 == "_" || $0 == "-" ? " " : $0 }.reduce(into: "") { $0.append($1) })),
                                            ("type", .string(e.dataset))]))),
            ("metrics", .array(e.metrics.map { m in
                .object(JSONObject([("type", .string(m.name)), ("value", .number(m.value)),
                                    ("name", .string(Python.title(m.name.replacingOccurrences(of: "_", with: " "))))]))
            })),
        ]))
    }

    // MARK: Body

    var body: String {
        [intro, modelDetails, usage, evaluation, trainingDetails, trainingLogs, trainingTime, frameworkVersions,
         additionalResources, citation].joined()
    }

    static func link(_ id: String, dataset: Bool = false) -> String {
        "[\(id)](https://huggingface.co/\(dataset ? "datasets/" : "")\(id))"
    }

    func datasetLink(_ d: DatasetFacts) -> String {
        d.hubID.map { "[\(d.name)](https://huggingface.co/datasets/\($0))" } ?? d.name
    }

    var intro: String {
        var s = "\n# \(title)\n\nThis is a [sentence-transformers](https://www.SBERT.net) model "
        s += baseModel.map { "finetuned from \(Self.link($0))" } ?? "finetuned from `\(baseModelSource)`"
        s += " on the \(datasetLink(train)) dataset"
        s += ". It maps inputs to a \(dimension)-dimensional dense vector space and can be used for semantic textual similarity, semantic search, paraphrase mining, classification, clustering, and more.\n\n"
        return s
    }

    var modelDetails: String {
        var s = "## Model Details\n\n### Model Description\n- **Model Type:** Sentence Transformer\n"
        s += baseModel.map { "- **Base model:** \(Self.link($0))\n" } ?? "- **Base model:** `\(baseModelSource)` (a local folder)\n"
        s += "- **Maximum Sequence Length:** \(maxSeqLength) tokens\n- **Output Dimensionality:** \(dimension) dimensions\n"
        s += "- **Similarity Function:** Cosine Similarity\n- **Supported Modality:** Text\n"
        s += "- **Training Dataset:**\n    - \(datasetLink(train))\n"
        if !language.isEmpty { s += "- **Language\(language.count > 1 ? "s" : ""):** \(language.joined(separator: ", "))\n" }
        s += license.map { "- **License:** \($0)\n" } ?? "<!-- - **License:** Unknown -->\n"
        s += """

            ### Model Sources

            - **Documentation:** [Sentence Transformers Documentation](https://sbert.net)
            - **Repository:** [Sentence Transformers on GitHub](https://github.com/huggingface/sentence-transformers)
            - **Hugging Face:** [Sentence Transformers on Hugging Face](https://huggingface.co/models?library=sentence-transformers)

            ### Full Model Architecture

            ```
            \(architectureText)
            ```


            """
        return s
    }

    /// `str(model)` for the module configs `train` saves (sentence-transformers' 3.x–5.x layout).
    var architectureText: String {
        func py(_ b: Bool) -> String { b ? "True" : "False" }
        var s = "SentenceTransformer(\n"
        s += "  (0): Transformer({'max_seq_length': \(maxSeqLength), 'do_lower_case': False, 'architecture': '\(architecture)'})\n"
        s += "  (1): Pooling({'word_embedding_dimension': \(dimension), 'pooling_mode_cls_token': \(py(pooling == .cls)), "
            + "'pooling_mode_mean_tokens': \(py(pooling == .mean)), 'pooling_mode_max_tokens': \(py(pooling == .max)), "
            + "'pooling_mode_mean_sqrt_len_tokens': False, 'pooling_mode_weightedmean_tokens': False, "
            + "'pooling_mode_lasttoken': False, 'include_prompt': True})\n"
        if normalize { s += "  (2): Normalize()\n" }
        return s + ")"
    }

    var usage: String {
        var s = """
            ## Usage

            ### Direct Usage (Sentence Transformers)

            First install the Sentence Transformers library:

            ```bash
            pip install -U sentence-transformers
            ```
            Then you can load this model and run inference.
            ```python
            from sentence_transformers import SentenceTransformer

            # Load the folder `train` wrote (or, once uploaded, the model's id on the 🤗 Hub)
            model = SentenceTransformer(\(JSON.string(modelReference).serialized()))
            # Run inference
            sentences = [

            """
        for t in usageTexts { s += "    \(Python.repr(t)),\n" }
        s += "]\nembeddings = model.encode(sentences)\nprint(embeddings.shape)\n# [\(usageTexts.count), \(dimension)]\n\n"
        s += "# Get the similarity scores for the embeddings\nsimilarities = model.similarity(embeddings, embeddings)\n"
        if let sims = usageSimilarities {
            s += "print(similarities)\n" + Self.torchMatrix(sims).split(separator: "\n").map { "# " + $0 }.joined(separator: "\n") + "\n"
        } else {
            s += "print(similarities.shape)\n# [\(usageTexts.count), \(usageTexts.count)]\n"
        }
        s += "```\n\n### Direct Usage (norembed)\n\nThe same vectors without Python, with this project's `embed` (one JSON line per input line):\n\n"
        s += "```bash\necho \(Self.shellQuote(usageTexts.first ?? "Hva er hovedstaden i Norge?")) | embed --model \(Self.shellQuote(modelReference))\n```\n\n"
        s += """
            <!--
            ### Downstream Usage (Sentence Transformers)

            You can finetune this model on your own dataset.

            <details><summary>Click to expand</summary>

            </details>
            -->

            <!--
            ### Out-of-Scope Use

            *List how the model may foreseeably be misused and address what users ought not to do with the model.*
            -->


            """
        return s
    }

    /// A square matrix as PyTorch prints a tensor (4 decimals, columns aligned, `-` given room).
    package static func torchMatrix(_ m: [[Double]]) -> String {
        let cells = m.map { $0.map { ProgressBar.decimal($0, 4) } }
        let width = cells.flatMap { $0 }.map(\.count).max() ?? 6
        let rows = cells.map { r in "[" + r.map { String(repeating: " ", count: width - $0.count) + $0 }.joined(separator: ", ") + "]" }
        return "tensor([" + rows.joined(separator: ",\n        ") + "])"
    }

    static func shellQuote(_ s: String) -> String {
        s.allSatisfy({ $0.isLetter || $0.isNumber || "-_./".contains($0) }) ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    var evaluation: String {
        var s = ""
        if !evaluations.isEmpty {
            s += "## Evaluation\n\n### Metrics\n\n"
            // Evaluators of one class with the same metrics share a table, a column per dataset.
            var groups: [[EvaluationResult]] = []
            for e in evaluations {
                if let i = groups.firstIndex(where: { $0[0].evaluatorClass == e.evaluatorClass && $0[0].metrics.map(\.name) == e.metrics.map(\.name) }) {
                    groups[i].append(e)
                } else {
                    groups.append([e])
                }
            }
            for g in groups {
                let names = g.map { "`\($0.dataset)`" }
                s += "#### \(g[0].task)\n\n"
                s += g.count == 1 ? "* Dataset: \(names[0])\n" : "* Datasets: \(names.dropLast().joined(separator: ", ")) and \(names.last!)\n"
                s += "* Evaluated with [<code>\(g[0].evaluatorClass)</code>](https://sbert.net/docs/package_reference/sentence_transformer/evaluation.html#sentence_transformers.sentence_transformer.evaluation.\(g[0].evaluatorClass))\n\n"
                let header = ["Metric"] + (g.count == 1 ? ["Value"] : g.map(\.dataset))
                let rows = g[0].metrics.enumerated().map { i, m -> [String] in
                    let bold = m.name == g[0].primary
                    let values = g.map { Python.round4($0.metrics[i].value) }
                    return ([m.name] + values).map { bold ? "**\($0)**" : $0 }
                }
                s += MarkdownTable.render(header: header, rows: rows) + "\n"
            }
        }
        if let c = comparison {
            if evaluations.isEmpty { s += "## Evaluation\n\n" }
            s += "#### Base model vs fine-tuned\n\nTriplet accuracy on `\(c.dataset)` (\(Python.grouped(c.finetuned.count)) triplets, held out from training), measured by `evaluate` before and after training:\n\n"
            let rows = zip(c.base.named, c.finetuned.named).map { b, f in
                [b.0, Python.round4(b.1), Python.round4(f.1), (f.1 >= b.1 ? "+" : "") + ProgressBar.decimal((f.1 - b.1) * 100, 2) + " pt"]
            }
            s += MarkdownTable.render(header: ["Metric", c.baseLabel, "fine-tuned", "change"], rows: rows) + "\n"
        }
        s += """
            <!--
            ## Bias, Risks and Limitations

            *What are the known or foreseeable issues stemming from this model? You could also flag here known failure cases or weaknesses of the model.*
            -->

            <!--
            ### Recommendations

            *What are recommendations with respect to the foreseeable issues? For example, filtering explicit content.*
            -->


            """
        return s
    }

    var trainingDetails: String {
        var s = "## Training Details\n\n### Training Dataset\n\n" + datasetSection(train, kind: "training")
        if let eval { s += "### Evaluation Dataset\n\n" + datasetSection(eval, kind: "evaluation") }
        s += "### Training Hyperparameters\n#### Non-Default Hyperparameters\n\n"
        for h in hyperparameters where h.value != h.defaultValue { s += "- `\(h.name)`: \(h.value)\n" }
        s += "\n#### All Hyperparameters\n<details><summary>Click to expand</summary>\n\n"
        for h in hyperparameters { s += "- `\(h.name)`: \(h.value)\n" }
        s += "\n</details>\n\n"
        return s
    }

    func datasetSection(_ d: DatasetFacts, kind: String) -> String {
        var s = "#### \(d.name)\n\n"
        s += "* Dataset: \(d.hubID.map { "[\(d.name)](https://huggingface.co/datasets/\($0))" } ?? d.name)\n"
        s += "* Size: \(Python.grouped(d.rows)) \(kind) samples\n"
        let cols = d.columns.map { "<code>\($0)</code>" }
        s += "* Columns: " + (cols.count <= 2 ? cols.joined(separator: " and ") : cols.dropLast().joined(separator: ", ") + ", and " + cols.last!) + "\n"
        if !d.tokenStats.isEmpty {
            s += "* Approximate statistics based on the first \(d.statsRows) samples:\n"
            let details = d.tokenStats.map { st in
                "<ul><li>min: \(st.min) tokens</li><li>mean: \(Python.str((st.mean * 100).rounded() / 100)) tokens</li><li>max: \(st.max) tokens</li></ul>"
            }
            let table = MarkdownTable.render(header: [""] + d.columns, rows: [
                ["type"] + d.columns.map { _ in "string" },
                ["modality"] + d.columns.map { _ in "text" },
                ["details"] + details,
            ])
            s += table.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        }
        if !d.samples.isEmpty {
            s += "* Samples:\n"
            let table = MarkdownTable.render(header: d.columns, rows: d.samples.map { $0.map(Self.sampleCell) })
            s += table.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        }
        for loss in losses {
            s += "* Loss: [<code>\(loss.name)</code>](https://sbert.net/docs/package_reference/sentence_transformer/losses.html#\(loss.docsAnchor)) with these parameters:\n"
            let json = Self.pythonJSON(loss.parameters)
            s += "  ```json\n" + json.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n  ```\n"
        }
        return s + "\n"
    }

    /// A sample text as a table cell: `<code>`, newlines as `<br>`, `|` escaped, cut at 1000 characters.
    static func sampleCell(_ text: String) -> String {
        var t = text
        if t.count > 1000 { t = String(t.prefix(1000)) + "..." }
        return "<code>" + t.replacingOccurrences(of: "\n", with: "<br>").replacingOccurrences(of: "|", with: "\\|") + "</code>"
    }

    /// `json.dumps(x, indent=4)`: floats keep their `.0` (our JSON writer drops it for integers).
    static func pythonJSON(_ v: JSON, level: Int = 0) -> String {
        let pad = String(repeating: " ", count: 4 * (level + 1)), end = String(repeating: " ", count: 4 * level)
        switch v {
        case .number(let d): return Python.str(d)
        case .array(let a) where !a.isEmpty:
            return "[\n" + a.map { pad + pythonJSON($0, level: level + 1) }.joined(separator: ",\n") + "\n\(end)]"
        case .object(let o) where o.count > 0:
            return "{\n" + o.map { pad + JSON.string($0.key).serialized() + ": " + pythonJSON($0.value, level: level + 1) }
                .joined(separator: ",\n") + "\n\(end)}"
        default: return v.serialized()
        }
    }

    var trainingLogs: String {
        let dev = evaluations.first { $0.duringTraining }, test = evaluations.last { !$0.duringTraining }
        let devColumn = dev.map { "\($0.dataset)_\($0.primary)" }
        let testColumn = test.map { "\($0.dataset)_\($0.primary)" }
        var steps = Set(history.logLines.map(\.step))
        for e in history.evaluations { steps.insert(e.step) }
        guard !steps.isEmpty else { return "" }
        let header = ["Epoch", "Step", "Training Loss", "Validation Loss"] + [devColumn, testColumn].compactMap { $0 }
        let bestStep = loadBestModelAtEnd ? history.best?.step : nil
        var rows: [[String]] = []
        for step in steps.sorted() {
            let log = history.logLines.last { $0.step == step }
            let ev = history.evaluations.last { $0.step == step }
            var row = [Python.maybeRound(log?.epoch ?? ev?.epoch ?? 0), String(step),
                       log.map { Python.maybeRound($0.loss) } ?? "-", ev?.value("loss").map(Python.maybeRound) ?? "-"]
            if let dev { row.append(ev?.value(dev.primary).map(Python.maybeRound) ?? "-") }
            if testColumn != nil { row.append("-") }
            rows.append(step == bestStep ? row.map { "**\($0)**" } : row)
        }
        // A final evaluation outside the trainer: sentence-transformers' row at epoch and step -1.
        if let test, let v = test.metrics.first(where: { $0.name == test.primary })?.value {
            rows.append(["-1", "-1", "-", "-"] + (dev != nil ? ["-"] : []) + [Python.maybeRound(v)])
        }
        var s = "### Training Logs\n"
        if let curvesFile {
            s += "![Training curves: loss, learning rate, gradient norm and evaluation accuracy against the optimizer step](\(curvesFile))\n\n"
        }
        let hide = rows.count > 100
        if hide { s += "<details><summary>Click to expand</summary>\n\n" }
        s += MarkdownTable.render(header: header, rows: rows, leftAligned: false)
        if bestStep != nil { s += "\n* The bold row denotes the saved checkpoint.\n" }
        if hide { s += "\n</details>\n" }
        return s + "\n\n"
    }

    var trainingTime: String {
        guard let total = history.trainRuntime else { return "" }
        let evalSeconds = history.evaluationRuntime ?? 0
        var s = "### Training Time\n- **Training**: \(Self.duration(total - evalSeconds))\n"
        if evalSeconds > 0 { s += "- **Evaluation**: \(Self.duration(evalSeconds))\n- **Total**: \(Self.duration(total))\n" }
        if let r = history.resumedFromStep { s += "\n(The last part of a resumed run: from step \(r) on.)\n" }
        return s + "\n"
    }

    static func duration(_ seconds: Double) -> String {
        let s = max(0, seconds)
        if s < 60 { return ProgressBar.decimal(s, 1) + " seconds" }
        if s < 3600 { return ProgressBar.decimal(s / 60, 1) + " minutes" }
        if s < 86400 { return ProgressBar.decimal(s / 3600, 1) + " hours" }
        return ProgressBar.decimal(s / 86400, 1) + " days"
    }

    var frameworkVersions: String {
        "### Framework Versions\n- norembed: \(BuildInfo.version)" + (BuildInfo.commit.map { " (commit \($0))" } ?? "")
            + "\n- Swift: \(BuildInfo.swiftVersion)\n\n"
    }

    var additionalResources: String {
        """
        ## Additional Resources

        - [Training and Finetuning Embedding Models with Sentence Transformers](https://huggingface.co/blog/train-sentence-transformers): the end-to-end guide for training or finetuning Sentence Transformer models.
        - [Introduction to Matryoshka Embedding Models](https://huggingface.co/blog/matryoshka): variable-size embeddings that can be truncated with minimal quality loss.
        - [Binary and Scalar Embedding Quantization for Significantly Faster & Cheaper Retrieval](https://huggingface.co/blog/embedding-quantization): post-training compression of embedding vectors.
        - [Multimodal Embedding & Reranker Models with Sentence Transformers](https://huggingface.co/blog/multimodal-sentence-transformers): use text, image, audio, and video models through the same API.
        - [Training and Finetuning Multimodal Embedding & Reranker Models with Sentence Transformers](https://huggingface.co/blog/train-multimodal-sentence-transformers): train multimodal embedding models, with a Visual Document Retrieval walkthrough.


        """
    }

    var citation: String {
        var s = """
            ## Citation

            ### BibTeX

            #### Sentence Transformers
            ```bibtex
            @inproceedings{reimers-2019-sentence-bert,
                title = "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
                author = "Reimers, Nils and Gurevych, Iryna",
                booktitle = "Proceedings of the 2019 Conference on Empirical Methods in Natural Language Processing",
                month = "11",
                year = "2019",
                publisher = "Association for Computational Linguistics",
                url = "https://arxiv.org/abs/1908.10084",
            }
            ```


            """
        // Losses that share a citation share a heading (`#### A and B`).
        var cited: [(names: [String], text: String)] = []
        for l in losses {
            guard let c = l.citation else { continue }
            if let i = cited.firstIndex(where: { $0.text == c }) { cited[i].names.append(l.name) } else { cited.append(([l.name], c)) }
        }
        for c in cited {
            let heading = c.names.count == 1 ? c.names[0] : c.names.dropLast().joined(separator: ", ") + " and " + c.names.last!
            s += "#### \(heading)\n```bibtex\n\(c.text)\n```\n\n"
        }
        s += """
            <!--
            ## Glossary

            *Clearly define terms in order to be accessible across audiences.*
            -->

            <!--
            ## Model Card Authors

            *Lists the people who create the model card, providing recognition and accountability for the detailed work that goes into its construction.*
            -->

            <!--
            ## Model Card Contact

            *Provides a way for people who have updates to the Model Card, suggestions, or questions, to contact the Model Card authors.*
            -->
            """
        return s
    }
}
