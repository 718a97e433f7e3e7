import CYAML

/// Parses YAML text into a `YAMLNode` tree with libyaml's event parser. libyaml does the hard part
/// (tokens, indentation, quoting, block scalars, syntax errors with positions); this builds the tree,
/// rejects what a config file must not contain (duplicate keys, non-scalar keys, several documents)
/// and keeps every node's position for later error messages.
package enum YAML {
    /// Deeper nesting than this is an error rather than a deep recursion later on.
    static let maxDepth = 256
    /// Aliases may repeat a subtree; capping the expanded size stops "billion laughs" input.
    static let maxNodes = 1_000_000

    /// Reads and parses a file (`-` for stdin). Nil when it holds no document (empty or only comments).
    package static func load(path: String) throws -> YAMLNode? {
        let bytes = try ByteReader(path: path).readAll()
        return try parse(bytes, source: path)
    }

    package static func parse(_ text: String, source: String) throws -> YAMLNode? {
        try parse(Array(text.utf8), source: source)
    }

    /// `source` names the input in marks and errors (a path, or e.g. `--set key=value`).
    package static func parse(_ bytes: [UInt8], source: String) throws -> YAMLNode? {
        try bytes.withUnsafeBufferPointer { buf in
            var builder = TreeBuilder(source: source, bytes: buf)
            return try builder.run()
        }
    }
}

/// Turns libyaml events into nodes with an explicit stack (no recursion on hostile nesting).
private struct TreeBuilder {
    let source: String
    let bytes: UnsafeBufferPointer<UInt8>

    enum Frame {
        case sequence(items: [YAMLNode], mark: YAMLMark, tag: String?, anchor: String?, size: Int)
        case mapping(entries: [YAMLEntry], pendingKey: YAMLNode?, seen: [String: YAMLMark],
                     mark: YAMLMark, tag: String?, anchor: String?, size: Int)
    }

    var stack: [Frame] = []
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    var totalNodes = 0
    var root: YAMLNode?
    var documents = 0

    init(source: String, bytes: UnsafeBufferPointer<UInt8>) {
        self.source = source
        self.bytes = bytes
    }

    func mark(_ m: yaml_mark_t) -> YAMLMark {
        YAMLMark(source: source, line: Int(m.line) + 1, column: Int(m.column) + 1)
    }

    static func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let p else { return nil }
        return String(cString: UnsafeRawPointer(p).assumingMemoryBound(to: CChar.self))
    }

    mutating func run() throws -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else { throw EmbedError("\(source): cannot initialise the YAML parser") }
        defer { yaml_parser_delete(&parser) }
        // libyaml reads from the buffer lazily, so it must outlive the parse: `bytes` does.
        yaml_parser_set_input_string(&parser, bytes.baseAddress ?? UnsafePointer(bitPattern: 1), bytes.count)
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(&parser, &event) != 0 else { throw syntaxError(parser) }
            defer { yaml_event_delete(&event) }
            let done = try handle(&event)
            if done { return root }
        }
    }

    /// libyaml's message with its mark: `file:line:col: YAML syntax error: <problem> (<context> at line:col)`.
    func syntaxError(_ p: yaml_parser_t) -> EmbedError {
        let problem = p.problem.map { String(cString: $0) } ?? "unknown error"
        var where_ = mark(p.problem_mark)
        if p.error == YAML_READER_ERROR {
            // Reader errors (bad UTF-8, control characters) carry a byte offset instead of a mark.
            where_ = position(ofByte: Int(p.problem_offset))
            var message = "\(where_): invalid text: \(problem)"
            if p.problem_value != -1 { message += " (byte 0x\(String(p.problem_value, radix: 16, uppercase: true)))" }
            return EmbedError(message)
        }
        var message = "\(where_): YAML syntax error: \(problem)"
        if let context = p.context.map({ String(cString: $0) }) {
            let cm = mark(p.context_mark)
            message += " (\(context) at line \(cm.line), column \(cm.column))"
        }
        return EmbedError(message)
    }

    /// Line and column (in characters) of a byte offset.
    func position(ofByte offset: Int) -> YAMLMark {
        var line = 1
        var column = 1
        for i in 0..<min(offset, bytes.count) {
            let b = bytes[i]
            if b == 0x0A {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
        }
        return YAMLMark(source: source, line: line, column: column)
    }

    /// Handles one event; true when the stream has ended.
    mutating func handle(_ event: inout yaml_event_t) throws -> Bool {
        let m = mark(event.start_mark)
        switch event.type {
        case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT:
            return false
        case YAML_STREAM_END_EVENT:
            return true
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            if documents > 1 {
                throw EmbedError("\(m): a second YAML document ('---'); a config file holds exactly one")
            }
            return false
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let text: String
            if let v = s.value {
                let raw = UnsafeBufferPointer(start: UnsafePointer(v), count: s.length)
                text = String(decoding: raw, as: UTF8.self)
            } else {
                text = ""
            }
            let style: YAMLScalarStyle
            switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            let node = YAMLNode(.scalar(text, style), mark: m, tag: Self.string(s.tag))
            try add(node, size: 1, anchor: Self.string(s.anchor))
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard let target = anchors[name] else { throw EmbedError("\(m): alias '*\(name)' names no anchor defined before it") }
            try add(target.node, size: target.size, anchor: nil)
        case YAML_SEQUENCE_START_EVENT:
            let s = event.data.sequence_start
            try push(.sequence(items: [], mark: m, tag: Self.string(s.tag), anchor: Self.string(s.anchor), size: 1), at: m)
        case YAML_MAPPING_START_EVENT:
            let s = event.data.mapping_start
            try push(.mapping(entries: [], pendingKey: nil, seen: [:], mark: m, tag: Self.string(s.tag),
                              anchor: Self.string(s.anchor), size: 1), at: m)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            guard let frame = stack.popLast() else { throw EmbedError("\(m): unbalanced YAML collection end") }
            switch frame {
            case .sequence(let items, let mark, let tag, let anchor, let size):
                try add(YAMLNode(.sequence(items), mark: mark, tag: tag), size: size, anchor: anchor)
            case .mapping(let entries, _, _, let mark, let tag, let anchor, let size):
                try add(YAMLNode(.mapping(entries), mark: mark, tag: tag), size: size, anchor: anchor)
            }
        default:
            break
        }
        return false
    }

    mutating func push(_ frame: Frame, at m: YAMLMark) throws {
        guard stack.count < YAML.maxDepth else {
            throw EmbedError("\(m): YAML nested deeper than \(YAML.maxDepth) levels")
        }
        stack.append(frame)
    }

    /// Attaches a finished node to the collection being built, or makes it the document's root.
    mutating func add(_ node: YAMLNode, size: Int, anchor: String?) throws {
        totalNodes += size
        guard totalNodes <= YAML.maxNodes else {
            throw EmbedError("\(node.mark): the YAML document expands to more than \(YAML.maxNodes) nodes (aliases?)")
        }
        if let anchor { anchors[anchor] = (node, size) }
        guard let top = stack.popLast() else {
            root = node
            return
        }
        switch top {
        case .sequence(var items, let mark, let tag, let a, let s):
            items.append(node)
            stack.append(.sequence(items: items, mark: mark, tag: tag, anchor: a, size: s + size))
        case .mapping(var entries, let pendingKey, var seen, let mark, let tag, let a, let s):
            if let key = pendingKey {
                entries.append(YAMLEntry(key: key, value: node))
                stack.append(.mapping(entries: entries, pendingKey: nil, seen: seen, mark: mark, tag: tag, anchor: a, size: s + size))
            } else {
                guard let keyText = node.scalarText else {
                    throw EmbedError("\(node.mark): a mapping key must be a scalar, not \(node.summary)")
                }
                if let first = seen[keyText] {
                    throw EmbedError("\(node.mark): duplicate key '\(keyText)' (first given at line \(first.line), column \(first.column))")
                }
                seen[keyText] = node.mark
                stack.append(.mapping(entries: entries, pendingKey: node, seen: seen, mark: mark, tag: tag, anchor: a, size: s + size))
            }
        }
    }
}
