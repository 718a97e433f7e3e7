import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import IO
import Inference
import NN
import TestSupport
import Testing

/// A trainer state like `train` writes: 20 steps of 10 planned, 4 per epoch, logs every 2 steps,
/// evaluations every 4 with a checkpoint each, the best at step 8.
func syntheticTrainerState(globalStep: Int = 20, maxSteps: Int = 20, bestCheckpoint: String? = "out/checkpoint-8",
                           bestMetric: Double? = 0.75, nanAt: Int? = nil) -> JSON {
    var history: [JSON] = []
    for step in stride(from: 2, through: globalStep, by: 2) {
        let loss = step == nanAt ? Double.nan : 2.0 / Double(step) + 0.1
        history.append(["step": .number(Double(step)), "epoch": .number(Double(step) / 4), "loss": .number(loss),
                        "learning_rate": .number(5e-5 * Double(maxSteps - step) / Double(maxSteps)),
                        "grad_norm": .number(1.5 - Double(step) / 40), "triplets_per_second": 100])
        if step % 4 == 0 {
            let acc = step == 8 ? 0.75 : 0.5 + Double(step) / 100
            history.append(.object(JSONObject([
                ("step", .number(Double(step))), ("epoch", .number(Double(step) / 4)), ("eval_cosine_accuracy", .number(acc)),
                ("eval_dot_accuracy", .number(acc - 0.05)), ("eval_euclidean_accuracy", .number(acc - 0.02)),
                ("eval_manhattan_accuracy", .number(acc - 0.03)), ("eval_max_accuracy", .number(acc)),
                ("eval_loss", .number(1.0 / Double(step))), ("eval_runtime", 0.5)])))
        }
    }
    if globalStep == maxSteps {
        history.append(["step": .number(Double(globalStep)), "epoch": .number(Double(globalStep) / 4), "train_runtime": 42.5,
                        "evaluation_runtime": 2.5])
    }
    return .object(JSONObject([
        ("global_step", .number(Double(globalStep))), ("max_steps", .number(Double(maxSteps))),
        ("epoch", .number(Double(globalStep) / 4)), ("best_metric", bestMetric.map { .number($0) } ?? .null),
        ("best_model_checkpoint", bestCheckpoint.map { .string($0) } ?? .null), ("train_rows", 64),
        ("log_history", .array(history)),
    ]))
}

/// Checks a document is well-formed XML (an SVG a browser will draw rather than show an error).
func isWellFormedXML(_ text: String) -> Bool {
    XMLParser(data: Data(text.utf8)).parse()
}

@Suite struct TrainingHistoryTests {
    @Test func readsLogsEvaluationsBestAndTimes() throws {
        let h = try TrainingHistory(trainerState: syntheticTrainerState())
        #expect(h.logLines.map(\.step) == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20])
        #expect(h.evaluations.map(\.step) == [4, 8, 12, 16, 20])
        #expect(h.evaluations[1].value("cosine_accuracy") == 0.75 && h.evaluations[1].value("runtime") == nil)
        #expect(h.best == TrainingHistory.Best(step: 8, metric: "cosine_accuracy", value: 0.75, hasCheckpoint: true))
        #expect(h.stepsPerEpoch == 4 && h.maxSteps == 20 && h.globalStep == 20)
        #expect(h.trainRuntime == 42.5 && h.evaluationRuntime == 2.5 && h.resumedFromStep == nil)
        #expect(h.accuracyMetrics == ["cosine_accuracy", "dot_accuracy", "euclidean_accuracy", "manhattan_accuracy"])
        #expect(h.finalEvaluation(loadBestModelAtEnd: true)?.step == 8)
        #expect(h.finalEvaluation(loadBestModelAtEnd: false)?.step == 20)
    }

    /// The best evaluation without a checkpoint (the final weights) is found by its value, and a
    /// loss metric is recognised as such.
    @Test func bestWithoutCheckpointIsFoundByValue() throws {
        let h = try TrainingHistory(trainerState: syntheticTrainerState(bestCheckpoint: nil, bestMetric: 1.0 / 20))
        #expect(h.best == TrainingHistory.Best(step: 20, metric: "loss", value: 0.05, hasCheckpoint: false))
        let none = try TrainingHistory(trainerState: syntheticTrainerState(bestCheckpoint: nil, bestMetric: nil))
        #expect(none.best == nil)
    }

    @Test func rejectsAFileWithoutLogHistory() {
        #expect(throws: EmbedError.self) { try TrainingHistory(trainerState: ["global_step": 3], source: "x.json") }
    }

    /// TensorBoard's debiased EMA, worked by hand for weight 0.6: 1, (0.24 + 0.8) / 0.64,
    /// (0.624 + 1.2) / 0.784; a NaN is skipped.
    @Test func smoothingIsTensorBoardsDebiasedEMA() {
        let pts = [1.0, 2.0, .nan, 3.0].enumerated().map { TrainingHistory.Point(step: Double($0.offset), value: $0.element) }
        let s = TrainingHistory.smoothed(pts, weight: 0.6)
        #expect(s.map(\.step) == [0, 1, 3])
        let want = [1.0, 1.04 / 0.64, 1.824 / 0.784]
        for (a, b) in zip(s.map(\.value), want) { #expect(abs(a - b) < 1e-12, "\(a) vs \(b)") }
        #expect(TrainingHistory.smoothed(pts, weight: 0).map(\.value) == [1, 2, 3])
    }
}

@Suite struct ChartAxisTests {
    @Test func ticksAreRoundAndCoverTheRange() {
        let t = ChartAxis.ticks(0, 237, count: 6)
        #expect(t.step == 50 && t.values == [0, 50, 100, 150, 200, 250])
        let lr = ChartAxis.ticks(0, 5e-5, count: 5)
        #expect(abs(lr.step - 1e-5) < 1e-18 && lr.values.count == 6)
        let acc = ChartAxis.ticks(72.0, 86.5, count: 5)
        #expect(acc.step == 2 && acc.values.first == 72 && acc.values.last == 88)
    }

    @Test func labelsUseTheSpacingsDecimalsOrScientificNotation() {
        #expect(ChartAxis.label(150, step: 50) == "150")
        #expect(ChartAxis.label(0.85, step: 0.05) == "0.85")
        #expect(ChartAxis.label(0, step: 1e-5) == "0")
        #expect(ChartAxis.label(5e-5, step: 1e-5) == "5e-5")
        #expect(ChartAxis.label(2.5e-5, step: 5e-6) == "2.5e-5")
        #expect(ChartAxis.label(1.2, step: 0.2) == "1.2")
    }
}

@Suite struct TrainingCurvesTests {
    @Test func drawsFourChartsWithAxesLegendsEpochsAndTheBestCheckpoint() throws {
        let svg = TrainingCurves.svg(try TrainingHistory(trainerState: syntheticTrainerState()))
        #expect(isWellFormedXML(svg))
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        for title in [">Loss<", ">Evaluation accuracy<", ">Learning rate<", ">Gradient norm<", ">optimizer step<",
                      ">MNRL loss (nats)<", ">triplet accuracy (%)<", ">training (smoothed)<", ">evaluation<", ">cosine<",
                      ">epoch 2<", ">epoch 5<", ">best<", ">best 75.00%<", "best: step 8, cosine_accuracy 75.00%",
                      "smoothing: TensorBoard&#39;s EMA, weight 0.6", ">5e-5<"] {
            #expect(svg.contains(title), "missing \(title)")
        }
        // Raw and smoothed loss, eval loss, four accuracies, learning rate, raw and smoothed gradient norm.
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 10)
        #expect(!svg.contains("nan") && !svg.contains("inf") && !svg.contains("<script") && !svg.contains("href"))
    }

    @Test func aRunInProgressShowsItsPlaceAndANaNBreaksTheLine() throws {
        let svg = TrainingCurves.svg(try TrainingHistory(trainerState: syntheticTrainerState(globalStep: 10, nanAt: 6)))
        #expect(isWellFormedXML(svg))
        #expect(svg.contains("step 10 of 20 (in progress)"))
        // The raw loss splits into two runs around the NaN: 2 + 1 smoothed + eval + 4 accuracies + lr + 2 grad norm.
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 11)
    }

    @Test func anEmptyRunSaysSo() throws {
        let svg = TrainingCurves.svg(try TrainingHistory(trainerState: ["global_step": 0, "max_steps": 100, "log_history": []]))
        #expect(isWellFormedXML(svg))
        #expect(svg.contains(">no data yet<") && svg.contains(">no evaluation yet<"))
    }
}

@Suite struct TripletExtremesTests {
    /// The kept extremes equal a full sort's ends, ties in data order; the histogram counts all.
    @Test func keepsTheLowestAndHighestMarginsLikeAFullSort() {
        var r = SplitMix64(seed: 9)
        var all: [(row: Int, p: Double, n: Double)] = []
        var x = TripletExtremes(k: 7, bins: 20)
        for row in 0..<2000 {
            let p = Double(r.next() % 1000) / 1000, n = Double(r.next() % 1000) / 1000
            all.append((row, p, n))
            x.add(row: row, positive: p, negative: n)
        }
        let sorted = all.enumerated().sorted { ($0.element.p - $0.element.n, $0.offset) < ($1.element.p - $1.element.n, $1.offset) }
        #expect(x.lowest.map(\.row) == sorted.prefix(7).map(\.element.row))
        let desc = all.enumerated().sorted { ($0.element.p - $0.element.n, -$0.offset) > ($1.element.p - $1.element.n, -$1.offset) }
        #expect(x.highest.map(\.row) == desc.prefix(7).map(\.element.row))
        #expect(x.count == 2000 && x.histogram.reduce(0, +) == 2000)
        #expect(x.errors == all.filter { !($0.p - $0.n > 0) }.count)
        #expect(x.rowsWithoutText == Set(x.lowest.map(\.row) + x.highest.map(\.row)))
        x.attach(row: x.lowest[0].row, texts: ["a", "b", "c"])
        #expect(x.lowest[0].texts == ["a", "b", "c"] && !x.rowsWithoutText.contains(x.lowest[0].row))
    }
}

@Suite struct EvaluationReportTests {
    func page(history: TrainingHistory?) -> String {
        var x = TripletExtremes(k: 2)
        x.add(row: 0, positive: 0.2, negative: 0.9)
        x.add(row: 1, positive: 0.9, negative: 0.1)
        x.add(row: 2, positive: 0.5, negative: 0.4)
        x.attach(row: 0, texts: ["<script>alert('x')</script>", "a & b", "\"quoted\"\u{1}"])
        let m = TripletMetrics(cosine: 2.0 / 3, dot: 2.0 / 3, euclidean: 1.0 / 3, manhattan: 1, count: 3)
        let base = TripletMetrics(cosine: 1.0 / 3, dot: 1.0 / 3, euclidean: 1.0 / 3, manhattan: 1.0 / 3, count: 3)
        return EvaluationReport(modelPath: "models/m", dataPath: "test.jsonl", columns: ["anchor", "positive", "negative"],
                                results: [.init(label: "m", metrics: m), .init(label: "base (baseline)", metrics: base, source: "base.json")],
                                history: history, extremes: x).html()
    }

    @Test func isSelfContainedAndEscapesTheData() throws {
        let html = page(history: try TrainingHistory(trainerState: syntheticTrainerState()))
        #expect(html.contains("Content-Security-Policy\" content=\"default-src 'none'"))
        #expect(!html.contains("<script") && !html.contains(" src=") && !html.contains("href=") && !html.contains("@import"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") && html.contains("a &amp; b")
                && html.contains("&quot;quoted&quot;\u{FFFD}"))
        // The accuracy table with the baseline and the change, the curves, both triplet lists.
        #expect(html.contains("<td>cosine_accuracy</td><td class=\"num\">66.67%</td><td class=\"num\">33.33%</td><td class=\"num up\">+33.33 pt</td>"))
        #expect(html.contains("Training curves") && html.contains("report-clip-3") && html.contains("Where the model errs most")
                && html.contains("Where the model is surest"))
        #expect(html.contains("<tr class=\"err\"><td class=\"num\">1</td>"))
        #expect(html.contains("1 of 3 (33.33%) are at or below zero"))
        // Every inline SVG is well-formed XML.
        var rest = Substring(html)
        var svgs = 0
        while let start = rest.range(of: "<svg"), let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex) {
            #expect(isWellFormedXML(String(rest[start.lowerBound..<end.upperBound])))
            svgs += 1
            rest = rest[end.upperBound...]
        }
        #expect(svgs == 2)
    }

    @Test func withoutATrainingRunSaysWhy() {
        let html = page(history: nil)
        #expect(html.contains("holds no <code>trainer_state.json</code>"))
    }
}
