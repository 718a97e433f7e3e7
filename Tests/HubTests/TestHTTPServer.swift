import Foundation
import Hub
import IO
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A small HTTP/1.1 server on 127.0.0.1 (an ephemeral port) for tests: POSIX sockets and one
/// thread, one request per connection (`Connection: close`). A handler maps each request to a
/// response, which may be cut short mid-body to imitate a dropped connection.
final class TestHTTPServer: @unchecked Sendable {
    struct Request: Sendable {
        let method: String
        /// The request target as sent: percent-encoded path and query.
        let target: String
        /// Header names lower-cased.
        let headers: [String: String]

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
        var buf = [UInt8](repeating: 0, count: 4096)
        while !data.ends(with: [13, 10, 13, 10]) && !containsHeadEnd(data) {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { return }
            data += buf[0..<n]
            if data.count > 1 << 16 { return }
        }
        let head = String(decoding: data, as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let first = lines[0].split(separator: " ")
        guard first.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let request = Request(method: String(first[0]), target: String(first[1]), headers: headers)
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

    private func containsHeadEnd(_ d: [UInt8]) -> Bool {
        guard d.count >= 4 else { return false }
        for i in 0...(d.count - 4) where d[i] == 13 && d[i + 1] == 10 && d[i + 2] == 13 && d[i + 3] == 10 { return true }
        return false
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

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
