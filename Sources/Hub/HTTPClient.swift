import IO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CCurl
import CCurlShim

/// Response headers, looked up case-insensitively (HTTP header names are). When a name repeats,
/// the last value wins, except through `values(_:)`.
package struct HTTPHeaders: Sendable {
    package private(set) var entries: [(name: String, value: String)] = []

    package init(_ entries: [(name: String, value: String)] = []) { self.entries = entries }

    package subscript(name: String) -> String? {
        let n = name.lowercased()
        return entries.last { $0.name.lowercased() == n }?.value
    }

    package func values(_ name: String) -> [String] {
        let n = name.lowercased()
        return entries.filter { $0.name.lowercased() == n }.map(\.value)
    }

    mutating func append(_ name: String, _ value: String) { entries.append((name, value)) }
}

/// One HTTP response. `body` holds the bytes unless they were streamed to a sink.
package struct HTTPResponse: Sendable {
    package let url: String
    package let status: Int
    package let headers: HTTPHeaders
    package var body: [UInt8]

    package var isRedirect: Bool { (300..<400).contains(status) && headers["Location"] != nil }
    package var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// Why a request got no HTTP response at all (connection refused, reset, timed out, cut short).
/// These are the failures worth retrying: the server may be fine a moment later.
package struct HTTPTransportError: Error, CustomStringConvertible, Sendable {
    package let url: String
    package let code: Int
    package let message: String
    /// Body bytes that reached the sink before the failure (a resumable download keeps them).
    package let receivedBodyBytes: Int
    package var description: String { "\(message) (\(url))" }
}

/// A request body with a known length (sent with Content-Length, never chunked, as
/// huggingface_hub sends them): bytes in memory (JSON, NDJSON), or a range of a file read from disk
/// as libcurl asks for it, so a multi-GB LFS upload never sits in memory.
package enum HTTPBody: Sendable {
    case bytes([UInt8])
    case file(path: String, offset: Int, length: Int)

    package var count: Int {
        switch self {
        case .bytes(let b): return b.count
        case .file(_, _, let length): return length
        }
    }
}

/// A thin HTTP/1.1 client over one libcurl easy handle: keeps connections alive between calls,
/// never follows redirects by itself (the hub client decides which ones to follow and whether the
/// token may go along), and streams large bodies to a caller-supplied sink. Not thread-safe: one
/// per thread.
package final class HTTPClient {
    private let curl: UnsafeMutableRawPointer
    package let userAgent: String
    /// Seconds allowed to connect, and seconds a transfer may stall (below 1 byte/s) before it is
    /// abandoned as a transport error.
    package var connectTimeout = 10
    package var stallTimeout = 30

    package init(userAgent: String = "embedkit/\(EmbedKitVersion.string); hf_hub-compatible") throws {
        _ = HTTPClient.globalInit
        guard let handle = curl_easy_init() else { throw EmbedError("cannot initialise libcurl") }
        curl = handle
        self.userAgent = userAgent
    }

    deinit { curl_easy_cleanup(curl) }

    /// curl_global_init must run once before any handle exists; a global `let` runs it exactly once.
    private static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    /// Performs one request. With a `sink`, the body of a 2xx response is handed to it as it
    /// arrives instead of being kept; other statuses keep their (small, error) body in memory.
    /// A sink that throws aborts the transfer and its error is rethrown. `onHead` sees the status
    /// and headers of a 2xx response before the sink sees its first byte (a resumed download
    /// checks there whether the server honoured its Range). A `body` is sent with its length;
    /// `onSent` sees the count of body bytes handed to the connection (for a progress bar; a
    /// connection libcurl re-opens rewinds the body: `onRewind` gets the position it restarts from).
    package func request(
        _ method: String = "GET", _ url: String, headers: [(String, String)] = [],
        body: HTTPBody? = nil,
        onSent: ((Int) -> Void)? = nil,
        onRewind: ((Int) -> Void)? = nil,
        onHead: ((Int, HTTPHeaders) throws -> Void)? = nil,
        sink: ((UnsafeRawBufferPointer) throws -> Void)? = nil
    ) throws -> HTTPResponse {
        curl_easy_reset(curl)
        let state = TransferState(sink: sink, onHead: onHead)
        if let body { state.upload = try UploadSource(body, onSent: onSent, onRewind: onRewind) }
        let box = Unmanaged.passRetained(state)
        defer { box.release() }

        var list: UnsafeMutablePointer<curl_slist>? = nil
        for (name, value) in headers { list = curl_slist_append(list, "\(name): \(value)") }
        // libcurl would add "Expect: 100-continue" to uploads and wait up to a second for the
        // server's go-ahead; huggingface_hub sends no Expect, and neither do we.
        if body != nil, !headers.contains(where: { $0.0.lowercased() == "expect" }) { list = curl_slist_append(list, "Expect:") }
        defer { curl_slist_free_all(list) }

        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorBuffer.deallocate() }

        _ = ek_curl_setopt_string(curl, CURLOPT_URL, url)
        _ = ek_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = ek_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 0)
        _ = ek_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT, connectTimeout)
        _ = ek_curl_setopt_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1)
        _ = ek_curl_setopt_long(curl, CURLOPT_LOW_SPEED_TIME, stallTimeout)
        _ = ek_curl_setopt_string(curl, CURLOPT_USERAGENT, userAgent)
        _ = ek_curl_setopt_pointer(curl, CURLOPT_ERRORBUFFER, errorBuffer)
        if let list { _ = ek_curl_setopt_slist(curl, CURLOPT_HTTPHEADER, list) }
        if method == "HEAD" {
            _ = ek_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
        } else if method != "GET" {
            _ = ek_curl_setopt_string(curl, CURLOPT_CUSTOMREQUEST, method)
        }
        if let upload = state.upload {
            // An "upload" in libcurl's terms (read callback, known size) under any verb: POST
            // and PUT alike, with no Content-Type of libcurl's own.
            _ = ek_curl_setopt_long(curl, CURLOPT_UPLOAD, 1)
            _ = ek_curl_setopt_off(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(upload.length))
            _ = ek_curl_setopt_write_function(curl, CURLOPT_READFUNCTION, readCallback)
            _ = ek_curl_setopt_pointer(curl, CURLOPT_READDATA, box.toOpaque())
            _ = ek_curl_setopt_seek_function(curl, seekCallback)
            _ = ek_curl_setopt_pointer(curl, CURLOPT_SEEKDATA, box.toOpaque())
        }
        _ = ek_curl_setopt_write_function(curl, CURLOPT_HEADERFUNCTION, headerCallback)
        _ = ek_curl_setopt_pointer(curl, CURLOPT_HEADERDATA, box.toOpaque())
        _ = ek_curl_setopt_write_function(curl, CURLOPT_WRITEFUNCTION, writeCallback)
        _ = ek_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, box.toOpaque())

        let code = curl_easy_perform(curl)
        if let sinkError = state.sinkError { throw sinkError }
        if let readError = state.upload?.error { throw readError }
        if code != CURLE_OK {
            let detail = String(cString: errorBuffer)
            let text = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw HTTPTransportError(url: url, code: Int(code.rawValue), message: text, receivedBodyBytes: state.streamed)
        }
        var status = 0
        ek_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        if !state.headSeen, (200..<300).contains(status), let onHead = state.onHead {
            try onHead(status, state.headers)  // an empty body: the head still needs its look
        }
        return HTTPResponse(url: url, status: status, headers: state.headers, body: state.body)
    }
}

/// A request body as libcurl reads it: from memory, or with pread from an open file, at a
/// position libcurl may rewind (a retried send on a re-opened connection).
private final class UploadSource {
    let bytes: [UInt8]?
    let fd: Int32
    let path: String
    let offset: Int
    let length: Int
    var position = 0
    var error: EmbedError?
    let onSent: ((Int) -> Void)?
    let onRewind: ((Int) -> Void)?

    init(_ body: HTTPBody, onSent: ((Int) -> Void)?, onRewind: ((Int) -> Void)?) throws {
        self.onSent = onSent
        self.onRewind = onRewind
        switch body {
        case .bytes(let b):
            bytes = b
            fd = -1
            path = ""
            offset = 0
            length = b.count
        case .file(let p, let off, let len):
            let f = open(p, O_RDONLY | O_CLOEXEC)
            if f < 0 { throw EmbedError("\(p): cannot open for reading: \(FileSystem.errnoText())") }
            bytes = nil
            fd = f
            path = p
            offset = off
            length = len
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Copies up to `capacity` bytes of the body into `dest`; 0 at the end. nil on a read error.
    func read(into dest: UnsafeMutableRawPointer, capacity: Int) -> Int? {
        let n = min(capacity, length - position)
        guard n > 0 else { return 0 }
        if let bytes {
            bytes.withUnsafeBytes { dest.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
        } else {
            var got = 0
            while got < n {
                let r = pread(fd, dest + got, n - got, off_t(offset + position + got))
                if r < 0, errno == EINTR { continue }
                if r <= 0 {
                    error = EmbedError("\(path): read error while uploading: \(r < 0 ? FileSystem.errnoText() : "the file is shorter than when it was listed")")
                    return nil
                }
                got += r
            }
        }
        position += n
        onSent?(n)
        return n
    }
}

/// What the C callbacks fill in during one transfer.
private final class TransferState {
    var upload: UploadSource?
    let sink: ((UnsafeRawBufferPointer) throws -> Void)?
    let onHead: ((Int, HTTPHeaders) throws -> Void)?
    var headSeen = false
    var headers = HTTPHeaders()
    var status = 0
    var body: [UInt8] = []
    var streamed = 0
    var sinkError: Error?

    init(sink: ((UnsafeRawBufferPointer) throws -> Void)?, onHead: ((Int, HTTPHeaders) throws -> Void)?) {
        self.sink = sink
        self.onHead = onHead
    }
}

private let headerCallback: ek_curl_write_cb = { ptr, size, count, userdata in
    guard let ptr, let userdata else { return 0 }
    let n = size * count
    let state = Unmanaged<TransferState>.fromOpaque(userdata).takeUnretainedValue()
    let line = httpTrim(String(decoding: UnsafeRawBufferPointer(start: ptr, count: n), as: UTF8.self))
    if line.hasPrefix("HTTP/") {
        // A new response starts (e.g. after "100 Continue"): only its own headers count.
        state.headers = HTTPHeaders()
        let parts = line.split(separator: " ", maxSplits: 2)
        state.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
    } else if let colon = line.firstIndex(of: ":") {
        let name = httpTrim(line[..<colon])
        let value = httpTrim(line[line.index(after: colon)...])
        state.headers.append(name, value)
    }
    return n
}

private let writeCallback: ek_curl_write_cb = { ptr, size, count, userdata in
    guard let ptr, let userdata else { return 0 }
    let n = size * count
    let state = Unmanaged<TransferState>.fromOpaque(userdata).takeUnretainedValue()
    let bytes = UnsafeRawBufferPointer(start: ptr, count: n)
    if let sink = state.sink, (200..<300).contains(state.status) {
        do {
            if !state.headSeen {
                state.headSeen = true
                try state.onHead?(state.status, state.headers)
            }
            try sink(bytes)
            state.streamed += n
        } catch {
            state.sinkError = error
            return 0  // aborts the transfer
        }
    } else {
        state.body.append(contentsOf: bytes)
    }
    return n
}

private let readCallback: ek_curl_write_cb = { ptr, size, count, userdata in
    guard let ptr, let userdata else { return Int(CURL_READFUNC_ABORT) }
    let state = Unmanaged<TransferState>.fromOpaque(userdata).takeUnretainedValue()
    guard let upload = state.upload, let n = upload.read(into: ptr, capacity: size * count) else { return Int(CURL_READFUNC_ABORT) }
    return n
}

private let seekCallback: ek_curl_seek_cb = { userdata, offset, origin in
    guard let userdata, origin == SEEK_SET else { return CURL_SEEKFUNC_CANTSEEK }
    let state = Unmanaged<TransferState>.fromOpaque(userdata).takeUnretainedValue()
    guard let upload = state.upload, offset >= 0, Int(offset) <= upload.length else { return CURL_SEEKFUNC_FAIL }
    upload.position = Int(offset)
    upload.onRewind?(upload.position)
    return CURL_SEEKFUNC_OK
}

/// Trims spaces, tabs and line ends from both ends (Foundation-free).
func httpTrim<S: StringProtocol>(_ text: S) -> String {
    var s = Substring(text)
    while let f = s.utf8.first, f == 0x20 || f == 0x09 || f == 0x0D || f == 0x0A { s = s.dropFirst() }
    while let l = s.utf8.last, l == 0x20 || l == 0x09 || l == 0x0D || l == 0x0A { s = s.dropLast() }
    return String(s)
}
