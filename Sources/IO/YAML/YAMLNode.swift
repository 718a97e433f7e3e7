/// Where a YAML node came from: a file with a 1-based line and column, or a place without
/// positions (a `--set` override on the command line), so every error can point at its cause.
package struct YAMLMark: Sendable, Equatable, CustomStringConvertible {
    /// The file path, or a description such as `--set training.learning_rate=1e-5`.
    package var source: String
    /// 1-based; 0 when the source has no lines (an override).
    package var line: Int
    /// 1-based, counted in characters as libyaml counts them.
    package var column: Int

    package init(source: String, line: Int, column: Int) {
        self.source = source
        self.line = line
        self.column = column
    }

    /// A mark with no position, for values that do not come from a file.
    package init(source: String) { self.init(source: source, line: 0, column: 0) }

    /// `file:line:column`, or just the source when it has no position.
    package var description: String { line > 0 ? "\(source):\(line):\(column)" : source }
}

/// How a scalar was written. Only plain scalars are resolved to null, booleans and numbers:
/// `"true"` and `'42'` stay strings, as YAML says.
package enum YAMLScalarStyle: Sendable, Equatable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// A key-value pair of a YAML mapping, keys kept in document order.
package struct YAMLEntry: Sendable, Equatable {
    package var key: YAMLNode
    package var value: YAMLNode

    package init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// One node of a parsed YAML document with its position. The tree is deliberately untyped:
/// a consumer (e.g. `TrainingConfig`) walks it and asks each scalar for the type it expects, so
/// that type errors can name the key and the position.
package struct YAMLNode: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        case scalar(String, YAMLScalarStyle)
        case sequence([YAMLNode])
        case mapping([YAMLEntry])
    }

    package var kind: Kind
    package var mark: YAMLMark
    /// An explicit tag, expanded (`!!str` is `tag:yaml.org,2002:str`); nil when implicit.
    package var tag: String?

    package init(_ kind: Kind, mark: YAMLMark, tag: String? = nil) {
        self.kind = kind
        self.mark = mark
        self.tag = tag
    }

    /// The text of a scalar node (as written, after YAML's quoting and folding rules).
    package var scalarText: String? {
        if case .scalar(let s, _) = kind { return s }
        return nil
    }

    package var entries: [YAMLEntry]? {
        if case .mapping(let e) = kind { return e }
        return nil
    }

    package var items: [YAMLNode]? {
        if case .sequence(let s) = kind { return s }
        return nil
    }

    /// The value for a string key of a mapping.
    package subscript(key: String) -> YAMLNode? {
        entries?.first { $0.key.scalarText == key }?.value
    }

    /// What kind of node this is, for error messages: "a mapping", "a sequence", "the string 'x'".
    package var summary: String {
        switch kind {
        case .mapping: return "a mapping"
        case .sequence: return "a sequence"
        case .scalar:
            guard let value = try? resolved() else { return "the scalar '\(scalarText ?? "")'" }
            return value.summary
        }
    }

    /// Replaces the marks of this node and all its children (used to attribute a `--set` value
    /// to the override that gave it rather than to line 1 of a one-line document).
    package func remarked(_ mark: YAMLMark) -> YAMLNode {
        var copy = self
        copy.mark = mark
        switch kind {
        case .scalar: break
        case .sequence(let items): copy.kind = .sequence(items.map { $0.remarked(mark) })
        case .mapping(let entries):
            copy.kind = .mapping(entries.map { YAMLEntry(key: $0.key.remarked(mark), value: $0.value.remarked(mark)) })
        }
        return copy
    }
}

/// A scalar's value after resolution.
package enum YAMLScalar: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)

    /// For error messages: "null", "the boolean true", "the integer 3", "the string 'abc'".
    package var summary: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return "the boolean \(b)"
        case .int(let i): return "the integer \(i)"
        case .float(let d): return "the number \(d)"
        case .string(let s): return "the string '\(s)'"
        }
    }
}

extension YAMLNode {
    static let tagPrefix = "tag:yaml.org,2002:"

    /// Resolves a scalar the way PyYAML's `safe_load` (YAML 1.1) does, so a config means the same
    /// here as in the Python seed project, with two documented differences:
    /// - exponents need neither a dot nor a sign, and a sign may precede a leading dot: `2e-5`,
    ///   `1e5`, `1.0e5` and `-.5` are numbers here, while PyYAML reads them as strings (its float
    ///   pattern wants `2.0e-5`); nobody writing `learning_rate: 2e-5` means a string.
    /// - sexagesimal numbers (`1:30`) and timestamps (`2024-01-01`) stay strings.
    /// Only plain scalars are resolved; quoted and block scalars are strings. Explicit tags
    /// `!!str`, `!!int`, `!!float`, `!!bool`, `!!null` force a type (an error when the text does not fit).
    /// Throws for a non-scalar node and for integers out of the 64-bit range.
    package func resolved() throws -> YAMLScalar {
        guard case .scalar(let text, let style) = kind else {
            throw EmbedError("\(mark): expected a scalar, found \(summary)")
        }
        if let tag, tag != "!" {
            guard tag.hasPrefix(Self.tagPrefix) else { throw EmbedError("\(mark): unsupported tag '\(tag)'") }
            let name = tag.dropFirst(Self.tagPrefix.count)
            let value: YAMLScalar?
            switch name {
            case "str": return .string(text)
            case "null": value = YAMLNode.resolveNull(text)
            case "bool": value = YAMLNode.resolveBool(text)
            case "int": value = try YAMLNode.resolveInt(text, mark: mark)
            case "float":
                if let v = try YAMLNode.resolveInt(text, mark: mark), case .int(let i) = v {
                    value = .float(Double(i))
                } else {
                    value = YAMLNode.resolveFloat(text)
                }
            default: throw EmbedError("\(mark): unsupported tag '!!\(name)'")
            }
            guard let value else { throw EmbedError("\(mark): '\(text)' is not a valid !!\(name)") }
            return value
        }
        if tag == "!" || style != .plain { return .string(text) }
        if let v = YAMLNode.resolveNull(text) { return v }
        if let v = YAMLNode.resolveBool(text) { return v }
        if let v = try YAMLNode.resolveInt(text, mark: mark) { return v }
        if let v = YAMLNode.resolveFloat(text) { return v }
        return .string(text)
    }

    static func resolveNull(_ s: String) -> YAMLScalar? {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        default: return nil
        }
    }

    /// YAML 1.1 booleans, exactly PyYAML's list (so `yes`/`no`/`on`/`off` are booleans too).
    static func resolveBool(_ s: String) -> YAMLScalar? {
        switch s {
        case "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON": return .bool(true)
        case "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF": return .bool(false)
        default: return nil
        }
    }

    /// YAML 1.1 integers as PyYAML reads them: decimal, `0x` hex, `0b` binary, and a leading `0`
    /// for octal (`010` is 8); `_` separators allowed. Nil when the text is not an integer.
    static func resolveInt(_ s: String, mark: YAMLMark) throws -> YAMLScalar? {
        var body = Substring(s)
        var negative = false
        if let first = body.first, first == "-" || first == "+" {
            negative = first == "-"
            body = body.dropFirst()
        }
        guard let first = body.first, first.isASCII, first.isNumber else { return nil }
        let radix: Int
        var digits: Substring
        if body.hasPrefix("0x") {
            radix = 16
            digits = body.dropFirst(2)
        } else if body.hasPrefix("0b") {
            radix = 2
            digits = body.dropFirst(2)
        } else if body.count > 1, body.hasPrefix("0") {
            radix = 8
            digits = body.dropFirst(1)
        } else {
            radix = 10
            digits = body
            // A decimal integer cannot start with `_` (PyYAML: `[1-9][0-9_]*`).
        }
        guard !digits.isEmpty, digits.first != "_" || radix != 10 else { return nil }
        var clean = ""
        for c in digits {
            if c == "_" { continue }
            guard c.isASCII, c.isHexDigit, let d = c.hexDigitValue, d < radix else { return nil }
            clean.append(c)
        }
        guard !clean.isEmpty else { return nil }
        guard let magnitude = UInt64(clean, radix: radix) else {
            throw EmbedError("\(mark): the integer \(s) is out of range")
        }
        if negative {
            guard magnitude <= UInt64(Int.max) + 1 else { throw EmbedError("\(mark): the integer \(s) is out of range") }
            return .int(magnitude == UInt64(Int.max) + 1 ? Int.min : -Int(magnitude))
        }
        guard magnitude <= UInt64(Int.max) else { throw EmbedError("\(mark): the integer \(s) is out of range") }
        return .int(Int(magnitude))
    }

    /// Floats: `[-+]` digits with an optional fraction and exponent (at least a dot or an
    /// exponent), `.5`, `1.`, and `.inf`/`.nan` in YAML's spellings. `_` separators allowed.
    static func resolveFloat(_ s: String) -> YAMLScalar? {
        switch s {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        let u = Array(s.utf8)
        var i = 0
        var text: [UInt8] = []
        if i < u.count, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") {
            text.append(u[i])
            i += 1
        }
        func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
        var mantissaDigits = 0
        // Integer part: digits and underscores, starting with a digit.
        if i < u.count, isDigit(u[i]) {
            while i < u.count, isDigit(u[i]) || u[i] == UInt8(ascii: "_") {
                if u[i] != UInt8(ascii: "_") { text.append(u[i]); mantissaDigits += 1 }
                i += 1
            }
        }
        var hasDot = false
        if i < u.count, u[i] == UInt8(ascii: ".") {
            hasDot = true
            text.append(u[i])
            i += 1
            // The fraction must start with a digit when there is no integer part (`._5` is not a number).
            if mantissaDigits == 0, !(i < u.count && isDigit(u[i])) { return nil }
            while i < u.count, isDigit(u[i]) || u[i] == UInt8(ascii: "_") {
                if u[i] != UInt8(ascii: "_") { text.append(u[i]); mantissaDigits += 1 }
                i += 1
            }
        }
        guard mantissaDigits > 0 else { return nil }
        var hasExponent = false
        if i < u.count, u[i] == UInt8(ascii: "e") || u[i] == UInt8(ascii: "E") {
            hasExponent = true
            text.append(UInt8(ascii: "e"))
            i += 1
            if i < u.count, u[i] == UInt8(ascii: "-") || u[i] == UInt8(ascii: "+") {
                text.append(u[i])
                i += 1
            }
            guard i < u.count, isDigit(u[i]) else { return nil }
            while i < u.count, isDigit(u[i]) {
                text.append(u[i])
                i += 1
            }
        }
        guard i == u.count, hasDot || hasExponent else { return nil }
        // `1.` is not accepted by Double(_:); a trailing zero makes it so without changing the value.
        if text.last == UInt8(ascii: ".") { text.append(UInt8(ascii: "0")) }
        if let dot = text.firstIndex(of: UInt8(ascii: ".")), dot + 1 < text.count, text[dot + 1] == UInt8(ascii: "e") {
            text.insert(UInt8(ascii: "0"), at: dot + 1)
        }
        guard let d = Double(String(decoding: text, as: UTF8.self)) else { return nil }
        return .float(d)
    }
}
