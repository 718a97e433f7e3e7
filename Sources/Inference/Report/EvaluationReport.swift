import Foundation
import IO

/// `evaluate --report FILE.html`: one self-contained page (inline CSS and SVG; its
/// Content-Security-Policy forbids every fetch, so it never touches the network) with the accuracy
/// table (beside a baseline, e.g. the base model, when given), the training curves when the model
/// folder holds a run's trainer_state.json, the distribution of margins, and the triplets the model
/// gets most wrong and most right, with their texts and similarities.
package struct EvaluationReport {
    /// One column of the accuracy table.
    package struct Result {
        package var label: String
        package var metrics: TripletMetrics
        package var source: String?

        package init(label: String, metrics: TripletMetrics, source: String? = nil) {
            self.label = label
            self.metrics = metrics
            self.source = source
        }
    }

    package var modelPath: String
    package var dataPath: String
    package var columns: [String]
    /// This model's result first, then baselines.
    package var results: [Result]
    package var history: TrainingHistory?
    package var extremes: TripletExtremes
    /// Why the triplets' texts are missing, when they are.
    package var textsNote: String?

    package init(modelPath: String, dataPath: String, columns: [String], results: [Result], history: TrainingHistory?,
                 extremes: TripletExtremes, textsNote: String? = nil) {
        self.modelPath = modelPath
        self.dataPath = dataPath
        self.columns = columns
        self.results = results
        self.history = history
        self.extremes = extremes
        self.textsNote = textsNote
    }

    static func esc(_ s: String) -> String { SVG.escape(s) }
    static func pct(_ v: Double) -> String { String(format: "%.2f%%", v * 100) }

    package func html() -> String {
        var h = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Evaluation report: \(Self.esc(modelPath))</title>
        <style>\(Self.css)</style>
        </head>
        <body>
        <h1>Evaluation report</h1>
        <p class="meta">Model <code>\(Self.esc(modelPath))</code> · data <code>\(Self.esc(dataPath))</code> · \
        \(results.first?.metrics.count ?? 0) triplets · written by <code>evaluate</code> \(Self.esc(EmbedKitVersion.string))</p>

        """
        h += accuracySection()
        h += trainingSection()
        h += marginSection()
        h += tripletSection(title: "Where the model errs most",
                            intro: "The \(extremes.lowest.count) triplets with the lowest margin cos(anchor, positive) − cos(anchor, negative): a margin at or below zero is an error (the negative ranks first).",
                            items: extremes.lowest, id: "worst")
        h += tripletSection(title: "Where the model is surest",
                            intro: "The \(extremes.highest.count) triplets with the highest margin.",
                            items: extremes.highest, id: "best")
        h += "</body>\n</html>\n"
        return h
    }

    func accuracySection() -> String {
        guard let main = results.first else { return "" }
        var h = "<h2>Triplet accuracy</h2>\n<p>The share of triplets where the anchor is closer to its positive than to its negative, by each similarity (as sentence-transformers' TripletEvaluator computes it).</p>\n"
        h += "<table class=\"metrics\">\n<thead><tr><th>metric</th>"
        for r in results { h += "<th>\(Self.esc(r.label))</th>" }
        if results.count > 1 { h += "<th>change</th>" }
        h += "</tr></thead>\n<tbody>\n"
        for (i, (name, value)) in main.metrics.named.enumerated() {
            h += i == 0 ? "<tr class=\"primary\">" : "<tr>"
            h += "<td>\(Self.esc(name))</td><td class=\"num\">\(Self.pct(value))</td>"
            for r in results.dropFirst() { h += "<td class=\"num\">\(Self.pct(r.metrics.named[i].1))</td>" }
            if results.count > 1 {
                let d = (value - results[1].metrics.named[i].1) * 100
                h += "<td class=\"num \(d > 0 ? "up" : d < 0 ? "down" : "")\">\(String(format: "%+.2f", d)) pt</td>"
            }
            h += "</tr>\n"
        }
        h += "<tr><td>triplets</td>"
        for r in results { h += "<td class=\"num\">\(r.metrics.count)</td>" }
        if results.count > 1 { h += "<td></td>" }
        h += "</tr>\n</tbody>\n</table>\n"
        let sources = results.compactMap { r in r.source.map { "<li>\(Self.esc(r.label)): <code>\(Self.esc($0))</code></li>" } }
        if !sources.isEmpty { h += "<ul class=\"sources\">\n" + sources.joined(separator: "\n") + "\n</ul>\n" }
        return h
    }

    func trainingSection() -> String {
        guard let hist = history else {
            return "<h2>Training run</h2>\n<p class=\"note\">The model folder holds no <code>trainer_state.json</code>, so there are no training curves to show (it was not trained by <code>train</code>, or not here).</p>\n"
        }
        var h = "<h2>Training run</h2>\n<figure>\n"
        h += "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(SVG.n(TrainingCurves.width)) \(SVG.n(TrainingCurves.height))\" role=\"img\" aria-label=\"training curves\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
        h += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        h += TrainingCurves.body(hist, title: "Training curves", idPrefix: "report")
        h += "</svg>\n<figcaption>From <code>\(Self.esc(modelPath))/trainer_state.json</code>: the same drawing as the run's <code>training_curves.svg</code>.</figcaption>\n</figure>\n"
        if let e = hist.evaluations.last {
            h += "<p>\(hist.globalStep) optimizer steps; the last evaluation (step \(e.step))"
            if let acc = e.value("cosine_accuracy") { h += " scored cosine accuracy \(Self.pct(acc))" }
            h += " on the evaluation split."
            if let b = hist.best {
                h += " Best: step \(b.step), \(Self.esc(b.metric)) \(b.metric == "loss" ? String(format: "%.4f", b.value) : Self.pct(b.value))."
            }
            h += "</p>\n"
        }
        return h
    }

    func marginSection() -> String {
        guard extremes.count > 0 else { return "" }
        let share = Double(extremes.errors) / Double(extremes.count)
        var h = "<h2>Margins</h2>\n<p>cos(anchor, positive) − cos(anchor, negative) for every triplet: \(extremes.errors) of \(extremes.count) (\(Self.pct(share))) are at or below zero (red).</p>\n<figure>\n"
        h += marginHistogram()
        h += "</figure>\n"
        return h
    }

    /// A bar chart of the margin histogram.
    func marginHistogram() -> String {
        let width = 980.0, height = 260.0
        let left = 64.0, right = width - 16, top = 16.0, bottom = height - 40
        let bins = extremes.histogram
        let limit = TripletExtremes.histogramLimit
        let maxCount = Double(bins.max() ?? 1)
        let yTicks = ChartAxis.ticks(0, max(maxCount, 1), count: 4)
        let yHi = max(yTicks.values.last ?? maxCount, 1)
        func px(_ m: Double) -> Double { left + (m + limit) / (2 * limit) * (right - left) }
        func py(_ c: Double) -> Double { bottom - c / yHi * (bottom - top) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(SVG.n(width)) \(SVG.n(height))\" role=\"img\" aria-label=\"margin histogram\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
        s += "<rect x=\"\(SVG.n(left))\" y=\"\(SVG.n(top))\" width=\"\(SVG.n(right - left))\" height=\"\(SVG.n(bottom - top))\" fill=\"#fff\" stroke=\"#bbb\"/>\n"
        for t in yTicks.values where t <= yHi {
            s += SVG.line(left, py(t), right, py(t), stroke: "#eee")
            s += SVG.text(ChartAxis.label(t, step: max(yTicks.step, 1)), x: left - 7, y: py(t) + 4, attributes: "font-size='11' fill='#444' text-anchor='end'")
        }
        let bw = (right - left) / Double(bins.count)
        for (i, c) in bins.enumerated() where c > 0 {
            let lo = -limit + Double(i) * 2 * limit / Double(bins.count)
            let color = lo < 0 ? "#d62728" : "#1f77b4"
            s += "<rect x=\"\(SVG.n(left + Double(i) * bw + 0.5))\" y=\"\(SVG.n(py(Double(c))))\" width=\"\(SVG.n(bw - 1))\" height=\"\(SVG.n(bottom - py(Double(c))))\" fill=\"\(color)\"><title>\(c) triplets with margin in [\(String(format: "%.2f", lo)), \(String(format: "%.2f", lo + 2 * limit / Double(bins.count))))</title></rect>\n"
        }
        let xTicks = ChartAxis.ticks(-limit, limit, count: 8)
        for t in xTicks.values where t >= -limit && t <= limit {
            s += SVG.line(px(t), bottom, px(t), bottom + 4, stroke: "#888")
            s += SVG.text(ChartAxis.label(t, step: xTicks.step), x: px(t), y: bottom + 16, attributes: "font-size='11' fill='#444' text-anchor='middle'")
        }
        s += SVG.line(px(0), top, px(0), bottom, stroke: "#333", width: 1)
        s += SVG.text("margin: cos(anchor, positive) − cos(anchor, negative)  (values beyond ±1 in the end bars)", x: (left + right) / 2, y: bottom + 32,
                      attributes: "font-size='12' fill='#333' text-anchor='middle'")
        s += SVG.text("triplets", x: 0, y: 0, attributes: "font-size='12' fill='#333' text-anchor='middle' transform='translate(16,\(SVG.n((top + bottom) / 2))) rotate(-90)'")
        return s + "</svg>\n"
    }

    func tripletSection(title: String, intro: String, items: [TripletExtremes.Scored], id: String) -> String {
        guard !items.isEmpty else { return "" }
        var h = "<h2 id=\"\(id)\">\(Self.esc(title))</h2>\n<p>\(Self.esc(intro))</p>\n"
        if let note = textsNote { h += "<p class=\"note\">\(Self.esc(note))</p>\n" }
        let names = columns.count == 3 ? columns : ["anchor", "positive", "negative"]
        h += "<table class=\"triplets\">\n<thead><tr><th>row</th><th>\(Self.esc(names[0]))</th><th>\(Self.esc(names[1]))</th><th>\(Self.esc(names[2]))</th>"
        h += "<th>cos(a, p)</th><th>cos(a, n)</th><th>margin</th></tr></thead>\n<tbody>\n"
        for t in items {
            h += t.margin > 0 ? "<tr>" : "<tr class=\"err\">"
            h += "<td class=\"num\">\(t.row + 1)</td>"
            for c in 0..<3 {
                let text = t.texts.map { $0[c] }
                h += "<td>" + (text.map { Self.esc(Self.clip($0)) } ?? "<span class=\"note\">—</span>") + "</td>"
            }
            h += "<td class=\"num\">\(String(format: "%.4f", t.positive))</td><td class=\"num\">\(String(format: "%.4f", t.negative))</td>"
            h += "<td class=\"num\">\(String(format: "%+.4f", t.margin))</td></tr>\n"
        }
        return h + "</tbody>\n</table>\n"
    }

    /// Long texts cut at 500 characters for the table.
    static func clip(_ s: String) -> String { s.count > 500 ? String(s.prefix(500)) + "…" : s }

    static let css = """

        body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #222; background: #fff; margin: 24px auto; max-width: 1040px; padding: 0 16px; line-height: 1.45; }
        h1 { font-size: 26px; margin: 0 0 4px; }
        h2 { font-size: 19px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
        code { font-family: "DejaVu Sans Mono", monospace; font-size: 90%; background: #f4f4f4; padding: 0 3px; }
        .meta, .note, figcaption { color: #555; font-size: 14px; }
        figure { margin: 8px 0; }
        figure svg { width: 100%; height: auto; border: 1px solid #e4e4e4; }
        table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
        th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
        th { background: #f3f5f7; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
        tr.primary td { font-weight: bold; }
        td.up { color: #17803d; } td.down { color: #b42318; }
        table.triplets { width: 100%; table-layout: fixed; }
        table.triplets th:nth-child(1) { width: 52px; }
        table.triplets th:nth-child(n+5) { width: 78px; }
        table.triplets td { word-wrap: break-word; }
        tr.err td { background: #fdecec; }
        ul.sources { font-size: 13px; color: #555; }

        """
}
