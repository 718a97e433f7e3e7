import Hummingbird
import IO
import NIOCore

/// TEI's error types (serialized PascalCase, as TEI 1.9 sends them) and their HTTP statuses.
enum ErrorType: String, Sendable {
    case Empty, Validation, Tokenizer, Overloaded, Backend, Unhealthy, NotFound

    var status: HTTPResponse.Status {
        switch self {
        case .Empty: .badRequest                                          // 400
        case .Validation, .Tokenizer: .unprocessableContent               // 422 (TEI >= 1.9.0; 413 before)
        case .Overloaded: .tooManyRequests                                // 429
        case .Backend: .init(code: 424, reasonPhrase: "Failed Dependency")
        case .Unhealthy: .serviceUnavailable                              // 503
        case .NotFound: .notFound                                         // not TEI's: /search without a corpus
        }
    }
}

/// Which failure counter of `te_request_failure{err=…}` an error counts in (TEI's labels).
enum FailureKind: String, Sendable {
    case validation, batch_size, overloaded, tokenization, inference, dropped
}

/// An error answered as JSON. The native routes use TEI's `{"error": …, "error_type": …}`; the
/// OpenAI route uses TEI's flat `{"message": …, "code": <status>, "type": …}` there, which the
/// `openai` client reads too (it takes `body.get("error", body)`).
struct APIError: Error, HTTPResponseError {
    enum Shape: Sendable { case tei, openAI }

    var type: ErrorType
    var message: String
    var kind: FailureKind
    var statusOverride: HTTPResponse.Status? = nil
    var shape: Shape = .tei

    init(_ type: ErrorType, _ message: String, kind: FailureKind = .validation, status: HTTPResponse.Status? = nil) {
        self.type = type
        self.message = message
        self.kind = kind
        self.statusOverride = status
    }

    var status: HTTPResponse.Status { statusOverride ?? type.status }

    func shaped(_ shape: Shape) -> APIError {
        var e = self
        e.shape = shape
        return e
    }

    var body: JSON {
        switch shape {
        case .tei: ["error": .string(message), "error_type": .string(type.rawValue)]
        case .openAI: ["message": .string(message), "code": .number(Double(status.code)), "type": .string(type.rawValue)]
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: body.serialized())))
    }
}
