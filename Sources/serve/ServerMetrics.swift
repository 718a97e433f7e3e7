import IO

/// The server's Prometheus metrics, with text-embeddings-inference's names, labels, types and
/// buckets (TEI 1.9: metrics-exporter-prometheus, counters without a `_total` suffix, a metric shown
/// only after its first update), kept by hand: a dozen counters and histograms under one lock are
/// simpler than swift-metrics + swift-prometheus and give TEI's exact names.
final class ServerMetrics: @unchecked Sendable {
    private struct Histogram {
        let bounds: [Double]
        var counts: [Int]
        var sum = 0.0
        var count = 0

        init(bounds: [Double]) {
            self.bounds = bounds
            counts = [Int](repeating: 0, count: bounds.count)
        }

        mutating func record(_ v: Double) {
            for (i, b) in bounds.enumerated() where v <= b { counts[i] += 1 }
            sum += v
            count += 1
        }
    }

    private let lock = Mutex()
    /// Counter value by name, then by label set (`method="batch"`, or "" for none).
    private var counters: [String: [String: Int]] = [:]
    private var gauges: [String: Double] = [:]
    private var histograms: [String: Histogram] = [:]
    private let lengthBounds: [Double]

    /// TEI's buckets: durations 1e-5·1.5^i (i = 1…35, up to ≈14.6 s); input lengths powers of two up
    /// to the longest input; batch sizes 2^0…2^12; batch tokens 2^0…2^20.
    private static let durationBounds: [Double] = {
        var v = 1e-5, out: [Double] = []
        for _ in 0..<35 { v *= 1.5; out.append(v) }
        return out
    }()

    private static func powersOfTwo(upTo limit: Int) -> [Double] {
        var out: [Double] = [], v = 1
        while v <= limit { out.append(Double(v)); v *= 2 }
        return out
    }

    init(maxInputLength: Int) {
        lengthBounds = Self.powersOfTwo(upTo: maxInputLength)
    }

    func increment(_ name: String, _ labels: String = "", by n: Int = 1) {
        lock.withLock { counters[name, default: [:]][labels, default: 0] += n }
    }

    func set(_ name: String, _ value: Double) {
        lock.withLock { gauges[name] = value }
    }

    /// Records into a histogram; its buckets follow from the name as in TEI.
    func observe(_ name: String, _ value: Double) {
        lock.withLock {
            if histograms[name] == nil {
                let bounds: [Double] = switch name {
                case "te_request_input_length": lengthBounds
                case "te_batch_next_size": Self.powersOfTwo(upTo: 4096)
                case "te_batch_next_tokens": Self.powersOfTwo(upTo: 1 << 20)
                default: Self.durationBounds
                }
                histograms[name] = Histogram(bounds: bounds)
            }
            histograms[name]!.record(value)
        }
    }

    func counter(_ name: String, _ labels: String = "") -> Int {
        lock.withLock { counters[name]?[labels] ?? 0 }
    }

    /// The Prometheus text exposition (version 0.0.4).
    func render() -> String {
        lock.withLock {
            var out = ""
            for name in counters.keys.sorted() {
                out += "# TYPE \(name) counter\n"
                for (labels, v) in counters[name]!.sorted(by: { $0.key < $1.key }) {
                    out += labels.isEmpty ? "\(name) \(v)\n" : "\(name){\(labels)} \(v)\n"
                }
                out += "\n"
            }
            for name in gauges.keys.sorted() {
                out += "# TYPE \(name) gauge\n\(name) \(JSON.format(gauges[name]!))\n\n"
            }
            for name in histograms.keys.sorted() {
                let h = histograms[name]!
                out += "# TYPE \(name) histogram\n"
                for (b, c) in zip(h.bounds, h.counts) { out += "\(name)_bucket{le=\"\(JSON.format(b))\"} \(c)\n" }
                out += "\(name)_bucket{le=\"+Inf\"} \(h.count)\n"
                out += "\(name)_sum \(JSON.format(h.sum))\n\(name)_count \(h.count)\n\n"
            }
            return out
        }
    }
}
