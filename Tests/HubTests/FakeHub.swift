import Foundation
import Hub
import IO
import TestSupport

/// A fake Hugging Face hub in the real URL layout, on two local servers: the hub itself
/// (`/api/{models|datasets}/{id}/revision/{rev}`, `/api/…/tree/{rev}` paginated by `Link`,
/// `/{datasets/}{id}/resolve/{rev}/{path}`) and a "CDN" on another port, where LFS files are
/// redirected with 302 as on the real hub (so the token must not follow). Small files redirect
/// on the same host to `/api/resolve-cache/…`, as the real hub does. Faults can be injected.
final class FakeHub: @unchecked Sendable {
    struct Repo {
        var kind: HubRepo.Kind
        var id: String
        var refs: [String: String] = [:]
        var commits: [String: [String: [UInt8]]] = [:]
        var token: String?
        var gated = false
    }

    private let lock = NSLock()
    private var repos: [String: Repo] = [:]
    private var cdnBlobs: [String: [UInt8]] = [:]
    /// Paths whose first CDN/resolve-cache GET is cut after half the body.
    var dropOnce: Set<String> { get { locked { _dropOnce } } set { locked { _dropOnce = newValue } } }
    private var _dropOnce: Set<String> = []
    /// Paths always served with one byte flipped.
    var corrupt: Set<String> { get { locked { _corrupt } } set { locked { _corrupt = newValue } } }
    private var _corrupt: Set<String> = []
    /// Statuses to answer, in order, before serving normally, for requests whose path contains the key.
    var failures: [String: [Int]] { get { locked { _failures } } set { locked { _failures = newValue } } }
    private var _failures: [String: [Int]] = [:]
    /// Tree listing page size (small, to exercise `Link` pagination).
    var pageSize = 3

    private(set) var hub: TestHTTPServer!
    private(set) var cdn: TestHTTPServer!
    var endpoint: String { hub.baseURL }

    init() throws {
        hub = try TestHTTPServer { [unowned self] in self.handleHub($0) }
        cdn = try TestHTTPServer { [unowned self] in self.handleCDN($0) }
    }

    func stop() {
        hub.stop()
        cdn.stop()
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    static func isLFS(_ path: String) -> Bool {
        [".safetensors", ".bin", ".parquet", ".onnx"].contains { path.hasSuffix($0) }
    }

    /// Adds (or extends) a repo with a commit holding `files`, pointed to by `revision`.
    @discardableResult
    func add(_ kind: HubRepo.Kind, _ id: String, revision: String = "main", files: [String: [UInt8]], token: String? = nil, gated: Bool = false) -> String {
        var h = SHA1()
        h.update(Array("\(kind)/\(id)/\(revision)/\(files.keys.sorted())".utf8))
        let commit = SHA256.hex(h.finalize())
        locked {
            let key = "\(kind.rawValue)s/\(id)"
            var repo = repos[key] ?? Repo(kind: kind, id: id)
            repo.refs[revision] = commit
            repo.commits[commit] = files
            repo.token = token
            repo.gated = gated
            repos[key] = repo
            for (path, bytes) in files where FakeHub.isLFS(path) { cdnBlobs[SHA256.hash(bytes)] = bytes }
        }
        return commit
    }

    static func gitBlobID(_ bytes: [UInt8]) -> String {
        var h = SHA1.gitBlob(size: bytes.count)
        h.update(bytes)
        return h.hexDigest()
    }

    static func lfsPointer(_ bytes: [UInt8]) -> [UInt8] {
        Array("version https://git-lfs.github.com/spec/v1\noid sha256:\(SHA256.hash(bytes))\nsize \(bytes.count)\n".utf8)
    }

    private func takeFailure(_ path: String) -> Int? {
        locked {
            for (key, var statuses) in _failures where path.contains(key) && !statuses.isEmpty {
                let s = statuses.removeFirst()
                _failures[key] = statuses
                return s
            }
            return nil
        }
    }

    private func json(_ status: Int, _ value: JSON, _ headers: [(String, String)] = []) -> TestHTTPServer.Response {
        TestHTTPServer.Response(status, headers: [("Content-Type", "application/json")] + headers, body: Array(value.serialized().utf8))
    }

    private func error(_ status: Int, code: String?, message: String, _ extra: [(String, String)] = []) -> TestHTTPServer.Response {
        var h = extra
        if let code { h.append(("X-Error-Code", code)) }
        h.append(("X-Error-Message", message))
        return json(status, ["error": .string(message)], h)
    }

    /// Finds the repo a path names after a prefix: `org/name/<rest>`.
    private func repo(_ kind: String, _ parts: [Substring]) -> (Repo, [Substring])? {
        guard parts.count >= 2 else { return nil }
        return locked { repos["\(kind)/\(parts[0])/\(parts[1])"] }.map { ($0, Array(parts.dropFirst(2))) }
    }

    private func authorize(_ repo: Repo, _ req: TestHTTPServer.Request) -> TestHTTPServer.Response? {
        guard let token = repo.token else { return nil }
        if req.headers["authorization"] == "Bearer \(token)" { return nil }
        if repo.gated { return error(403, code: "GatedRepo", message: "Access to this model is restricted.") }
        return error(401, code: "RepoNotFound", message: "Invalid username or password.")
    }

    private func resolveCommit(_ repo: Repo, _ rev: String) -> String? {
        if repo.commits[rev] != nil { return rev }
        return repo.refs[rev]
    }

    func handleHub(_ req: TestHTTPServer.Request) -> TestHTTPServer.Response {
        if let s = takeFailure(req.path) { return error(s, code: nil, message: "injected failure") }
        let parts = req.path.split(separator: "/")
        // /api/{models|datasets}/org/name/{revision|tree}/{rev}
        if parts.first == "api", parts.count >= 2, parts[1] == "models" || parts[1] == "datasets" {
            guard let (repo, rest) = repo(String(parts[1]), Array(parts.dropFirst(2))) else {
                return error(401, code: "RepoNotFound", message: "Repository not found")
            }
            if let denied = authorize(repo, req) { return denied }
            guard rest.count == 2, let rev = String(rest[1]).removingPercentEncoding else {
                return error(404, code: nil, message: "no such route")
            }
            guard let commit = resolveCommit(repo, rev), let files = repo.commits[commit] else {
                return error(404, code: "RevisionNotFound", message: "Invalid rev id: \(rev)")
            }
            if rest[0] == "revision" {
                return json(200, .object(JSONObject([
                    ("id", .string(repo.id)), ("sha", .string(commit)),
                    ("siblings", .array(files.keys.sorted().map { .object(JSONObject([("rfilename", .string($0))])) })),
                ])))
            }
            if rest[0] == "tree" {
                guard req.query.contains("recursive=true") else { return error(400, code: nil, message: "expected recursive=true") }
                let cursor = req.query.split(separator: "&").first { $0.hasPrefix("cursor=") }.flatMap { Int($0.dropFirst(7)) } ?? 0
                var entries: [JSON] = []
                var dirs = Set<String>()
                for path in files.keys.sorted() {
                    var p = path
                    while let slash = p.lastIndex(of: "/") {
                        p = String(p[..<slash])
                        dirs.insert(p)
                    }
                }
                for d in dirs.sorted() {
                    entries.append(.object(JSONObject([("type", "directory"), ("oid", "0"), ("size", 0), ("path", .string(d))])))
                }
                for (path, bytes) in files.sorted(by: { $0.key < $1.key }) {
                    var o = JSONObject()
                    o["type"] = "file"
                    if FakeHub.isLFS(path) {
                        let pointer = FakeHub.lfsPointer(bytes)
                        o["oid"] = .string(FakeHub.gitBlobID(pointer))
                        o["size"] = .number(Double(pointer.count))
                        o["lfs"] = .object(JSONObject([
                            ("oid", .string(SHA256.hash(bytes))), ("size", .number(Double(bytes.count))),
                            ("pointerSize", .number(Double(pointer.count))),
                        ]))
                    } else {
                        o["oid"] = .string(FakeHub.gitBlobID(bytes))
                        o["size"] = .number(Double(bytes.count))
                    }
                    o["path"] = .string(path)
                    entries.append(.object(o))
                }
                let page = Array(entries.dropFirst(cursor).prefix(pageSize))
                var headers: [(String, String)] = []
                if cursor + pageSize < entries.count {
                    let base = req.target.replacingOccurrences(of: "&cursor=\(cursor)", with: "")
                    headers.append(("Link", "<\(hub.baseURL)\(base)&cursor=\(cursor + pageSize)>; rel=\"next\""))
                }
                return json(200, .array(page), headers)
            }
            return error(404, code: nil, message: "no such route")
        }
        // /api/resolve-cache/{models|datasets}/org/name/{commit}/{path}: small files' content.
        if parts.count >= 6, parts[0] == "api", parts[1] == "resolve-cache" {
            guard let (repo, rest) = repo(String(parts[2]), Array(parts.dropFirst(3))), rest.count >= 2,
                let files = repo.commits[String(rest[0])],
                let path = rest.dropFirst().joined(separator: "/").removingPercentEncoding, let bytes = files[path]
            else { return error(404, code: "EntryNotFound", message: "not found") }
            if let denied = authorize(repo, req) { return denied }
            return content(req, bytes, path: path, headers: [
                ("ETag", "\"\(FakeHub.gitBlobID(bytes))\""), ("X-Repo-Commit", String(rest[0])),
            ])
        }
        // /{datasets/}org/name/resolve/{rev}/{path}
        var p = parts[...]
        var kind = "models"
        if p.first == "datasets" { kind = "datasets"; p = p.dropFirst() }
        guard p.count >= 4, p[p.startIndex + 2] == "resolve", let (repo, _) = repo(kind, Array(p)) else {
            return error(401, code: "RepoNotFound", message: "Repository not found")
        }
        if let denied = authorize(repo, req) { return denied }
        let rest = Array(p.dropFirst(3))
        guard let rev = String(rest[0]).removingPercentEncoding, let commit = resolveCommit(repo, rev),
            let files = repo.commits[commit]
        else { return error(404, code: "RevisionNotFound", message: "Invalid rev id") }
        guard let path = rest.dropFirst().joined(separator: "/").removingPercentEncoding, let bytes = files[path] else {
            return error(404, code: "EntryNotFound", message: "Entry not found", [("X-Repo-Commit", commit)])
        }
        if FakeHub.isLFS(path) {
            let sha = SHA256.hash(bytes)
            return TestHTTPServer.Response(302, headers: [
                ("Location", "\(cdn.baseURL)/cdn/\(sha)?X-Amz-Signature=secret&path=\(path)"),
                ("X-Repo-Commit", commit), ("X-Linked-Etag", "\"\(sha)\""), ("X-Linked-Size", "\(bytes.count)"),
                ("ETag", "\"\(FakeHub.gitBlobID(FakeHub.lfsPointer(bytes)))\""),
            ])
        }
        return TestHTTPServer.Response(307, headers: [
            ("Location", "/api/resolve-cache/\(kind)/\(repo.id)/\(commit)/\(path)"), ("X-Repo-Commit", commit),
        ])
    }

    func handleCDN(_ req: TestHTTPServer.Request) -> TestHTTPServer.Response {
        if let s = takeFailure(req.path) { return TestHTTPServer.Response(s, body: Array("injected".utf8)) }
        let parts = req.path.split(separator: "/")
        guard parts.count == 2, parts[0] == "cdn", let bytes = locked({ cdnBlobs[String(parts[1])] }) else {
            return TestHTTPServer.Response(404, body: Array("NoSuchKey".utf8))
        }
        let path = req.query.split(separator: "&").first { $0.hasPrefix("path=") }.map { String($0.dropFirst(5)) } ?? ""
        if req.headers["authorization"] != nil { return TestHTTPServer.Response(400, body: Array("token leaked to CDN".utf8)) }
        return content(req, bytes, path: path, headers: [("ETag", "\"\(SHA256.hash(bytes))\"")])
    }

    /// Serves bytes with Range support and the injected faults.
    private func content(_ req: TestHTTPServer.Request, _ original: [UInt8], path: String, headers: [(String, String)]) -> TestHTTPServer.Response {
        var bytes = original
        if corrupt.contains(path), !bytes.isEmpty { bytes[bytes.count / 2] ^= 0xFF }
        var start = 0
        var status = 200
        var h = headers
        if let range = req.headers["range"], range.hasPrefix("bytes="), range.hasSuffix("-"),
            let from = Int(range.dropFirst(6).dropLast())
        {
            if from >= bytes.count { return TestHTTPServer.Response(416, headers: [("Content-Range", "bytes */\(bytes.count)")]) }
            start = from
            status = 206
            h.append(("Content-Range", "bytes \(from)-\(bytes.count - 1)/\(bytes.count)"))
        }
        var drop: Int?
        if req.method == "GET", locked({ _dropOnce.remove(path) != nil }) { drop = (bytes.count - start) / 2 }
        return TestHTTPServer.Response(status, headers: h, body: Array(bytes[start...]), dropAfter: drop)
    }
}
