import Foundation

/// A line chart drawn as plain SVG: a title, a one-line legend, a framed plot with "nice" ticks
/// (1, 2 or 5 × 10^k apart), axis labels, vertical markers (epochs, the best checkpoint), series as
/// polylines and/or dots. No fonts, scripts or styles from outside: it renders the same in any
/// browser, in a Markdown viewer (the model card embeds training_curves.svg) and inline in HTML.
/// Our own because the alternatives are JavaScript plotting libraries or Python's matplotlib.
package struct SVGChart: Sendable {
    package typealias Point = TrainingHistory.Point

    package struct Series: Sendable {
        package var name: String
        package var color: String
        package var points: [Point]
        package var width: Double = 1.5
        package var opacity: Double = 1
        package var line = true
        package var dots = false

        package init(name: String, color: String, points: [Point], width: Double = 1.5, opacity: Double = 1,
                     line: Bool = true, dots: Bool = false) {
            self.name = name
            self.color = color
            self.points = points
            self.width = width
            self.opacity = opacity
            self.line = line
            self.dots = dots
        }
    }

    /// A vertical line across the plot at `x`, labelled at its top.
    package struct Marker: Sendable {
        package var x: Double
        package var label: String
        package var color: String
        package var dash: String
    }

    /// How tick labels on the y axis are written.
    package enum Format: Sendable {
        case plain
        /// Values are fractions, labelled as percentages.
        case percent
    }

    package var title: String
    package var xLabel: String
    package var yLabel: String
    package var series: [Series] = []
    package var markers: [Marker] = []
    /// Points drawn as open rings (the best evaluation), with a label beside them.
    package var highlights: [(point: Point, label: String, color: String)] = []
    package var xRange: ClosedRange<Double>
    package var yIncludesZero = false
    package var format: Format = .plain
    /// Shown in the plot when no series has a point.
    package var emptyMessage = "no data yet"

    package init(title: String, xLabel: String, yLabel: String, xRange: ClosedRange<Double>) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xRange = xRange
    }

    /// The chart as an SVG `<g>` in the box (x, y, width, height); `id` makes its clip path unique
    /// in the document.
    package func render(x x0: Double, y y0: Double, width: Double, height: Double, id: String) -> String {
        let left = x0 + 64, right = x0 + width - 16, top = y0 + 46, bottom = y0 + height - 40
        var s = "<g>\n"
        s += SVG.text(title, x: left, y: y0 + 17, attributes: "font-size='14' font-weight='bold' fill='#222'")
        s += legend(x: left, y: y0 + 34, maxX: right)
        s += "<rect x='\(SVG.n(left))' y='\(SVG.n(top))' width='\(SVG.n(right - left))' height='\(SVG.n(bottom - top))' fill='#fff' stroke='#bbb'/>" + "\n"

        let values = series.flatMap { $0.points.map(\.value) }.filter(\.isFinite).map(scaled)
            + highlights.map { scaled($0.point.value) }.filter(\.isFinite)
        let xs = xRange.upperBound > xRange.lowerBound ? xRange : xRange.lowerBound...(xRange.lowerBound + 1)
        let xTicks = ChartAxis.ticks(xs.lowerBound, xs.upperBound, count: 6)
        func px(_ v: Double) -> Double { left + (v - xs.lowerBound) / (xs.upperBound - xs.lowerBound) * (right - left) }

        // x axis: grid, tick labels, label.
        for t in xTicks.values where t >= xs.lowerBound && t <= xs.upperBound {
            s += SVG.line(px(t), top, px(t), bottom, stroke: "#eee")
            s += SVG.line(px(t), bottom, px(t), bottom + 4, stroke: "#888")
            s += SVG.text(ChartAxis.label(t, step: xTicks.step), x: px(t), y: bottom + 16,
                          attributes: "font-size='11' fill='#444' text-anchor='middle'")
        }
        s += SVG.text(xLabel, x: (left + right) / 2, y: bottom + 32, attributes: "font-size='12' fill='#333' text-anchor='middle'")
        s += SVG.text(yLabel, x: 0, y: 0, attributes:
            "font-size='12' fill='#333' text-anchor='middle' transform='translate(\(SVG.n(x0 + 14)),\(SVG.n((top + bottom) / 2))) rotate(-90)'")

        guard !values.isEmpty else {
            s += SVG.text(emptyMessage, x: (left + right) / 2, y: (top + bottom) / 2,
                          attributes: "font-size='13' fill='#888' text-anchor='middle'")
            return s + "</g>\n"
        }
        var lo = values.min()!, hi = values.max()!
        if yIncludesZero { lo = min(lo, 0); hi = max(hi, 0) }
        if hi - lo < 1e-12 * max(1, abs(hi)) {
            let pad = abs(hi) > 0 ? abs(hi) * 0.1 : 1
            lo -= pad
            hi += pad
        }
        // Headroom: the highest point (often the best evaluation, ringed) is not drawn on the frame.
        hi += (hi - lo) * 0.03
        let yTicks = ChartAxis.ticks(lo, hi, count: 5)
        let yLo = min(lo, yTicks.values.first ?? lo), yHi = max(hi, yTicks.values.last ?? hi)
        func py(_ v: Double) -> Double { bottom - (v - yLo) / (yHi - yLo) * (bottom - top) }
        for t in yTicks.values where t >= yLo - 1e-12 && t <= yHi + 1e-12 {
            s += SVG.line(left, py(t), right, py(t), stroke: "#eee")
            s += SVG.line(left - 4, py(t), left, py(t), stroke: "#888")
            s += SVG.text(ChartAxis.label(t, step: yTicks.step) + (format == .percent ? "%" : ""), x: left - 7, y: py(t) + 4,
                          attributes: "font-size='11' fill='#444' text-anchor='end'")
        }
        s += "<clipPath id='\(id)'><rect x='\(SVG.n(left))' y='\(SVG.n(top - 1))' width='\(SVG.n(right - left))' height='\(SVG.n(bottom - top + 2))'/></clipPath>" + "\n"
        s += "<g clip-path='url(#\(id))'>" + "\n"
        for m in markers where m.x >= xs.lowerBound && m.x <= xs.upperBound {
            s += "<line x1='\(SVG.n(px(m.x)))' y1='\(SVG.n(top))' x2='\(SVG.n(px(m.x)))' y2='\(SVG.n(bottom))' stroke='\(m.color)' stroke-width='1.2' stroke-dasharray='\(m.dash)'/>" + "\n"
        }
        for sr in series {
            if sr.line {
                for segment in Self.finiteRuns(sr.points) where segment.count > 1 {
                    let pts = segment.map { "\(SVG.n(px($0.step))),\(SVG.n(py(scaled($0.value))))" }.joined(separator: " ")
                    s += "<polyline fill='none' stroke='\(sr.color)' stroke-width='\(SVG.n(sr.width))' stroke-opacity='\(SVG.n(sr.opacity))' stroke-linejoin='round' points='\(pts)'/>" + "\n"
                }
            }
            if sr.dots || sr.points.filter({ $0.value.isFinite }).count == 1 {
                for p in sr.points where p.value.isFinite {
                    s += "<circle cx='\(SVG.n(px(p.step)))' cy='\(SVG.n(py(scaled(p.value))))' r='2.6' fill='\(sr.color)' fill-opacity='\(SVG.n(sr.opacity))'/>" + "\n"
                }
            }
        }
        for h in highlights where h.point.value.isFinite {
            s += "<circle cx='\(SVG.n(px(h.point.step)))' cy='\(SVG.n(py(scaled(h.point.value))))' r='6' fill='none' stroke='\(h.color)' stroke-width='2'/>" + "\n"
        }
        s += "</g>\n"
        // Marker labels outside the clip, so they are never cut; flipped left near the right edge.
        for m in markers where m.x >= xs.lowerBound && m.x <= xs.upperBound && !m.label.isEmpty {
            let nearRight = px(m.x) > right - 70
            s += SVG.text(m.label, x: px(m.x) + (nearRight ? -3 : 3), y: top + 11,
                          attributes: "font-size='10' fill='\(m.color)'\(nearRight ? " text-anchor='end'" : "")")
        }
        for h in highlights where h.point.value.isFinite && !h.label.isEmpty {
            let x = px(h.point.step), y = py(scaled(h.point.value))
            let nearRight = x > right - 110
            s += SVG.text(h.label, x: x + (nearRight ? -9 : 9), y: y + (y < top + 24 ? 26 : -8),  // below a point at the top, clear of the markers' labels
                          attributes: "font-size='11' font-weight='bold' fill='\(h.color)'\(nearRight ? " text-anchor='end'" : "")")
        }
        return s + "</g>\n"
    }

    func scaled(_ v: Double) -> Double { format == .percent ? v * 100 : v }

    /// A legend on one line: a short stroke (or dot) in each series' colour, then its name.
    func legend(x: Double, y: Double, maxX: Double) -> String {
        var s = ""
        var cx = x
        for sr in series {
            let width = 26 + SVG.textWidth(sr.name, fontSize: 11) + 14
            if cx + width > maxX + 10 && cx > x { break }
            if sr.line {
                s += SVG.line(cx, y - 4, cx + 20, y - 4, stroke: sr.color, width: max(sr.width, 2), opacity: max(sr.opacity, 0.5))
            } else {
                s += "<circle cx='\(SVG.n(cx + 10))' cy='\(SVG.n(y - 4))' r='3' fill='\(sr.color)'/>" + "\n"
            }
            s += SVG.text(sr.name, x: cx + 26, y: y, attributes: "font-size='11' fill='#333'")
            cx += width
        }
        return s
    }

    /// Runs of consecutive finite points (a NaN loss breaks the line instead of bending it).
    static func finiteRuns(_ points: [Point]) -> [[Point]] {
        var runs: [[Point]] = [[]]
        for p in points {
            if p.value.isFinite { runs[runs.count - 1].append(p) } else if !runs[runs.count - 1].isEmpty { runs.append([]) }
        }
        return runs.filter { !$0.isEmpty }
    }
}

/// Tick positions and labels.
package enum ChartAxis {
    /// About `count` round tick values (1, 2 or 5 × 10^k apart) spanning lo...hi, extended to the
    /// ticks just outside it, and the spacing.
    package static func ticks(_ lo: Double, _ hi: Double, count: Int) -> (values: [Double], step: Double) {
        guard lo.isFinite, hi.isFinite, hi > lo else { return ([lo], 1) }
        let rough = (hi - lo) / Double(max(count, 1))
        let magnitude = pow(10, (log10(rough)).rounded(.down))
        let n = rough / magnitude
        let step = (n < 1.5 ? 1 : n < 3 ? 2 : n < 7 ? 5 : 10) * magnitude
        // The tolerance points inwards: a bound on a tick (0, or 250 for 0...250) is that tick, not one beyond.
        let first = (lo / step + 1e-9).rounded(.down), last = (hi / step - 1e-9).rounded(.up)
        var values: [Double] = []
        var k = first
        while k <= last + 1e-9 && values.count < 100 {
            values.append(abs(k) < 1e-9 ? 0 : k * step)
            k += 1
        }
        return (values, step)
    }

    /// A tick label: as many decimals as the spacing needs; spacings below 0.001 in scientific
    /// notation (`2e-5`, `2.5e-5`), as learning rates are written.
    package static func label(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        if step < 1e-3 || abs(v) >= 1e6 {
            let exponent = Int(log10(abs(v)).rounded(.down))
            let mantissa = v / pow(10, Double(exponent))
            let decimals = max(0, min(3, exponent - Int(log10(step).rounded(.down))))
            var m = String(format: "%.\(decimals)f", mantissa)
            if m.contains(".") { while m.hasSuffix("0") { m.removeLast() }; if m.hasSuffix(".") { m.removeLast() } }
            return "\(m)e\(exponent)"
        }
        let decimals = max(0, min(6, -Int(log10(step).rounded(.down))))
        return String(format: "%.\(decimals)f", v)
    }
}

/// Small helpers for writing SVG (and the XML-safe text both SVG and HTML need).
package enum SVG {
    /// A coordinate with one decimal, without a trailing `.0`.
    package static func n(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        if r == r.rounded() { return String(Int(r)) }
        return String(format: "%.1f", r)
    }

    /// Text made safe inside XML/HTML elements and attributes: the five special characters escaped,
    /// and characters XML forbids (C0 controls other than tab and newline, lone surrogates cannot
    /// occur in a Swift String) replaced by U+FFFD.
    package static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n": out.unicodeScalars.append(u)
            case "\r": out += "&#13;"
            default:
                if u.value < 0x20 || u.value == 0xFFFE || u.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }

    static func text(_ t: String, x: Double, y: Double, attributes: String) -> String {
        "<text x=\"\(n(x))\" y=\"\(n(y))\" \(attributes)>\(escape(t))</text>\n"
    }

    static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String, width: Double = 1,
                     opacity: Double = 1) -> String {
        "<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(n(width))\""
            + (opacity < 1 ? " stroke-opacity=\"\(n(opacity))\"" : "") + "/>\n"
    }

    /// A generous estimate of a text's width in a sans-serif font (no font metrics without a
    /// renderer), for laying out legends.
    static func textWidth(_ t: String, fontSize: Double) -> Double { Double(t.count) * fontSize * 0.6 }

    /// The standard opening of a standalone SVG document with a white background.
    package static func open(width: Double, height: Double, title: String) -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(n(width))" height="\(n(height))" viewBox="0 0 \(n(width)) \(n(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" role="img">
        <title>\(escape(title))</title>
        <rect width="100%" height="100%" fill="#fff"/>

        """
    }
}
