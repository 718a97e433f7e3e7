/// One cell of a table read from Parquet, CSV or JSONL: what the dataset converter writes as a
/// JSON value. Integers stay integers (an int64 label keeps all its digits), floats are doubles.
package enum TableValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    /// A nested value (array or object) passed through from JSON input as it is.
    case nested(JSON)

    /// Appends the value as JSON (strings escaped as the pipeline's JSON writer escapes them).
    package func appendJSON(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += JSON.format(d)
        case .string(let s): JSON.writeString(s, to: &out)
        case .nested(let j): out += j.serialized()
        }
    }

    /// The value as a `JSON` value (integers become numbers).
    package var json: JSON {
        switch self {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .number(Double(i))
        case .double(let d): return .number(d)
        case .string(let s): return .string(s)
        case .nested(let j): return j
        }
    }

    /// The value of a JSON value (integral numbers that fit become `.int`; arrays and objects
    /// stay nested).
    package init(_ json: JSON) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .number(let d):
            if d.rounded() == d, abs(d) < 9.007_199_254_740_992e15 { self = .int(Int64(d)) } else { self = .double(d) }
        case .string(let s): self = .string(s)
        case .array, .object: self = .nested(json)
        }
    }

    package var description: String {
        var s = ""
        appendJSON(to: &s)
        return s
    }
}
