#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Progress on stderr for long work: a redrawn bar with rate and ETA when stderr is a terminal,
/// plain lines every `interval` seconds otherwise (logs stay readable when stderr goes to a file).
/// Never writes to stdout, which carries data.
package final class ProgressBar: @unchecked Sendable {
    package let label: String
    package let total: Int?
    package let unit: String
    private let isTTY: Bool
    private let interval: Double
    private let start: Double
    private var lastDraw: Double
    private var current = 0
    /// Work done before this run (a resumed job): counted in the position, not in the rate.
    private let initial: Int
    private var extra = ""
    private var finished = false
    /// Shows nothing at all (`quiet:` or `--quiet`, see `Log.quiet`).
    private let quiet: Bool
    private let lock = Mutex()
    /// Formats byte counts as KiB/MiB/GiB instead of plain numbers.
    package var countsBytes = false

    package init(_ label: String, total: Int? = nil, unit: String = "it", interval: Double? = nil, quiet: Bool = false,
                initial: Int = 0) {
        self.label = label
        self.initial = initial
        self.current = initial
        self.total = total
        self.unit = unit
        let quiet = quiet || Log.quiet
        self.quiet = quiet
        self.isTTY = !quiet && isatty(2) != 0
        self.interval = quiet ? .infinity : (interval ?? (isatty(2) != 0 ? 0.2 : 10))
        self.start = ProgressBar.now()
        self.lastDraw = start
    }

    package static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    package var elapsed: Double { ProgressBar.now() - start }
    package var count: Int { lock.withLock { current } }

    /// Adds `n` units done; `note` (e.g. "loss 0.53") shows after the rate.
    package func advance(by n: Int = 1, note: String? = nil) {
        lock.withLock {
            current += n
            if let note { extra = note }
            let t = ProgressBar.now()
            if t - lastDraw >= interval {
                lastDraw = t
                draw(t)
            }
        }
    }

    package func set(_ value: Int, note: String? = nil) {
        lock.withLock { current = value; if let note { extra = note } }
        advance(by: 0)
    }

    /// Prints a log line without garbling the bar: on a terminal the bar's line is cleared first
    /// (it is redrawn at the next update).
    package func log(_ message: String) {
        guard !quiet else { return }
        lock.withLock {
            writeStderr((isTTY ? "\r\u{1B}[K" : "") + message + "\n")
        }
    }

    /// Prints the final line (terminal or not; nothing when quiet).
    package func finish(note: String? = nil) {
        lock.withLock {
            guard !finished else { return }
            finished = true
            guard !quiet else { return }
            if let note { extra = note }
            draw(ProgressBar.now(), final: true)
        }
    }

    private func draw(_ t: Double, final: Bool = false) {
        guard interval.isFinite || final else { return }
        let dt = max(t - start, 1e-9)
        let rate = Double(current - initial) / dt
        var line = "\(label): "
        if let total, total > 0 {
            let frac = min(1, Double(current) / Double(total))
            if isTTY {
                let width = 24
                let filled = Int(frac * Double(width))
                line += "[" + String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled) + "] "
            }
            line += "\(fmt(current))/\(fmt(total)) (\(Int(frac * 100))%)"
        } else {
            line += fmt(current)
        }
        line += " · \(fmtRate(rate))"
        if final {
            line += " · \(ProgressBar.duration(dt))"
        } else if let total, total > current, rate > 0 {
            line += " · ETA \(ProgressBar.duration(Double(total - current) / rate))"
        }
        if !extra.isEmpty { line += " · \(extra)" }
        if isTTY {
            // \r and clear-to-end-of-line redraw in place; the final line ends with a newline.
            writeStderr("\r\u{1B}[K" + line + (final ? "\n" : ""))
        } else {
            writeStderr(line + "\n")
        }
    }

    private func fmt(_ n: Int) -> String {
        countsBytes ? ProgressBar.bytes(Double(n)) : String(n)
    }

    private func fmtRate(_ r: Double) -> String {
        if countsBytes { return ProgressBar.bytes(r) + "/s" }
        if r >= 100 { return "\(Int(r)) \(unit)/s" }
        return "\(ProgressBar.decimal(r, 2)) \(unit)/s"
    }

    package static func bytes(_ b: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = b
        var i = 0
        while v >= 1024, i < units.count - 1 { v /= 1024; i += 1 }
        return i == 0 ? "\(Int(v)) B" : "\(decimal(v, 1)) \(units[i])"
    }

    package static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        if t < 60 { return s < 10 ? "\(decimal(s, 1))s" : "\(t)s" }
        if t < 3600 { return "\(t / 60)m\(pad2(t % 60))s" }
        return "\(t / 3600)h\(pad2(t / 60 % 60))m"
    }

    static func pad2(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }

    /// Fixed-point formatting without Foundation.
    package static func decimal(_ v: Double, _ places: Int) -> String {
        guard v.isFinite else { return "\(v)" }
        var p = 1.0
        for _ in 0..<places { p *= 10 }
        let scaled = (abs(v) * p).rounded()
        let whole = Int(scaled / p)
        let frac = Int(scaled - Double(whole) * p)
        let sign = v < 0 && scaled != 0 ? "-" : ""
        if places == 0 { return "\(sign)\(whole)" }
        let fs = String(frac)
        return "\(sign)\(whole).\(String(repeating: "0", count: places - fs.count))\(fs)"
    }
}

/// A pthread mutex, for state shared with worker threads. The mutex lives in its own allocation:
/// `&storedProperty` may hand pthreads a temporary copy, and a mutex must never move. (Not
/// Synchronization.Mutex: that needs macOS 15, and the package supports macOS 14.)
package final class Mutex: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    package init() {
        m = .allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
    }
    deinit {
        pthread_mutex_destroy(m)
        m.deinitialize(count: 1)
        m.deallocate()
    }
    package func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }
}

/// Process-wide logging switches.
package enum Log {
    /// `--quiet`: no progress bars and no log lines, only errors. Set once at start-up.
    package nonisolated(unsafe) static var quiet = false
}

/// Writes a log line to stderr (unless `Log.quiet`).
package func log(_ message: String) {
    guard !Log.quiet else { return }
    writeStderr(message + "\n")
}

/// Writes straight to file descriptor 2 (unbuffered, and free of C's shared `stderr` global).
package func writeStderr(_ text: String) {
    var text = text
    text.withUTF8 { buf in
        var off = 0
        while off < buf.count {
            let n = write(2, buf.baseAddress! + off, buf.count - off)
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            off += n
        }
    }
}
