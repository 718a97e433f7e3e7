import CYAML
import IO

/// The `configs:` section of a dataset repository's README.md front matter — how the hub and the
/// `datasets` library learn which files make up which configuration and split:
///
///     configs:
///     - config_name: triplet
///       default: true
///       data_files:
///       - split: train
///         path: triplet/train-*
///
/// `data_files` may also be one pattern or a list of patterns (then all of it is the train split).
package struct DatasetCard: Sendable {
    package struct Config: Sendable, Equatable {
        package let name: String
        package let isDefault: Bool
        /// Split name → glob patterns relative to the repository root.
        package let dataFiles: [String: [String]]
    }

    package let configs: [Config]

    package init(configs: [Config]) { self.configs = configs }

    /// Parses a README's YAML front matter (text between a leading `---` line and the next one).
    /// A README without front matter, or without `configs`, has no configs.
    package static func parse(readme: String, path: String = "README.md") throws -> DatasetCard {
        var lines = readme.split(separator: "\n", omittingEmptySubsequences: false).map { httpTrim($0) == "---" }
        guard lines.first == true else { return DatasetCard(configs: []) }
        lines.removeFirst()
        guard let close = lines.firstIndex(of: true) else { return DatasetCard(configs: []) }
        let yamlText = readme.split(separator: "\n", omittingEmptySubsequences: false)[1...close].joined(separator: "\n")
        let doc = try parseYAML(yamlText, path: path)
        guard let configs = doc["configs"]?.array else { return DatasetCard(configs: []) }
        var out: [Config] = []
        for (i, c) in configs.enumerated() {
            let name = c["config_name"]?.string ?? "default"
            let isDefault = c["default"]?.string.map { ["true", "True", "yes"].contains($0) } ?? false
            var files: [String: [String]] = [:]
            func patterns(_ v: JSON?) -> [String] {
                if let s = v?.string { return [s] }
                return (v?.array ?? []).compactMap(\.string)
            }
            switch c["data_files"] {
            case .string(let s)?: files["train"] = [s]
            case .array(let entries)?:
                for e in entries {
                    if let s = e.string {
                        files["train", default: []].append(s)
                    } else if let split = e["split"]?.string {
                        files[split, default: []] += patterns(e["path"])
                    }
                }
            case .object(let o)?:
                for (split, v) in o { files[split, default: []] += patterns(v) }
            default:
                if c["data_dir"]?.string == nil {
                    throw EmbedError("\(path): configs[\(i)] ('\(name)') has no data_files")
                }
                files["*"] = [c["data_dir"]!.string! + "/**"]
            }
            out.append(Config(name: name, isDefault: isDefault, dataFiles: files))
        }
        return DatasetCard(configs: out)
    }

    /// YAML to JSON values through libyaml's event API. Scalars stay strings (the fields read here
    /// are all strings); aliases are not expanded.
    static func parseYAML(_ text: String, path: String) throws -> JSON {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw EmbedError("\(path): cannot initialise libyaml") }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buf in
            yaml_parser_set_input_string(&parser, buf.baseAddress, buf.count)
            // A stack of containers being built; mappings keep a pending key.
            enum Frame { case array([JSON]), object(JSONObject, String?) }
            var stack: [Frame] = []
            var result: JSON = .null
            func add(_ v: JSON) {
                guard let top = stack.popLast() else { result = v; return }
                switch top {
                case .array(var a): a.append(v); stack.append(.array(a))
                case .object(var o, let key):
                    if let key { o[key] = v; stack.append(.object(o, nil)) } else { stack.append(.object(o, v.string ?? v.serialized())) }
                }
            }
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    let problem = parser.problem.map { String(cString: $0) } ?? "syntax error"
                    throw EmbedError("\(path):\(parser.problem_mark.line + 2): YAML front matter: \(problem)")
                }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_SCALAR_EVENT:
                    let s = event.data.scalar
                    add(.string(String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)))
                case YAML_SEQUENCE_START_EVENT: stack.append(.array([]))
                case YAML_MAPPING_START_EVENT: stack.append(.object(JSONObject(), nil))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let top = stack.popLast() else { break }
                    switch top {
                    case .array(let a): add(.array(a))
                    case .object(let o, _): add(.object(o))
                    }
                case YAML_ALIAS_EVENT: add(.null)
                case YAML_STREAM_END_EVENT: return result
                default: break
                }
            }
        }
    }
}

/// Glob matching as `datasets` and the hub use it for data_files patterns: `*` and `?` stay within
/// one path component, `**` spans components (and `**/` may match none), `[...]` is a class.
func dataFilesGlobMatch(_ pattern: String, _ path: String) -> Bool {
    let p = Array(pattern.utf8)
    let s = Array(path.utf8)
    var memo = [Int: Bool]()
    func match(_ i: Int, _ j: Int) -> Bool {
        let key = i * (s.count + 1) + j
        if let m = memo[key] { return m }
        let result: Bool
        if i == p.count {
            result = j == s.count
        } else if p[i] == 0x2A, i + 1 < p.count, p[i + 1] == 0x2A {
            var k = i + 2
            let slash = k < p.count && p[k] == 0x2F
            if slash { k += 1 }
            // `**/` matches zero or more whole components; `**` any run of characters.
            var r = false
            if slash && match(k, j) { r = true }
            var jj = j
            while !r && jj < s.count {
                jj += 1
                if slash { if s[jj - 1] == 0x2F && match(k, jj) { r = true } } else if match(k, jj) { r = true }
            }
            if !r && !slash && match(k, j) { r = true }
            result = r
        } else if p[i] == 0x2A {
            var r = match(i + 1, j)
            var jj = j
            while !r && jj < s.count && s[jj] != 0x2F { jj += 1; r = match(i + 1, jj) }
            result = r
        } else if j == s.count {
            result = false
        } else if p[i] == 0x3F {
            result = s[j] != 0x2F && match(i + 1, j + 1)
        } else if p[i] == 0x5B, let close = p[(i + 1)...].firstIndex(of: 0x5D) {
            var k = i + 1
            var negate = false
            if k < close, p[k] == 0x21 || p[k] == 0x5E { negate = true; k += 1 }
            var hit = false
            while k < close {
                if k + 2 < close, p[k + 1] == 0x2D {
                    if s[j] >= p[k] && s[j] <= p[k + 2] { hit = true }
                    k += 3
                } else {
                    if s[j] == p[k] { hit = true }
                    k += 1
                }
            }
            result = hit != negate && s[j] != 0x2F && match(close + 1, j + 1)
        } else {
            result = p[i] == s[j] && match(i + 1, j + 1)
        }
        memo[key] = result
        return result
    }
    return match(0, 0)
}
