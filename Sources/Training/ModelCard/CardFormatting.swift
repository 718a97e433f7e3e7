import IO

/// The model card's front matter as YAML that PyYAML's `safe_load` (what the hub and
/// huggingface_hub run) reads back to the same data. Our own writer because the C library we link
/// (libyaml) would need an emitter binding for a dozen lines of output: every string is
/// double-quoted (so `no`, `yes`, `1.0`, `- x` or `a: b` stay strings; escapes for the characters
/// PyYAML refuses raw, none for characters outside the BMP, which PyYAML would read as two lone
/// surrogates), every number is written as a float with a dot (a bare `1e-05` is a string to
/// PyYAML), and the layout is PyYAML's block style (list items at their key's indent).
package enum FrontMatterYAML {
    package static func render(_ document: JSON) -> String {
        guard case .object(let o) = document else { return "" }
        var lines: [String] = []
        for (key, value) in o { emit(key: key, value, indent: 0, into: &lines) }
        return lines.joined(separator: "\n") + "\n"
    }

    static func emit(key: String, _ value: JSON, indent: Int, into lines: inout [String]) {
        let pad = String(repeating: " ", count: indent)
        switch value {
        case .array(let items) where !items.isEmpty:
            lines.append("\(pad)\(key):")
            for item in items { emit(item: item, indent: indent, into: &lines) }
        case .object(let o) where o.count > 0:
            lines.append("\(pad)\(key):")
            for (k, v) in o { emit(key: k, v, indent: indent + 2, into: &lines) }
        default:
            lines.append("\(pad)\(key): \(scalar(value))")
        }
    }

    /// `- item` at `indent`; a mapping item starts on the dash's line and continues two further in.
    static func emit(item: JSON, indent: Int, into lines: inout [String]) {
        let pad = String(repeating: " ", count: indent)
        var sub: [String] = []
        switch item {
        case .object(let o) where o.count > 0:
            for (k, v) in o { emit(key: k, v, indent: indent + 2, into: &sub) }
        case .array(let items) where !items.isEmpty:
            for i in items { emit(item: i, indent: indent + 2, into: &sub) }
        default:
            lines.append("\(pad)- \(scalar(item))")
            return
        }
        sub[0] = pad + "- " + sub[0].dropFirst(indent + 2)
        lines += sub
    }

    static func scalar(_ v: JSON) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return float(d)
        case .string(let s): return quoted(s)
        case .array: return "[]"
        case .object: return "{}"
        }
    }

    /// A YAML 1.1 float PyYAML resolves as one: always a dot, and a dot before any exponent.
    static func float(_ d: Double) -> String {
        if d.isNaN { return ".nan" }
        if d.isInfinite { return d > 0 ? ".inf" : "-.inf" }
        var s = "\(d)"
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }), !s[..<e].contains(".") {
            s.insert(contentsOf: ".0", at: e)
        }
        if !s.contains(".") { s += ".0" }
        return s
    }

    /// A double-quoted YAML string. Escaped: `\` and `"`, and the characters PyYAML's reader
    /// rejects when raw (C0 controls other than tab and newline, DEL, C1 controls other than NEL,
    /// U+FFFE/U+FFFF); newlines and tabs too, so the value stays on one line.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                let v = u.value
                if v < 0x20 || (v >= 0x7F && v <= 0x9F && v != 0x85) || v == 0xFFFE || v == 0xFFFF {
                    out += "\\u" + String(repeating: "0", count: 4 - String(v, radix: 16).count) + String(v, radix: 16)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

/// Markdown tables as transformers' `make_markdown_table` writes them (what sentence-transformers'
/// cards use): cells padded to the column width counted in code points (Python's `len`), a
/// centred separator row, or left-aligned (`|:---|`) as every card table but the training logs.
package enum MarkdownTable {
    package static func render(header: [String], rows: [[String]], leftAligned: Bool = true) -> String {
        var widths = header.map(\.unicodeScalars.count)
        for r in rows {
            for (i, cell) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.unicodeScalars.count) }
        }
        func line(_ cells: [String]) -> String {
            zip(cells, widths).map { "| \($0)" + String(repeating: " ", count: $1 - $0.unicodeScalars.count + 1) }.joined() + "|\n"
        }
        var s = line(header)
        s += widths.map { "|:" + String(repeating: "-", count: $0) + (leftAligned ? "-" : ":") }.joined() + "|\n"
        for r in rows { s += line(r) }
        return s
    }
}

/// How Python prints values, which is how sentence-transformers' cards show them.
package enum Python {
    /// `str(float)`: the shortest round-tripping form, always with a dot or an exponent.
    package static func str(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        return "\(d)"
    }

    /// `str(round(v, 4))`.
    package static func round4(_ d: Double) -> String { str((d * 10_000).rounded() / 10_000) }

    /// transformers' `_maybe_round`: floats with more than four decimals as `%.4f`, others as `str`.
    package static func maybeRound(_ d: Double) -> String {
        let s = str(d)
        if let dot = s.firstIndex(of: "."), !s.contains("e"), s[s.index(after: dot)...].count > 4 {
            return ProgressBar.decimal(d, 4)
        }
        return s
    }

    /// `repr(str)`: single quotes unless the text holds `'` and no `"`.
    package static func repr(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if Character(u) == quote {
                    out += "\\" + String(quote)
                } else if u.value < 0x20 || u.value == 0x7F {
                    out += "\\x" + (u.value < 0x10 ? "0" : "") + String(u.value, radix: 16)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + String(quote)
    }

    /// `str.title()`: a capital after every non-letter, the rest lower case (`cosine_ndcg@10` →
    /// `Cosine_Ndcg@10`).
    package static func title(_ s: String) -> String {
        var out = ""
        var previousIsLetter = false
        for c in s {
            out += previousIsLetter ? c.lowercased() : c.uppercased()
            previousIsLetter = c.isLetter
        }
        return out
    }

    /// A number with thousands separators, as `f"{n:,}"`.
    package static func grouped(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }
}
