import Foundation

/// training_curves.svg: four charts against the optimizer step — the training loss (every log line,
/// its smoothed trend, and the evaluation loss), the evaluation accuracies, the learning rate and
/// the gradient norm — with epoch boundaries and the best checkpoint marked in each. The x axis
/// spans the whole planned run, so a run in progress shows how far it has come.
package enum TrainingCurves {
    /// TensorBoard's default smoothing weight (its debiased exponential moving average).
    package static let smoothingWeight = 0.6
    package static let width = 980.0
    static let panelHeight = 280.0
    static let headerHeight = 58.0
    package static var height: Double { headerHeight + 2 * panelHeight }

    static let blue = "#1f77b4", orange = "#ff7f0e", green = "#2ca02c", red = "#d62728", purple = "#9467bd", brown = "#8c564b"
    static let accuracyColors = [blue, orange, purple, brown, red]
    static let bestColor = green

    /// A standalone SVG document.
    package static func svg(_ h: TrainingHistory, title: String = "Training curves") -> String {
        SVG.open(width: width, height: height, title: title + " — " + subtitle(h)) + body(h, title: title, idPrefix: "tc") + "</svg>\n"
    }

    /// The charts without the `<svg>` element, for embedding in a page; `idPrefix` keeps clip-path
    /// ids unique when a page holds several drawings.
    package static func body(_ h: TrainingHistory, title: String, idPrefix: String) -> String {
        var s = SVG.text(title, x: 20, y: 26, attributes: "font-size='18' font-weight='bold' fill='#111'")
        s += SVG.text(subtitle(h), x: 20, y: 46, attributes: "font-size='12' fill='#444'")
        let xRange = 0...Double(max(h.maxSteps, h.globalStep, 1))
        let w = width / 2
        let charts = [lossChart(h, xRange), accuracyChart(h, xRange), learningRateChart(h, xRange), gradNormChart(h, xRange)]
        for (i, chart) in charts.enumerated() {
            var c = chart
            c.markers = markers(h)
            s += c.render(x: Double(i % 2) * w, y: headerHeight + Double(i / 2) * panelHeight, width: w, height: panelHeight,
                          id: "\(idPrefix)-clip-\(i)")
        }
        return s
    }

    /// One line under the title: progress, epochs, the best checkpoint, the smoothing used.
    static func subtitle(_ h: TrainingHistory) -> String {
        var parts: [String] = []
        parts.append(h.globalStep < h.maxSteps ? "step \(h.globalStep) of \(h.maxSteps) (in progress)" : "\(h.globalStep) optimizer steps")
        if let spe = h.stepsPerEpoch, spe > 0 { parts.append("\(decimal(Double(h.globalStep) / spe, 2)) epochs") }
        if let b = h.best {
            let value = b.metric == "loss" ? decimal(b.value, 4) : decimal(b.value * 100, 2) + "%"
            parts.append("best: step \(b.step), \(b.metric) \(value)" + (b.hasCheckpoint ? "" : " (final weights)"))
        }
        parts.append("smoothing: TensorBoard's EMA, weight \(smoothingWeight)")
        return parts.joined(separator: " · ")
    }

    static func markers(_ h: TrainingHistory) -> [SVGChart.Marker] {
        var m: [SVGChart.Marker] = []
        if let spe = h.stepsPerEpoch, spe > 0 {
            let epochs = Int((Double(h.maxSteps) / spe).rounded(.up))
            if epochs <= 12 {
                for e in stride(from: 1, to: epochs, by: 1) {
                    m.append(SVGChart.Marker(x: Double(e) * spe, label: "epoch \(e + 1)", color: "#999", dash: "2,3"))
                }
            }
        }
        if let b = h.best { m.append(SVGChart.Marker(x: Double(b.step), label: "best", color: bestColor, dash: "6,3")) }
        return m
    }

    static func lossChart(_ h: TrainingHistory, _ x: ClosedRange<Double>) -> SVGChart {
        var c = SVGChart(title: "Loss", xLabel: "optimizer step", yLabel: "MNRL loss (nats)", xRange: x)
        let raw = h.loss
        c.series = [
            SVGChart.Series(name: "training (raw)", color: blue, points: raw, width: 1, opacity: 0.35),
            SVGChart.Series(name: "training (smoothed)", color: blue, points: TrainingHistory.smoothed(raw, weight: smoothingWeight), width: 2),
        ]
        let evalLoss = h.evaluationSeries("loss")
        if !evalLoss.isEmpty {
            c.series.append(SVGChart.Series(name: "evaluation", color: orange, points: evalLoss, width: 1.5, dots: true))
        }
        if let b = h.best, b.metric == "loss", let p = evalLoss.last(where: { Int($0.step) == b.step }) {
            c.highlights = [(p, "best " + decimal(p.value, 4), bestColor)]
        }
        return c
    }

    static func accuracyChart(_ h: TrainingHistory, _ x: ClosedRange<Double>) -> SVGChart {
        var c = SVGChart(title: "Evaluation accuracy", xLabel: "optimizer step", yLabel: "triplet accuracy (%)", xRange: x)
        c.format = .percent
        c.emptyMessage = h.evaluations.isEmpty ? "no evaluation yet" : "no accuracy logged"
        for (i, name) in h.accuracyMetrics.enumerated() {
            c.series.append(SVGChart.Series(name: name.replacingOccurrences(of: "_accuracy", with: ""),
                                            color: accuracyColors[i % accuracyColors.count], points: h.evaluationSeries(name),
                                            width: i == 0 ? 2 : 1.2, opacity: i == 0 ? 1 : 0.8, dots: true))
        }
        if let b = h.best, b.metric != "loss", let p = h.evaluationSeries(b.metric).last(where: { Int($0.step) == b.step }) {
            c.highlights = [(p, "best " + decimal(p.value * 100, 2) + "%", bestColor)]
        }
        return c
    }

    static func learningRateChart(_ h: TrainingHistory, _ x: ClosedRange<Double>) -> SVGChart {
        var c = SVGChart(title: "Learning rate", xLabel: "optimizer step", yLabel: "learning rate", xRange: x)
        c.yIncludesZero = true
        c.series = [SVGChart.Series(name: "AdamW learning rate", color: purple, points: h.learningRate, width: 2)]
        return c
    }

    static func gradNormChart(_ h: TrainingHistory, _ x: ClosedRange<Double>) -> SVGChart {
        var c = SVGChart(title: "Gradient norm", xLabel: "optimizer step", yLabel: "global L2 norm, before clipping", xRange: x)
        c.yIncludesZero = true
        let raw = h.gradNorm
        c.series = [
            SVGChart.Series(name: "raw", color: red, points: raw, width: 1, opacity: 0.35),
            SVGChart.Series(name: "smoothed", color: red, points: TrainingHistory.smoothed(raw, weight: smoothingWeight), width: 2),
        ]
        return c
    }

    static func decimal(_ v: Double, _ places: Int) -> String { String(format: "%.\(places)f", v) }
}
