import Foundation
import IO
import Inference
import NN
import TestSupport
import Testing
import Training

/// training_curves.svg from a real (tiny) run and `evaluate --report` over it, from JSON Lines and
/// from a tokens file; then both pages rendered in headless Chromium, as a person would open them.
@Suite(.enabled(if: ToolRunner.productsDirectory != nil, "needs the built tools beside the test bundle"))
struct ReportToolTests {
    /// A tiny model trained for 16 steps, its base, and a test split (JSONL and tokens).
    static func fixture() throws -> (root: String, base: String, out: String, jsonl: String, tokens: String) {
        let root = TestPaths.scratch("report")
        let base = try TinyModel.make(in: root + "/base")
        let data = try TinyModel.dataset(in: root + "/data", rows: ["test": 40], seed: 21)
        let opts = try TrainOptions.resolve(configText: Array("""
            model: {name: tiny, max_seq_length: 32}
            dataset: {name: synthetic}
            training: {output_dir: \(root)/out, per_device_train_batch_size: 8, num_train_epochs: 2, learning_rate: 1.0e-3,
                       eval_steps: 4, save_steps: 4, logging_steps: 1, seed: 5}
            """.utf8), configPath: "report.yaml", overrides: [])
        let inputs = TrainingInputs(modelDirectory: base, train: TinyModel.triplets(rows: 64, seed: 1), trainSource: "train",
                                    eval: TinyModel.triplets(rows: 40, seed: 2), evalSource: "eval")
        _ = try Trainer(options: opts, inputs: inputs).run()
        let tokens = root + "/test.tokens.safetensors"
        let tok = try ToolRunner.run("tokenize", ["--model", base, "--columns", "anchor,positive,negative", "--quiet", "-o", tokens,
                                                  data + "/test.jsonl"])
        #expect(tok.status == 0, "\(tok.stderr)")
        return (root, base, root + "/out", data + "/test.jsonl", tokens)
    }

    @discardableResult
    static func evaluate(_ args: [String]) throws -> ToolRunner.Result {
        let r = try ToolRunner.run("evaluate", args)
        #expect(r.status == 0, "evaluate \(args): \(r.stderr)")
        return r
    }

    @Test func theReportShowsAccuraciesCurvesAndTheExtremeTriplets() throws {
        let f = try Self.fixture()
        try Self.evaluate(["--model", f.base, "-o", f.root + "/base.json", "--quiet", f.jsonl])
        let report = f.root + "/report.html"
        let r = try Self.evaluate(["--model", f.out, "-o", f.root + "/finetuned.json", "--report", report, "--report-rows", "5",
                                   "--baseline", f.root + "/base.json", f.jsonl])
        #expect(r.stderr.contains("Wrote the report to \(report)"))
        let html = try String(contentsOfFile: report, encoding: .utf8)
        // The curves are those of training_curves.svg, drawn from the folder's trainer_state.json.
        let history = try TrainingHistory(stateFile: f.out + "/trainer_state.json")
        #expect(try String(contentsOfFile: f.out + "/training_curves.svg", encoding: .utf8) == TrainingCurves.svg(history))
        #expect(html.contains(TrainingCurves.body(history, title: "Training curves", idPrefix: "report")))
        // Both results, the five worst and five best triplets with their texts.
        let finetuned = try TripletMetrics(json: try FileSystem.readJSON(f.root + "/finetuned.json"), source: "finetuned.json")
        #expect(html.contains(String(format: "%.2f%%", finetuned.cosine * 100)) && html.contains("base (baseline)"))
        #expect(html.components(separatedBy: "<tr class=\"err\">").count + html.components(separatedBy: "<tr><td class=\"num\">").count - 2 == 10)
        let rows = try JSONLReader(path: f.jsonl)
        var texts: [String] = []
        while let row = try rows.nextRow(columns: ["anchor", "positive", "negative"]) { texts += row }
        let shown = texts.filter { html.contains("<td>\(SVG.escape($0))</td>") }.count
        #expect(shown >= 10, "only \(shown) texts of the 10 triplets appear")

        // From the tokens file: the same accuracy, the texts found through its source.
        let fromTokens = f.root + "/report-tokens.html"
        try Self.evaluate(["--model", f.out, "-o", f.root + "/t.json", "--report", fromTokens, "--report-rows", "5", "--quiet", f.tokens])
        let t = try TripletMetrics(json: try FileSystem.readJSON(f.root + "/t.json"), source: "t.json")
        #expect(t == finetuned)
        let tokensHTML = try String(contentsOfFile: fromTokens, encoding: .utf8)
        #expect(texts.filter { tokensHTML.contains("<td>\(SVG.escape($0))</td>") }.count >= 10)
        #expect(!tokensHTML.contains("The texts are not shown"))

        // Options that make no sense alone are refused.
        let bad = try ToolRunner.run("evaluate", ["--model", f.out, "--baseline", f.root + "/base.json", f.jsonl])
        #expect(bad.status != 0 && bad.stderr.contains("--baseline is shown in the report"))
    }

    /// Both pages in a real browser: drawn (not blank), and not a single console message (no script
    /// error, no blocked fetch, no SVG parse error).
    @Test(.enabled(if: HeadlessChromium.binary != nil, "chromium is not installed (.ci/run installs it): the pages are not rendered"))
    func thePagesRenderInChromiumWithoutConsoleErrors() throws {
        let f = try Self.fixture()
        try Self.evaluate(["--model", f.base, "-o", f.root + "/base.json", "--quiet", f.jsonl])
        let report = f.root + "/report.html"
        try Self.evaluate(["--model", f.out, "-o", f.root + "/finetuned.json", "--report", report, "--baseline", f.root + "/base.json",
                           "--quiet", f.jsonl])
        for (file, width, height) in [(f.out + "/training_curves.svg", 1000, 640), (report, 1100, 2600)] {
            let r = try HeadlessChromium.render(file: file, width: width, height: height)
            #expect(r.consoleMessages.isEmpty, "\(file): console: \(r.consoleMessages)")
            #expect(!r.dom.contains("parsererror"), "\(file) does not parse: \(r.dom.prefix(1000))")
            #expect(r.dom.contains("<svg"))
            #expect(r.screenshot.width == width && r.screenshot.height == height)
            // Lines, text and coloured curves: well over 2% of the pixels and many colours.
            #expect(r.screenshot.nonBackgroundShare > 0.02, "\(file) looks blank: \(r.screenshot.nonBackgroundShare)")
            #expect(r.screenshot.distinctColors() >= 16, "\(file) has \(r.screenshot.distinctColors()) colours")
        }
        // Controls: a page with a script error is caught…
        let broken = f.root + "/broken.html"
        try "<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction()</script></body></html>"
            .write(toFile: broken, atomically: true, encoding: .utf8)
        #expect(try HeadlessChromium.render(file: broken, width: 400, height: 300).consoleMessages.count == 1)
        // And a blank page is seen as blank (the drawn-page checks above can fail).
        let blank = f.root + "/blank.html"
        try "<!DOCTYPE html><html><body></body></html>".write(toFile: blank, atomically: true, encoding: .utf8)
        let empty = try HeadlessChromium.render(file: blank, width: 400, height: 300)
        #expect(empty.consoleMessages.isEmpty && empty.screenshot.nonBackgroundShare < 0.001 && empty.screenshot.distinctColors() < 16)
    }
}
