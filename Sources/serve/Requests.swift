import Hummingbird
import IO
import Inference
import NIOCore

/// One input of a request: a text, or token ids sent instead (TEI's `[u32]`, taken as the whole
/// sequence, special tokens included).
enum InputItem: Sendable {
    case text(String)
    case ids([Int32])

    var isEmpty: Bool {
        switch self {
        case .text(let s): s.isEmpty
        case .ids(let a): a.isEmpty
        }
    }
}

/// What a request asks of the embedding: TEI's options, with TEI's defaults filled in.
struct EmbedOptions: Sendable {
    var normalize = true
    var truncate: Bool
    var keepEnd = false
    var promptName: String? = nil
    var dimensions: Int? = nil
}

/// The body of POST /embed or /v1/embeddings, decoded field by field so that every problem gets
/// TEI's status and a message naming the field. Unknown fields are ignored, as TEI does.
struct RequestBody {
    let json: JSONObject
    let shape: APIError.Shape

    /// Reads at most `limit` bytes (413 past it) and parses them as a JSON object: not JSON is
    /// 400, JSON that is not an object is 422 (TEI's statuses; TEI sends these as plain text, we
    /// as JSON in the route's error shape).
    static func read(_ request: Request, limit: Int, shape: APIError.Shape) async throws -> RequestBody {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw tooLarge(limit, shape)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw tooLarge(limit, shape)
        }
        let parsed: JSON
        do {
            parsed = try buffer.withUnsafeReadableBytes { try JSON.parse($0) }
        } catch {
            throw APIError(.Validation, "Failed to parse the request body as JSON: \(error)", status: .badRequest).shaped(shape)
        }
        guard let object = parsed.object else {
            throw invalid("expected a JSON object", shape)
        }
        return RequestBody(json: object, shape: shape)
    }

    static func tooLarge(_ limit: Int, _ shape: APIError.Shape) -> APIError {
        APIError(.Validation, "Failed to buffer the request body: length limit exceeded (--max-body-bytes \(limit))",
                 status: .contentTooLarge).shaped(shape)
    }

    static func invalid(_ message: String, _ shape: APIError.Shape) -> APIError {
        APIError(.Validation, "Failed to deserialize the JSON body into the target type: \(message)").shaped(shape)
    }

    func invalid(_ message: String) -> APIError { Self.invalid(message, shape) }

    /// `inputs`/`input`: a string; an array of token ids (one input); or an array of strings and
    /// token-id arrays (a batch). `single` is true for a lone string or id array.
    func inputs(_ field: String) throws -> (items: [InputItem], single: Bool) {
        guard let value = json[field], !value.isNull else { throw invalid("missing field `\(field)`") }
        let expected = "`\(field)` must be a string, an array of strings, or token ids"
        switch value {
        case .string(let s):
            return ([.text(s)], true)
        case .array(let a):
            if !a.isEmpty, a.allSatisfy({ $0.double != nil }) {
                return ([.ids(try tokenIDs(a, field))], true)
            }
            let items = try a.enumerated().map { (i, v) -> InputItem in
                switch v {
                case .string(let s): return .text(s)
                case .array(let ids): return .ids(try tokenIDs(ids, "\(field)[\(i)]"))
                default: throw invalid("\(field)[\(i)]: expected a string or an array of token ids")
                }
            }
            return (items, false)
        default:
            throw invalid(expected)
        }
    }

    private func tokenIDs(_ a: [JSON], _ field: String) throws -> [Int32] {
        try a.map { v in
            guard let n = v.int, n >= 0, n <= Int(Int32.max) else {
                throw invalid("`\(field)`: token ids must be non-negative integers")
            }
            return Int32(n)
        }
    }

    func bool(_ field: String) throws -> Bool? {
        guard let v = json[field], !v.isNull else { return nil }
        guard let b = v.bool else { throw invalid("`\(field)` must be true or false") }
        return b
    }

    func string(_ field: String) throws -> String? {
        guard let v = json[field], !v.isNull else { return nil }
        guard let s = v.string else { throw invalid("`\(field)` must be a string") }
        return s
    }

    /// A non-negative integer (TEI's usize); 0 passes here and fails later with TEI's own message.
    func count(_ field: String) throws -> Int? {
        guard let v = json[field], !v.isNull else { return nil }
        guard let n = v.int, n >= 0 else { throw invalid("`\(field)` must be a non-negative integer") }
        return n
    }

    /// TEI's `truncation_direction`: "Right"/"right" (keep the start) or "Left"/"left".
    func keepEnd() throws -> Bool {
        switch try string("truncation_direction") {
        case nil, "Right", "right": return false
        case "Left", "left": return true
        case let other?: throw invalid("`truncation_direction` must be \"Right\" or \"Left\", not \"\(other)\"")
        }
    }
}
