/// A JSON value, parsed and written by hand so that errors carry a line and column, object keys keep
/// their order (config files we rewrite stay diffable against the originals), invalid UTF-8 is an
/// error rather than a silent replacement, and JSONL lines parse without going through Foundation.
package enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    // MARK: Typed access

    package subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    package var string: String? { if case .string(let s) = self { return s }; return nil }
    package var double: Double? { if case .number(let d) = self { return d }; return nil }
    package var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    package var array: [JSON]? { if case .array(let a) = self { return a }; return nil }
    package var object: JSONObject? { if case .object(let o) = self { return o }; return nil }
    package var isNull: Bool { self == .null }

    /// The number as an integer, if it is one exactly.
    package var int: Int? {
        guard case .number(let d) = self, d.rounded() == d, abs(d) < 9.007_199_254_740_992e15 else { return nil }
        return Int(d)
    }
}

/// A JSON object that keeps its keys in document order. Lookups go through a dictionary index.
/// Keys compare as UTF-8 bytes, as in JSON (and Python, and serde): Swift `String` equality is
/// canonical equivalence, which would merge "é" and "e" + U+0301 — distinct tokens in a vocabulary.
package struct JSONObject: Sendable, Equatable, Sequence {
    package private(set) var entries: [(key: String, value: JSON)] = []
    private var index: [ByteExactKey: Int] = [:]

    package init() {}

    package init(_ pairs: [(String, JSON)]) {
        for (k, v) in pairs { self[k] = v }
    }

    package var keys: [String] { entries.map(\.key) }
    package var count: Int { entries.count }

    package subscript(key: String) -> JSON? {
        get { index[ByteExactKey(key)].map { entries[$0].value } }
        set {
            if let i = index[ByteExactKey(key)] {
                if let newValue { entries[i].value = newValue } else { remove(at: i) }
            } else if let newValue {
                index[ByteExactKey(key)] = entries.count
                entries.append((key, newValue))
            }
        }
    }

    private mutating func remove(at i: Int) {
        entries.remove(at: i)
        index = [:]
        for (j, e) in entries.enumerated() { index[ByteExactKey(e.key)] = j }
    }

    package func makeIterator() -> IndexingIterator<[(key: String, value: JSON)]> { entries.makeIterator() }

    package static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { $0.key.utf8.elementsEqual($1.key.utf8) && $0.value == $1.value }
    }
}

/// A dictionary key that compares strings by their UTF-8 bytes rather than canonical equivalence.
struct ByteExactKey: Hashable, Sendable {
    let string: String

    init(_ string: String) { self.string = string }

    static func == (a: ByteExactKey, b: ByteExactKey) -> Bool { a.string.utf8.elementsEqual(b.string.utf8) }

    func hash(into hasher: inout Hasher) {
        var s = string
        s.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    package init(stringLiteral value: String) { self = .string(value) }
    package init(integerLiteral value: Int) { self = .number(Double(value)) }
    package init(floatLiteral value: Double) { self = .number(value) }
    package init(booleanLiteral value: Bool) { self = .bool(value) }
    package init(arrayLiteral elements: JSON...) { self = .array(elements) }
    package init(dictionaryLiteral elements: (String, JSON)...) { self = .object(JSONObject(elements)) }
    package init(nilLiteral: ()) { self = .null }
}

// MARK: - Parsing

/// Where a parse failed, 1-based.
package struct JSONParseError: Error, CustomStringConvertible, Sendable {
    package let message: String
    package let line: Int
    package let column: Int
    package var description: String { "\(line):\(column): \(message)" }
}

extension JSON {
    /// Parses one JSON document; trailing non-whitespace is an error.
    package static func parse(_ text: String) throws(JSONParseError) -> JSON {
        try parse(Array(text.utf8))
    }

    package static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSON {
        let result: Result<JSON, JSONParseError> = bytes.withUnsafeBytes { buf in
            Result { () throws(JSONParseError) -> JSON in try parse(buf) }
        }
        return try result.get()
    }

    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONParseError) -> JSON {
        var p = JSONParser(bytes.bindMemory(to: UInt8.self))
        return try p.parseDocument()
    }
}

/// A recursive-descent parser over bytes. Depth is limited so hostile input cannot overflow the stack.
struct JSONParser {
    let b: UnsafeBufferPointer<UInt8>
    var i = 0
    var depth = 0
    static let maxDepth = 512

    init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    mutating func parseDocument() throws(JSONParseError) -> JSON {
        // A UTF-8 byte order mark is tolerated, as Python's json does for files opened with utf-8-sig.
        if b.count >= 3, b[0] == 0xEF, b[1] == 0xBB, b[2] == 0xBF { i = 3 }
        skipSpace()
        let v = try value()
        skipSpace()
        if i < b.count { throw error("unexpected \(describe(b[i])) after the JSON value") }
        return v
    }

    func error(_ message: String, at position: Int? = nil) -> JSONParseError {
        let pos = min(position ?? i, b.count)
        var line = 1, col = 1
        for k in 0..<pos {
            if b[k] == 0x0A { line += 1; col = 1 } else if b[k] & 0xC0 != 0x80 { col += 1 }
        }
        return JSONParseError(message: message, line: line, column: col)
    }

    func describe(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16, uppercase: true))"
    }

    mutating func skipSpace() {
        while i < b.count {
            let c = b[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { break }
        }
    }

    mutating func value() throws(JSONParseError) -> JSON {
        guard i < b.count else { throw error("unexpected end of input, expected a value") }
        switch b[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        // Python's json writes NaN and Infinity; accept them so its files load.
        case UInt8(ascii: "N"): try literal("NaN"); return .number(.nan)
        case UInt8(ascii: "I"): try literal("Infinity"); return .number(.infinity)
        case UInt8(ascii: "-") where i + 1 < b.count && b[i + 1] == UInt8(ascii: "I"):
            // `-Infinity`, as Python's json and our writer (`JSON.format`) write it.
            i += 1
            try literal("Infinity")
            return .number(-.infinity)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected \(describe(b[i])), expected a value")
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        let start = word.utf8Start
        guard i + n <= b.count else { throw error("unexpected end of input") }
        for k in 0..<n where b[i + k] != start[k] { throw error("invalid literal, expected '\(word)'") }
        i += n
    }

    mutating func object() throws(JSONParseError) -> JSON {
        depth += 1
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth) levels") }
        defer { depth -= 1 }
        i += 1
        var obj = JSONObject()
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
        while true {
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else {
                throw i < b.count ? error("expected a string key") : error("unexpected end of input in an object")
            }
            let key = try string()
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw error("expected ':' after an object key") }
            i += 1
            skipSpace()
            obj[key] = try value()
            skipSpace()
            guard i < b.count else { throw error("unexpected end of input in an object") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; return .object(obj) }
            throw error("expected ',' or '}' in an object")
        }
    }

    mutating func array() throws(JSONParseError) -> JSON {
        depth += 1
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth) levels") }
        defer { depth -= 1 }
        i += 1
        var arr: [JSON] = []
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "]") { i += 1; return .array(arr) }
        while true {
            skipSpace()
            arr.append(try value())
            skipSpace()
            guard i < b.count else { throw error("unexpected end of input in an array") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "]") { i += 1; return .array(arr) }
            throw error("expected ',' or ']' in an array")
        }
    }

    mutating func number() throws(JSONParseError) -> JSON {
        let start = i
        var isInteger = true
        if b[i] == UInt8(ascii: "-") { i += 1 }
        let digitsStart = i
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
        if i == digitsStart { throw error("invalid number", at: start) }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            let f = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            if i == f { throw error("invalid number: no digits after '.'", at: start) }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            let e = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
            if i == e { throw error("invalid number: no digits in the exponent", at: start) }
        }
        // Fast path for the common small integers (token ids, sizes).
        if isInteger, i - digitsStart <= 15 {
            var v = 0
            for k in digitsStart..<i { v = v * 10 + Int(b[k] - 0x30) }
            return .number(Double(b[start] == UInt8(ascii: "-") ? -v : v))
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        guard let d = Double(text) else { throw error("invalid number '\(text)'", at: start) }
        return .number(d)
    }

    /// Parses a string starting at the opening quote; validates UTF-8 and decodes escapes.
    mutating func string() throws(JSONParseError) -> String {
        let open = i
        i += 1
        // Fast path: no escapes, all ASCII or valid UTF-8 — one copy.
        var k = i
        var simple = true
        while k < b.count {
            let c = b[k]
            if c == UInt8(ascii: "\"") { break }
            if c == UInt8(ascii: "\\") || c < 0x20 || c >= 0x80 { simple = false; break }
            k += 1
        }
        if simple {
            guard k < b.count else { throw error("unterminated string", at: open) }
            let s = String(decoding: UnsafeBufferPointer(rebasing: b[i..<k]), as: UTF8.self)
            i = k + 1
            return s
        }
        var out: [UInt8] = []
        out.reserveCapacity(k - i + 16)
        while true {
            guard i < b.count else { throw error("unterminated string", at: open) }
            let c = b[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw error("control character \(describe(c)) in a string must be escaped") }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < b.count else { throw error("unterminated string", at: open) }
                let e = b[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800, scalar < 0xDC00 {
                        // A high surrogate must be followed by an escaped low surrogate.
                        if i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                            let save = i
                            i += 2
                            let low = try hex4()
                            if low >= 0xDC00, low < 0xE000 {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                i = save
                                scalar = 0xFFFD
                            }
                        } else {
                            scalar = 0xFFFD
                        }
                    } else if scalar >= 0xDC00, scalar < 0xE000 {
                        scalar = 0xFFFD  // a lone low surrogate, as Python's json would keep; we cannot
                    }
                    appendUTF8(&out, scalar)
                default: throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))' in a string", at: i - 2)
                }
                continue
            }
            if c < 0x80 { out.append(c); i += 1; continue }
            let n = try validUTF8Length(at: i)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[i..<(i + n)]))
            i += n
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 <= b.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid hex digit in a \\u escape")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// The length of the valid UTF-8 sequence starting at `k` (a non-ASCII lead byte), or an error.
    func validUTF8Length(at k: Int) throws(JSONParseError) -> Int {
        let c = b[k]
        let n: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: n = 2
        case 0xE0: n = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: n = 3
        case 0xED: n = 3; hi = 0x9F
        case 0xF0: n = 4; lo = 0x90
        case 0xF1...0xF3: n = 4
        case 0xF4: n = 4; hi = 0x8F
        default: throw error("invalid UTF-8 (byte 0x\(String(c, radix: 16, uppercase: true)))", at: k)
        }
        guard k + n <= b.count else { throw error("invalid UTF-8 (truncated sequence)", at: k) }
        if b[k + 1] < lo || b[k + 1] > hi { throw error("invalid UTF-8", at: k) }
        for j in 2..<max(2, n) where b[k + j] & 0xC0 != 0x80 { throw error("invalid UTF-8", at: k) }
        return n
    }
}

/// Appends a scalar's UTF-8 bytes. Public and @inlinable, unlike the rest of IO, because the
/// tokenizers call it per character and Swift inlines across modules only public @inlinable code.
@inlinable @inline(__always)
public func appendUTF8(_ out: inout [UInt8], _ scalar: UInt32) {
    switch scalar {
    case 0..<0x80: out.append(UInt8(scalar))
    case 0x80..<0x800:
        out.append(UInt8(0xC0 | scalar >> 6)); out.append(UInt8(0x80 | scalar & 0x3F))
    case 0x800..<0x10000:
        out.append(UInt8(0xE0 | scalar >> 12)); out.append(UInt8(0x80 | scalar >> 6 & 0x3F))
        out.append(UInt8(0x80 | scalar & 0x3F))
    default:
        out.append(UInt8(0xF0 | scalar >> 18)); out.append(UInt8(0x80 | scalar >> 12 & 0x3F))
        out.append(UInt8(0x80 | scalar >> 6 & 0x3F)); out.append(UInt8(0x80 | scalar & 0x3F))
    }
}

// MARK: - Writing

extension JSON {
    /// Compact JSON on one line (for JSONL), or indented with `indent` spaces (for config files,
    /// as Python's `json.dump(..., indent=2)` writes them).
    package func serialized(indent: Int? = nil, sortKeys: Bool = false) -> String {
        var out = ""
        write(to: &out, indent: indent, level: 0, sortKeys: sortKeys)
        return out
    }

    func write(to out: inout String, indent: Int?, level: Int, sortKeys: Bool) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let d): out += JSON.format(d)
        case .string(let s): JSON.writeString(s, to: &out)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            for (k, v) in a.enumerated() {
                if k > 0 { out += "," }
                newline(&out, indent, level + 1)
                v.write(to: &out, indent: indent, level: level + 1, sortKeys: sortKeys)
            }
            newline(&out, indent, level)
            out += "]"
        case .object(let o):
            if o.count == 0 { out += "{}"; return }
            out += "{"
            let entries = sortKeys ? o.entries.sorted { $0.key < $1.key } : o.entries
            for (k, e) in entries.enumerated() {
                if k > 0 { out += "," }
                newline(&out, indent, level + 1)
                JSON.writeString(e.key, to: &out)
                out += indent == nil ? ":" : ": "
                e.value.write(to: &out, indent: indent, level: level + 1, sortKeys: sortKeys)
            }
            newline(&out, indent, level)
            out += "}"
        }
    }

    private func newline(_ out: inout String, _ indent: Int?, _ level: Int) {
        guard let indent else { return }
        out += "\n"
        out += String(repeating: " ", count: indent * level)
    }

    /// Integers print without a fraction; other numbers print in the shortest form that reads back
    /// to the same Double. Non-finite values print as Python's json does.
    package static func format(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "Infinity" : "-Infinity" }
        if d.rounded() == d, abs(d) < 1e16 { return String(Int64(d)) }
        return "\(d)"
    }

    package static func writeString(_ s: String, to out: inout String) {
        out += "\""
        var plainStart = s.utf8.startIndex
        let utf8 = s.utf8
        var idx = utf8.startIndex
        while idx != utf8.endIndex {
            let c = utf8[idx]
            if c == 0x22 || c == 0x5C || c < 0x20 {
                out += String(s.utf8[plainStart..<idx])!
                switch c {
                case 0x22: out += "\\\""
                case 0x5C: out += "\\\\"
                case 0x0A: out += "\\n"
                case 0x0D: out += "\\r"
                case 0x09: out += "\\t"
                case 0x08: out += "\\b"
                case 0x0C: out += "\\f"
                default: out += "\\u00" + (c < 0x10 ? "0" : "") + String(c, radix: 16)
                }
                plainStart = utf8.index(after: idx)
            }
            idx = utf8.index(after: idx)
        }
        out += String(s.utf8[plainStart..<utf8.endIndex])!
        out += "\""
    }
}
