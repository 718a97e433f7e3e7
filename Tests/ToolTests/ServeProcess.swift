import Foundation
import IO
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A `serve` process on 127.0.0.1 and a free port (`--port 0`; the port is read from its
/// "listening on" line), with a small blocking HTTP/1.1 client for it. The client is written on
/// POSIX sockets so that a test controls exactly what is sent (a body cut short, 2 MB bodies,
/// many connections at once) and sees every status and header as sent.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let stderrPath: String
    private let stderrHandle: FileHandle

    /// Starts `serve ARGS --host 127.0.0.1 --port 0` and waits (up to `timeout` s) until it listens.
    init(_ arguments: [String], timeout: Double = 180) throws {
        let binary = try #require(ToolRunner.path("serve"), "serve was not built beside the test bundle")
        stderrPath = TestPaths.scratch("serve") + "/stderr"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        stderrHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments + ["--host", "127.0.0.1", "--port", "0"]
        process.standardError = stderrHandle
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var found: Int? = nil
        let path = stderrPath
        func log() -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        while Date() < deadline, found == nil, process.isRunning {
            let text = log()
            if let r = text.range(of: "listening on http://127.0.0.1:") {
                found = Int(text[r.upperBound...].prefix { $0.isNumber })
            } else {
                usleep(20_000)
            }
        }
        guard let found else {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            throw ServeError("serve did not start listening:\n\(log())")
        }
        port = found
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? stderrHandle.close()
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits for the exit status (SIGKILL after `timeout` s).
    func stop(_ signal: Int32 = SIGTERM, timeout: Double = 60) -> Int32 {
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    struct Response: Sendable {
        let status: Int
        /// Header names lower-cased.
        let headers: [String: String]
        let body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: JSON? { try? JSON.parse(body) }
    }

    struct ServeError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    func post(_ path: String, _ body: String) throws -> Response {
        try request("POST", path, body: Array(body.utf8))
    }

    func post(_ path: String, json: JSON) throws -> Response {
        try request("POST", path, body: Array(json.serialized().utf8))
    }

    func get(_ path: String) throws -> Response {
        try request("GET", path)
    }

    /// One request on its own connection (`Connection: close`): the response as sent. A body the
    /// server stops reading (413) is not an error: the response is read all the same.
    func request(_ method: String, _ path: String, body: [UInt8]? = nil,
                 contentType: String = "application/json") throws -> Response {
        let fd = try connectSocket()
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let body { head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        let bytes = Array(head.utf8) + (body ?? [])
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }  // the server closed early (e.g. after a 413): read what it said
            sent += n
        }
        var raw: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { break }
            raw += buffer[0..<n]
        }
        return try Self.parse(raw)
    }

    /// Opens a connection to the server (throws when it is refused).
    func connectSocket() throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServeError("socket() failed") }
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if r != 0 {
            let e = errno
            close(fd)
            throw ServeError("connect: \(String(cString: strerror(e)))")
        }
        return fd
    }

    /// Status line, headers, and a Content-Length or chunked body.
    static func parse(_ raw: [UInt8]) throws -> Response {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, raw.count - 3)).first(where: { Array(raw[$0..<($0 + 4)]) == separator }) else {
            throw ServeError("no HTTP response head in \(raw.count) bytes: \(String(decoding: raw.prefix(200), as: UTF8.self))")
        }
        let lines = String(decoding: raw[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw ServeError("bad status line \(lines[0])") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(raw[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            var out: [UInt8] = [], i = 0
            while i < body.count {
                guard let lineEnd = (i..<(body.count - 1)).first(where: { body[$0] == 13 && body[$0 + 1] == 10 }),
                      let size = Int(String(decoding: body[i..<lineEnd], as: UTF8.self).split(separator: ";")[0], radix: 16)
                else { break }
                if size == 0 { break }
                out += body[(lineEnd + 2)..<(lineEnd + 2 + size)]
                i = lineEnd + 2 + size + 2
            }
            body = out
        } else if let length = headers["content-length"].flatMap({ Int($0) }) {
            body = Array(body.prefix(length))
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// The value of a metric sample line (`name{labels} value`), 0 when absent.
    func metric(_ sample: String) throws -> Double {
        let text = try get("/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1)) ?? 0
        }
        return 0
    }

    /// Waits until `metric(sample) >= value` (the server has queued what a test sent).
    func waitForMetric(_ sample: String, atLeast value: Double, timeout: Double = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while try metric(sample) < value {
            guard Date() < deadline else { throw ServeError("\(sample) did not reach \(value)") }
            usleep(20_000)
        }
    }
}

/// Runs `body` on a thread of its own and hands back its result later (tests send requests
/// concurrently with plain threads: the client blocks).
final class Concurrent<T>: @unchecked Sendable {
    private var result: Result<T, any Error>?
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () throws -> T) {
        Thread {
            self.result = Result { try body() }
            self.done.signal()
        }.start()
    }

    func value() throws -> T {
        done.wait()
        done.signal()
        return try result!.get()
    }
}
