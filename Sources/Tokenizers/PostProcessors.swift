import IO

/// Post-processors for a single sequence: they add the special tokens around the model's ids.
indirect enum PostProcessorStep: Sendable {
    /// TemplateProcessing's `single` template: special tokens (each possibly several ids) and `$A`.
    case template([TemplateItem])
    /// `[CLS] $A [SEP]` (BertProcessing) or `<s> $A </s>` (RobertaProcessing): same shape.
    case wrap(first: Int32, last: Int32)
    /// ByteLevel only adjusts offsets: ids unchanged.
    case byteLevel
    case sequence([PostProcessorStep])

    enum TemplateItem: Sendable {
        case special([Int32])
        case sequence
    }

    /// How many ids it adds to a single sequence (what truncation reserves room for).
    var addedCount: Int {
        switch self {
        case .template(let items):
            return items.reduce(0) { n, item in
                if case .special(let ids) = item { return n + ids.count }
                return n
            }
        case .wrap: return 2
        case .byteLevel: return 0
        case .sequence(let steps): return steps.reduce(0) { $0 + $1.addedCount }
        }
    }

    /// `content` with the special tokens added.
    func apply(_ content: [Int32]) -> [Int32] {
        switch self {
        case .template(let items):
            var out: [Int32] = []
            out.reserveCapacity(content.count + addedCount)
            for item in items {
                switch item {
                case .special(let ids): out += ids
                case .sequence: out += content
                }
            }
            return out
        case .wrap(let first, let last):
            var out: [Int32] = [first]
            out.reserveCapacity(content.count + 2)
            out += content
            out.append(last)
            return out
        case .byteLevel:
            return content
        case .sequence(let steps):
            return steps.reduce(content) { $1.apply($0) }
        }
    }

    /// Parses a `post_processor` object of `tokenizer.json`.
    static func parse(_ json: JSON, context: String) throws -> PostProcessorStep? {
        if json.isNull { return nil }
        guard let type = json["type"]?.string else { throw EmbedError("\(context): post_processor has no type") }
        switch type {
        case "TemplateProcessing":
            var specials: [String: [Int32]] = [:]
            if let map = json["special_tokens"]?.object {
                for (name, value) in map {
                    guard let ids = value["ids"]?.array else {
                        throw EmbedError("\(context): TemplateProcessing special token '\(name)' has no ids")
                    }
                    specials[name] = try ids.map { v in
                        guard let i = v.int else { throw EmbedError("\(context): special token '\(name)' has a non-integer id") }
                        return Int32(i)
                    }
                }
            }
            guard let single = json["single"]?.array else {
                throw EmbedError("\(context): TemplateProcessing has no 'single' template")
            }
            var items: [TemplateItem] = []
            for piece in single {
                if let special = piece["SpecialToken"] {
                    guard let name = special["id"]?.string, let ids = specials[name] else {
                        throw EmbedError("\(context): TemplateProcessing uses an undefined special token \(special["id"]?.string ?? "?")")
                    }
                    items.append(.special(ids))
                } else if piece["Sequence"] != nil {
                    items.append(.sequence)
                } else {
                    throw EmbedError("\(context): unrecognised TemplateProcessing item")
                }
            }
            return .template(items)
        case "BertProcessing", "RobertaProcessing":
            guard let cls = json["cls"]?.array, cls.count == 2, let clsId = cls[1].int,
                  let sep = json["sep"]?.array, sep.count == 2, let sepId = sep[1].int
            else { throw EmbedError("\(context): \(type) needs 'cls' and 'sep' as [token, id]") }
            return .wrap(first: Int32(clsId), last: Int32(sepId))
        case "ByteLevel":
            return .byteLevel
        case "Sequence":
            guard let list = json["processors"]?.array else { throw EmbedError("\(context): Sequence post_processor has no processors") }
            return .sequence(try list.compactMap { try parse($0, context: context) })
        default:
            throw EmbedError("\(context): unsupported post_processor type '\(type)'")
        }
    }
}
