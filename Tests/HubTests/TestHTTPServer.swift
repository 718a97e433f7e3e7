import Foundation
import Hub
import IO
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on 127.0.0.1 (an ephemeral port) for tests: POSIX sockets and one
/// thread, one request per connection (`Connection: close`). It reads request bodies (by
/// Content-Length, or chunked), answers `Expect: 100-continue`, and maps each request to a
/// response with a handler. A response may be cut short mid-body, and a request cut off mid-body
/// (`cutRequest`), to imitate dropped connections.
final class TestHTTPServer: @unchecked Sendable {
    struct Request: Sendable {
        let method: String
        /// The request target as sent: percent-encoded path and query.
        let target: String
        /// Header names lower-cased.
        let headers: [String: String]
        var body: [UInt8] = []

        var path: String { String(target.prefix { $0 != "?" }) }
        var query: String { target.firstIndex(of: "?").map { String(target[target.index(after: $0)...]) } ?? "" }
    }

    struct Response {
        var status: Int
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        /// Send only this many body bytes (after a full Content-Length), then close.
        var dropAfter: Int? = nil

        init(_ status: Int, headers: [(String, String)] = [], body: [UInt8] = [], dropAfter: Int? = nil) {
            self.status = status
            self.headers = headers
            self.body = body
            self.dropAfter = dropAfter
        }
    }

    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }
    private let listener: Int32
    private let lock = NSLock()
    private var log: [Request] = []
    private var stopped = false
    private let handler: @Sendable (Request) -> Response
    private let done = DispatchSemaphore(value: 0)
    /// Asked with each request's head: true reads half its body, then closes the connection
    /// without an answer (a connection dropped mid-upload). Such requests are logged too.
    var cutRequest: (@Sendable (Request) -> Bool)? {
        get { lock.lock(); defer { lock.unlock() }; return _cutRequest }
        set { lock.lock(); _cutRequest = newValue; lock.unlock() }
    }
    private var _cutRequest: (@Sendable (Request) -> Bool)?

    init(handler: @escaping @Sendable (Request) -> Response) throws {
        self.handler = handler
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw EmbedError("test server: socket() failed") }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { close(listener); throw EmbedError("test server: bind/listen failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        self.listener = listener
        let thread = Thread { [self] in self.serve() }
        thread.start()
    }

    /// Stops accepting and waits for the server thread to end.
    func stop() {
        lock.lock()
        let first = !stopped
        stopped = true
        lock.unlock()
        guard first else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        done.wait()
    }

    var requests: [Request] { lock.lock(); defer { lock.unlock() }; return log }

    func requests(matching path: String) -> [Request] { requests.filter { $0.path.contains(path) } }

    private func serve() {
        defer { done.signal() }
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR { continue }
                return
            }
            handle(fd)
            close(fd)
        }
    }

    private func handle(_ fd: Int32) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        var headEnd: Int? = nil
        while headEnd == nil {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { return }
            data += buf[0..<n]
            headEnd = Self.headEnd(data)
            if headEnd == nil, data.count > 1 << 16 { return }
        }
        let head = String(decoding: data[0..<headEnd!], as: UTF8.self)
        var pending = Array(data[(headEnd! + 4)...])
        let lines = head.components(separatedBy: "\r\n")
        let first = lines[0].split(separator: " ")
        guard first.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var request = Request(method: String(first[0]), target: String(first[1]), headers: headers)
        // Reads until `count` body bytes are pending (false if the connection ends first).
        func fill(_ count: Int) -> Bool {
            while pending.count < count {
                let n = recv(fd, &buf, buf.count, 0)
                if n <= 0 { return false }
                pending += buf[0..<n]
            }
            return true
        }
        if headers["expect"]?.lowercased() == "100-continue" { sendAll(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
        let length = headers["content-length"].flatMap { Int($0) } ?? 0
        if let cut = cutRequest, cut(request) {
            _ = fill(length / 2)
            request.body = Array(pending.prefix(length / 2))
            lock.lock()
            log.append(request)
            lock.unlock()
            return  // the caller closes the socket: no answer
        }
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            // Supported so that a client sending chunked bodies is seen (and can be refused) as such.
            var body: [UInt8] = []
            while true {
                var lineEnd: Int? = nil
                while lineEnd == nil {
                    lineEnd = Self.find([13, 10], in: pending)
                    if lineEnd == nil, !fill(pending.count + 1) { return }
                }
                let size = Int(String(decoding: pending[0..<lineEnd!], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
                pending.removeFirst(lineEnd! + 2)
                guard fill(size + 2) else { return }
                body += pending[0..<size]
                pending.removeFirst(size + 2)
                if size == 0 { break }
            }
            request.body = body
        } else {
            guard fill(length) else { return }
            request.body = Array(pending.prefix(length))
        }
        lock.lock()
        log.append(request)
        lock.unlock()
        let response = handler(request)
        var out = "HTTP/1.1 \(response.status) \(response.status < 400 ? "OK" : "Error")\r\n"
        var names = Set<String>()
        for (k, v) in response.headers {
            out += "\(k): \(v)\r\n"
            names.insert(k.lowercased())
        }
        if !names.contains("content-length") { out += "Content-Length: \(response.body.count)\r\n" }
        out += "Connection: close\r\n\r\n"
        sendAll(fd, Array(out.utf8))
        if request.method != "HEAD" {
            let n = min(response.dropAfter ?? response.body.count, response.body.count)
            sendAll(fd, Array(response.body[0..<n]))
        }
    }

    /// Where the blank line ending the head starts.
    private static func headEnd(_ d: [UInt8]) -> Int? { find([13, 10, 13, 10], in: d) }

    private static func find(_ needle: [UInt8], in d: [UInt8]) -> Int? {
        guard d.count >= needle.count else { return nil }
        for i in 0...(d.count - needle.count) where d[i] == needle[0] && Array(d[i..<(i + needle.count)]) == needle { return i }
        return nil
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }
}
