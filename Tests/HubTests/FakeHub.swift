import Foundation
import Hub
import IO
import TestSupport

/// A fake Hugging Face hub in the real URL layout, on two local servers: the hub itself and a
/// "CDN/S3" on another port, which refuses any request carrying a token (as signed storage URLs
/// must get none). Downloads: `/api/{models|datasets}/{id}/revision/{rev}`, `/api/…/tree/{rev}`
/// paginated by `Link`, `/{datasets/}{id}/resolve/{rev}/{path}` (LFS files redirect with 302 to
/// the CDN, small files on the same host to `/api/resolve-cache/…`, as the real hub does).
/// Uploads, as huggingface_hub speaks them without Xet (see tools/fake_hub.py, the same fake in
/// Python, which huggingface_hub itself was checked against): `POST /api/repos/create`,
/// `/api/validate-yaml`, `/api/whoami-v2`, `/api/…/preupload/{rev}`, `/api/…/branch/{b}`,
/// the LFS batch API `/{id}.git/info/lfs/objects/batch` with `basic` and `multipart` transfers
/// (parts and basic PUTs on the CDN, the signed completion and `verify` on the hub), and the NDJSON
/// `/api/…/commit/{rev}` (`?create_pr=1` opens `refs/pr/N`). Tokens map to a user and a role
/// (read/write); private repos answer 401/404 `RepoNotFound` to others; writes need a write token
/// of the namespace (403 otherwise). Faults can be injected: statuses, cut connections (answers
/// cut mid-body, uploads cut mid-body), corrupted bytes.
final class FakeHub: @unchecked Sendable {
    struct Entry {
        var bytes: [UInt8]
        var lfs: Bool
    }

    struct Repo {
        var kind: HubRepo.Kind
        var id: String
        var isPrivate = false
        var gated = false
        var refs: [String: String] = [:]
        var commits: [String: [String: Entry]] = [:]
        /// LFS objects stored for this repo, by sha256.
        var lfs: [String: [UInt8]] = [:]
        var nextPR = 1
        var owner: String { String(id.split(separator: "/").first ?? "") }
        var webPrefix: String { kind == .model ? "" : "datasets/" }
    }

    /// A pending LFS upload (basic when `parts` is nil).
    struct Upload {
        var repoKey: String
        var oid: String
        var size: Int
        var sig: String
        var partCount: Int?
        var parts: [Int: (bytes: [UInt8], etag: String)] = [:]
    }

    private let lock = NSLock()
    private var repos: [String: Repo] = [:]
    private var uploads: [String: Upload] = [:]
    private var counter = 0

    /// Paths whose first CDN/resolve-cache GET is cut after half the body.
    var dropOnce: Set<String> { get { locked { _dropOnce } } set { locked { _dropOnce = newValue } } }
    private var _dropOnce: Set<String> = []
    /// Request paths (substrings) whose next upload is cut off mid-body, once each.
    var cutOnce: Set<String> { get { locked { _cutOnce } } set { locked { _cutOnce = newValue } } }
    private var _cutOnce: Set<String> = []
    /// Paths always served with one byte flipped.
    var corrupt: Set<String> { get { locked { _corrupt } } set { locked { _corrupt = newValue } } }
    private var _corrupt: Set<String> = []
    /// Statuses to answer, in order, before serving normally, for requests whose path contains the key.
    var failures: [String: [Int]] { get { locked { _failures } } set { locked { _failures = newValue } } }
    private var _failures: [String: [Int]] = [:]
    /// Token → (user, role "read" or "write").
    var tokens: [String: (user: String, role: String)] {
        get { locked { _tokens } } set { locked { _tokens = newValue } }
    }
    private var _tokens: [String: (user: String, role: String)] = ["hf_write": ("alice", "write"), "hf_read": ("alice", "read")]
    /// Tree listing page size (small, to exercise `Link` pagination).
    var pageSize = 3
    /// preupload: files above this size go through LFS (also those .gitattributes names, and
    /// those whose first 512 bytes hold a NUL).
    var regularMax = 10 << 20
    /// LFS batch: objects this size and above get the multipart transfer, in `chunkSize` parts
    /// whose URLs are keyed by part number, zero-padded to `partKeyWidth` digits.
    var multipartThreshold = 20 << 20
    var chunkSize = 8 << 20
    var partKeyWidth = 5

    private(set) var hub: TestHTTPServer!
    private(set) var cdn: TestHTTPServer!
    var endpoint: String { hub.baseURL }

    /// What a new repo's first commit holds, as on the real hub (a shortened list of patterns).
    static let defaultGitattributes = [
        "*.bin", "*.safetensors", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.onnx", "*.parquet", "*.arrow",
        "*.npy", "*.npz", "*.gz", "*.zip", "*.tar", "*.zst", "*tfevents*",
    ].map { "\($0) filter=lfs diff=lfs merge=lfs -text\n" }.joined()

    /// A few of the hub's license ids: validate-yaml rejects others.
    static let knownLicenses = ["apache-2.0", "mit", "cc-by-4.0", "cc-by-sa-4.0", "cc0-1.0", "bsd-3-clause", "other"]

    init() throws {
        hub = try TestHTTPServer { [unowned self] in self.handleHub($0) }
        cdn = try TestHTTPServer { [unowned self] in self.handleCDN($0) }
        let cut: @Sendable (TestHTTPServer.Request) -> Bool = { [unowned self] req in
            guard req.method == "PUT" || req.method == "POST" else { return false }
            return self.locked {
                guard let key = self._cutOnce.first(where: { req.path.contains($0) }) else { return false }
                self._cutOnce.remove(key)
                return true
            }
        }
        hub.cutRequest = cut
        cdn.cutRequest = cut
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

    private static func key(_ kind: HubRepo.Kind, _ id: String) -> String { "\(kind.rawValue)s/\(id)" }

    /// Adds (or extends) a repo with a commit holding `files`, pointed to by `revision`. With a
    /// `token`, the repo is private (or gated) and that token reads it.
    @discardableResult
    func add(_ kind: HubRepo.Kind, _ id: String, revision: String = "main", files: [String: [UInt8]], token: String? = nil, gated: Bool = false) -> String {
        var h = SHA1()
        h.update(Array("\(kind)/\(id)/\(revision)/\(files.keys.sorted())".utf8))
        let commit = SHA256.hex(h.finalize())
        locked {
            let key = Self.key(kind, id)
            var repo = repos[key] ?? Repo(kind: kind, id: id)
            repo.refs[revision] = commit
            repo.commits[commit] = files.reduce(into: [:]) { $0[$1.key] = Entry(bytes: $1.value, lfs: FakeHub.isLFS($1.key)) }
            for (path, bytes) in files where FakeHub.isLFS(path) { repo.lfs[SHA256.hash(bytes)] = bytes }
            if let token {
                _tokens[token] = (repo.owner, "read")
                if gated { repo.gated = true } else { repo.isPrivate = true }
            }
            repos[key] = repo
        }
        return commit
    }

    /// The files of a repo at a revision (nil: no such repo or revision).
    func files(_ kind: HubRepo.Kind, _ id: String, revision: String = "main") -> [String: [UInt8]]? {
        locked {
            guard let repo = repos[Self.key(kind, id)], let c = resolveCommit(repo, revision) else { return nil }
            return repo.commits[c]?.mapValues(\.bytes)
        }
    }

    /// Whether a file is stored through LFS at a revision.
    func isLFSEntry(_ kind: HubRepo.Kind, _ id: String, revision: String = "main", path: String) -> Bool? {
        locked {
            guard let repo = repos[Self.key(kind, id)], let c = resolveCommit(repo, revision) else { return nil }
            return repo.commits[c]?[path]?.lfs
        }
    }

    func head(_ kind: HubRepo.Kind, _ id: String, revision: String = "main") -> String? {
        locked { repos[Self.key(kind, id)].flatMap { resolveCommit($0, revision) } }
    }

    func isPrivate(_ kind: HubRepo.Kind, _ id: String) -> Bool? { locked { repos[Self.key(kind, id)]?.isPrivate } }

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

    // MARK: Answers

    private func json(_ status: Int, _ value: JSON, _ headers: [(String, String)] = []) -> TestHTTPServer.Response {
        TestHTTPServer.Response(status, headers: [("Content-Type", "application/json")] + headers, body: Array(value.serialized().utf8))
    }

    private func error(_ status: Int, code: String?, message: String, _ extra: [(String, String)] = [], body: JSON? = nil) -> TestHTTPServer.Response {
        var h = extra
        if let code { h.append(("X-Error-Code", code)) }
        h.append(("X-Error-Message", message))
        return json(status, body ?? ["error": .string(message)], h)
    }

    /// A route's refusal, thrown to the handler that answers it.
    private struct Refusal: Error { let response: TestHTTPServer.Response }

    private func refuse(_ status: Int, code: String? = nil, _ message: String, _ extra: [(String, String)] = [], body: JSON? = nil) -> Refusal {
        Refusal(response: error(status, code: code, message: message, extra, body: body))
    }

    // MARK: Auth

    /// The token's (user, role); nil without a token; a refusal for an unknown token.
    private func who(_ req: TestHTTPServer.Request) throws -> (user: String, role: String)? {
        guard let value = req.headers["authorization"] else { return nil }
        let token = value.hasPrefix("Bearer ") ? String(value.dropFirst(7)) : ""
        // The message huggingface_hub singles out as a bad token (not a missing repo).
        guard let who = tokens[token] else { throw refuse(401, "Invalid credentials in Authorization header") }
        return who
    }

    /// The repo, if this request may read it.
    private func readable(_ kind: String, _ id: String, _ req: TestHTTPServer.Request) throws -> Repo {
        let user = try who(req)
        guard let repo = locked({ repos["\(kind)/\(id)"] }), !repo.isPrivate || user?.user == repo.owner else {
            throw refuse(user == nil ? 401 : 404, code: "RepoNotFound", user == nil ? "Invalid username or password." : "Repository not found")
        }
        if repo.gated, user?.user != repo.owner { throw refuse(403, code: "GatedRepo", "Access to this model is restricted.") }
        return repo
    }

    private func requireWrite(_ repo: Repo, _ req: TestHTTPServer.Request, allowReadToken: Bool = false) throws {
        guard let user = try who(req) else { throw refuse(401, "Invalid username or password.") }
        if user.user != repo.owner || (user.role != "write" && !allowReadToken) {
            throw refuse(403, "You don't have the rights to write to \(repo.kind.rawValue)s/\(repo.id). Pass create_pr=1 to open a pull request instead.")
        }
    }

    private func resolveCommit(_ repo: Repo, _ rev: String) -> String? {
        if repo.commits[rev] != nil { return rev }
        return repo.refs[rev]
    }

    private func commitFiles(_ repo: Repo, _ rev: String) throws -> (String, [String: Entry]) {
        guard let c = resolveCommit(repo, rev), let files = repo.commits[c] else {
            throw refuse(404, code: "RevisionNotFound", "Invalid rev id: \(rev)")
        }
        return (c, files)
    }

    private func update(_ repo: Repo) { locked { repos[Self.key(repo.kind, repo.id)] = repo } }

    private func newCommitID(_ repo: Repo, _ files: [String: Entry]) -> String {
        var h = SHA1()
        let n = locked { counter += 1; return counter }
        h.update(Array("\(repo.kind)/\(repo.id)/\(n)".utf8))
        for p in files.keys.sorted() { h.update(Array("\(p):\(SHA256.hash(files[p]!.bytes))".utf8)) }
        return SHA256.hex(h.finalize())
    }

    private func body(_ req: TestHTTPServer.Request) throws -> JSON {
        do { return try JSON.parse(req.body.isEmpty ? Array("{}".utf8) : req.body) } catch {
            throw refuse(400, "Bad request: the body is not JSON: \(error)")
        }
    }

    private func query(_ req: TestHTTPServer.Request, _ name: String) -> String? {
        req.query.split(separator: "&").first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
    }

    // MARK: Routing

    func handleHub(_ req: TestHTTPServer.Request) -> TestHTTPServer.Response {
        if let s = takeFailure(req.path) { return error(s, code: nil, message: "injected failure") }
        do { return try routeHub(req) } catch let r as Refusal { return r.response } catch {
            return self.error(400, code: nil, message: "Bad request: \(error)")
        }
    }

    private func routeHub(_ req: TestHTTPServer.Request) throws -> TestHTTPServer.Response {
        let parts = req.path.split(separator: "/").map(String.init)
        if parts == ["api", "repos", "create"], req.method == "POST" { return try createRepo(req) }
        if parts == ["api", "validate-yaml"], req.method == "POST" { return try validateYAML(req) }
        if parts == ["api", "whoami-v2"] {
            guard let user = try who(req) else { throw refuse(401, "Invalid username or password.") }
            return json(200, .object(JSONObject([
                ("type", "user"), ("name", .string(user.user)),
                ("auth", .object(JSONObject([("type", "access_token"), ("accessToken", .object(JSONObject([("role", .string(user.role))])))]))),
            ])))
        }
        if parts == ["api", "complete_multipart"], req.method == "POST" { return try completeMultipart(req) }
        // /api/{models|datasets}/org/name[/op/rev]
        if parts.count >= 4, parts[0] == "api", parts[1] == "models" || parts[1] == "datasets" {
            var repo = try readable(parts[1], "\(parts[2])/\(parts[3])", req)
            let rest = Array(parts.dropFirst(4))
            let rev = rest.dropFirst().joined(separator: "/").removingPercentEncoding ?? ""
            switch (req.method, rest.first) {
            case ("GET", nil): return info(repo, try commitFiles(repo, "main"))
            case ("GET", "revision"): return info(repo, try commitFiles(repo, rev))
            case ("GET", "tree"): return try tree(repo, rev, req)
            case ("POST", "preupload"): return try preupload(repo, rev, req)
            case ("POST", "commit"): return try commit(&repo, rev, req)
            case ("POST", "branch"):
                try requireWrite(repo, req)
                if repo.refs[rev] != nil { throw refuse(409, "Reference already exists: refs/heads/\(rev)") }
                repo.refs[rev] = try commitFiles(repo, "main").0
                update(repo)
                return json(200, .object(JSONObject()))
            default: throw refuse(404, "no such route")
            }
        }
        // /api/resolve-cache/{models|datasets}/org/name/{commit}/{path}: small files' content.
        if parts.count >= 6, parts[0] == "api", parts[1] == "resolve-cache" {
            let repo = try readable(parts[2], "\(parts[3])/\(parts[4])", req)
            let rest = Array(parts.dropFirst(5))
            guard rest.count >= 2, let files = repo.commits[rest[0]],
                let path = rest.dropFirst().joined(separator: "/").removingPercentEncoding, let entry = files[path]
            else { throw refuse(404, code: "EntryNotFound", "not found") }
            return content(req, entry.bytes, path: path, headers: [
                ("ETag", "\"\(FakeHub.gitBlobID(entry.bytes))\""), ("X-Repo-Commit", rest[0]),
            ])
        }
        var p = parts[...]
        var kind = "models"
        if p.first == "datasets" { kind = "datasets"; p = p.dropFirst() }
        let s = Array(p)
        // /{datasets/}org/name.git/info/lfs/objects/{batch|verify}
        if s.count == 6, s[1].hasSuffix(".git"), Array(s[2...4]) == ["info", "lfs", "objects"], req.method == "POST" {
            let repo = try readable(kind, "\(s[0])/\(s[1].dropLast(4))", req)
            if s[5] == "batch" { return try lfsBatch(repo, req) }
            if s[5] == "verify" { return try lfsVerify(repo, req) }
        }
        // /{datasets/}org/name/resolve/{rev}/{path}
        guard s.count >= 5, s[2] == "resolve" else { throw refuse(404, "no such route") }
        let repo = try readable(kind, "\(s[0])/\(s[1])", req)
        guard let rev = s[3].removingPercentEncoding, let commit = resolveCommit(repo, rev), let files = repo.commits[commit] else {
            throw refuse(404, code: "RevisionNotFound", "Invalid rev id")
        }
        guard let path = s.dropFirst(4).joined(separator: "/").removingPercentEncoding, let entry = files[path] else {
            throw refuse(404, code: "EntryNotFound", "Entry not found", [("X-Repo-Commit", commit)])
        }
        if entry.lfs {
            let sha = SHA256.hash(entry.bytes)
            return TestHTTPServer.Response(302, headers: [
                ("Location", "\(cdn.baseURL)/cdn/\(sha)?X-Amz-Signature=secret&path=\(path)"),
                ("X-Repo-Commit", commit), ("X-Linked-Etag", "\"\(sha)\""), ("X-Linked-Size", "\(entry.bytes.count)"),
                ("ETag", "\"\(FakeHub.gitBlobID(FakeHub.lfsPointer(entry.bytes)))\""),
            ])
        }
        return TestHTTPServer.Response(307, headers: [
            ("Location", "/api/resolve-cache/\(kind)/\(repo.id)/\(commit)/\(path)"), ("X-Repo-Commit", commit),
        ])
    }

    func handleCDN(_ req: TestHTTPServer.Request) -> TestHTTPServer.Response {
        if let s = takeFailure(req.path) { return TestHTTPServer.Response(s, body: Array("injected".utf8)) }
        if req.headers["authorization"] != nil { return TestHTTPServer.Response(400, body: Array("token leaked to CDN".utf8)) }
        let parts = req.path.split(separator: "/").map(String.init)
        if req.method == "PUT", parts.count >= 2, parts[0] == "s3" || parts[0] == "s3-part" {
            return storagePut(req, parts)
        }
        guard parts.count == 2, parts[0] == "cdn",
            let bytes = locked({ repos.values.lazy.compactMap { $0.lfs[parts[1]] }.first })
        else { return TestHTTPServer.Response(404, body: Array("NoSuchKey".utf8)) }
        return content(req, bytes, path: query(req, "path") ?? "", headers: [("ETag", "\"\(SHA256.hash(bytes))\"")])
    }

    // MARK: Repos

    private func createRepo(_ req: TestHTTPServer.Request) throws -> TestHTTPServer.Response {
        guard let user = try who(req) else { throw refuse(401, "Invalid username or password.") }
        let b = try body(req)
        guard let name = b["name"]?.string, !name.isEmpty else { throw refuse(400, "\"name\" is required") }
        let kindName = b["type"]?.string ?? "model"
        guard let kind = HubRepo.Kind(rawValue: kindName) else { throw refuse(400, "Fake hub: unsupported repo type \(kindName)") }
        let namespace = b["organization"]?.string ?? user.user
        let id = "\(namespace)/\(name)"
        let url = "\(endpoint)/\(kind == .model ? "" : "datasets/")\(id)"
        if locked({ repos[Self.key(kind, id)] }) != nil {
            // huggingface_hub's create_repo(exist_ok=True) reads "url" from this 409 body.
            let message = "You already created this \(kind.rawValue) repo"
            throw refuse(409, message, body: .object(JSONObject([("error", .string(message)), ("url", .string(url))])))
        }
        if namespace != user.user || user.role != "write" {
            throw refuse(403, "You don't have the rights to create a \(kind.rawValue) under the namespace \"\(namespace)\"")
        }
        var repo = Repo(kind: kind, id: id)
        repo.isPrivate = b["visibility"]?.string == "private" || b["private"]?.bool == true
        let files = [".gitattributes": Entry(bytes: Array(Self.defaultGitattributes.utf8), lfs: false)]
        let commit = newCommitID(repo, files)
        repo.commits[commit] = files
        repo.refs["main"] = commit
        update(repo)
        return json(200, .object(JSONObject([("url", .string(url)), ("name", .string(id))])))
    }

    private func info(_ repo: Repo, _ at: (String, [String: Entry])) -> TestHTTPServer.Response {
        json(200, .object(JSONObject([
            ("id", .string(repo.id)), ("sha", .string(at.0)), ("private", .bool(repo.isPrivate)),
            ("siblings", .array(at.1.keys.sorted().map { .object(JSONObject([("rfilename", .string($0))])) })),
        ])))
    }

    private func tree(_ repo: Repo, _ rev: String, _ req: TestHTTPServer.Request) throws -> TestHTTPServer.Response {
        guard req.query.contains("recursive=true") else { throw refuse(400, "expected recursive=true") }
        let (_, files) = try commitFiles(repo, rev)
        let cursor = query(req, "cursor").flatMap { Int($0) } ?? 0
        var entries: [JSON] = []
        var dirs = Set<String>()
        for path in files.keys {
            var p = path
            while let slash = p.lastIndex(of: "/") {
                p = String(p[..<slash])
                dirs.insert(p)
            }
        }
        for d in dirs.sorted() {
            entries.append(.object(JSONObject([("type", "directory"), ("oid", "0"), ("size", 0), ("path", .string(d))])))
        }
        for (path, entry) in files.sorted(by: { $0.key < $1.key }) {
            var o = JSONObject()
            o["type"] = "file"
            // As the real hub: `size` is the content's, `oid` the git blob (of the pointer, for LFS).
            o["size"] = .number(Double(entry.bytes.count))
            if entry.lfs {
                let pointer = FakeHub.lfsPointer(entry.bytes)
                o["oid"] = .string(FakeHub.gitBlobID(pointer))
                o["lfs"] = .object(JSONObject([
                    ("oid", .string(SHA256.hash(entry.bytes))), ("size", .number(Double(entry.bytes.count))),
                    ("pointerSize", .number(Double(pointer.count))),
                ]))
            } else {
                o["oid"] = .string(FakeHub.gitBlobID(entry.bytes))
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

    // MARK: Metadata

    private func validateYAML(_ req: TestHTTPServer.Request) throws -> TestHTTPServer.Response {
        let content = try body(req)["content"]?.string ?? ""
        var errors: [String] = []
        if content.hasPrefix("---") {
            let lines = content.components(separatedBy: "\n")
            if let end = lines.indices.dropFirst().first(where: { lines[$0].trimmingCharacters(in: .whitespaces) == "---" }) {
                do {
                    let meta = try YAML.parse(lines[1..<end].joined(separator: "\n"), source: "README.md")
                    if let meta, meta.entries == nil {
                        errors.append("\"value\" must be of type object")
                    } else if let license = meta?.entries?.first(where: { $0.key.scalarText == "license" })?.value.scalarText,
                        !Self.knownLicenses.contains(license)
                    {
                        errors.append("\"license\" must be one of [\(Self.knownLicenses.joined(separator: ", "))]")
                    }
                } catch {
                    errors.append("Invalid YAML: \(error)")
                }
            } else {
                errors.append("metadata block is not closed with ---")
            }
        }
        if !errors.isEmpty {
            throw refuse(400, "Invalid metadata in README.md.", body: .object(JSONObject([
                ("errors", .array(errors.map { .object(JSONObject([("message", .string($0))])) })), ("warnings", .array([])),
            ])))
        }
        return json(200, .object(JSONObject([("errors", .array([])), ("warnings", .array([]))])))
    }

    // MARK: Preupload

    private static func lfsPatterns(_ files: [String: Entry]) -> [String] {
        let text = files[".gitattributes"].map { String(decoding: $0.bytes, as: UTF8.self) } ?? ""
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count >= 2, !line.hasPrefix("#"), parts.dropFirst().contains("filter=lfs") else { return nil }
            return String(parts[0])
        }
    }

    private static func matches(_ path: String, _ patterns: [String]) -> Bool {
        let base = String(path.split(separator: "/").last ?? "")
        return patterns.contains { p in
            let p = p.hasPrefix("/") ? String(p.dropFirst()) : p
            return fnmatchCase(p, p.contains("/") ? path : base)
        }
    }

    private func preupload(_ repo: Repo, _ rev: String, _ req: TestHTTPServer.Request) throws -> TestHTTPServer.Response {
        try requireWrite(repo, req, allowReadToken: query(req, "create_pr") == "1")
        let (commit, files) = try commitFiles(repo, rev)
        guard let list = try body(req)["files"]?.array else { throw refuse(400, "\"files\" must be an array") }
        let patterns = Self.lfsPatterns(files)
        var out: [JSON] = []
        for f in list {
            guard let path = f["path"]?.string, let size = f["size"]?.int else { throw refuse(400, "each file needs a path and a size") }
            let sample = Data(base64Encoded: f["sample"]?.string ?? "").map { [UInt8]($0) } ?? []
            let lfs = Self.matches(path, patterns) || size > regularMax || sample.contains(0)
            let oid: JSON = files[path].map { .string($0.lfs ? SHA256.hash($0.bytes) : FakeHub.gitBlobID($0.bytes)) } ?? .null
            out.append(.object(JSONObject([
                ("path", .string(path)), ("uploadMode", .string(lfs ? "lfs" : "regular")), ("shouldIgnore", false), ("oid", oid),
            ])))
        }
        return json(200, .object(JSONObject([("files", .array(out)), ("commitOid", .string(commit))])))
    }

    // MARK: LFS

    private func lfsBatch(_ repo: Repo, _ req: TestHTTPServer.Request) throws -> TestHTTPServer.Response {
        let b = try body(req)
        let ref = b["ref"]?["name"]?.string
        // With create_pr the client sends no ref, and a read token may upload (for a PR).
        try requireWrite(repo, req, allowReadToken: ref == nil)
        guard b["operation"]?.string == "upload" else { throw refuse(422, "Fake hub: only the upload operation is implemented") }
        if let ref { _ = try commitFiles(repo, ref) }
        let transfers = b["transfers"]?.array?.compactMap(\.string) ?? ["basic"]
        var objects: [JSON] = []
        var used = "basic"
        for o in b["objects"]?.array ?? [] {
            guard let oid = o["oid"]?.string, oid.count == 64, let size = o["size"]?.int, size >= 0 else {
                objects.append(.object(JSONObject([("oid", o["oid"] ?? .null), ("size", o["size"] ?? 0),
                                                   ("error", .object(JSONObject([("code", 422), ("message", "Invalid oid or size")])))])))
                continue
            }
            if repo.lfs[oid] != nil {
                objects.append(.object(JSONObject([("oid", .string(oid)), ("size", .number(Double(size)))])))
                continue
            }
            let uploadID = UUID().uuidString.lowercased()
            let sig = String(SHA256.hash(Array(uploadID.utf8)).prefix(16))
            let verify = JSON.object(JSONObject([("href", .string("\(endpoint)/\(repo.webPrefix)\(repo.id).git/info/lfs/objects/verify")),
                                                 ("header", .object(JSONObject()))]))
            var upload = Upload(repoKey: Self.key(repo.kind, repo.id), oid: oid, size: size, sig: sig)
            let action: JSON
            if transfers.contains("multipart"), size >= multipartThreshold {
                used = "multipart"
                let count = (size + chunkSize - 1) / chunkSize
                upload.partCount = count
                var header = JSONObject([("chunk_size", .string(String(chunkSize)))])
                for n in 1...count {
                    let key = String(repeating: "0", count: max(0, partKeyWidth - String(n).count)) + String(n)
                    header[key] = .string("\(cdn.baseURL)/s3-part/\(uploadID)/\(n)?sig=\(sig)")
                }
                action = .object(JSONObject([("href", .string("\(endpoint)/api/complete_multipart?uploadId=\(uploadID)&sig=\(sig)")),
                                             ("header", .object(header)), ("expires_in", 86400)]))
            } else {
                action = .object(JSONObject([("href", .string("\(cdn.baseURL)/s3/\(uploadID)?sig=\(sig)")), ("expires_in", 86400)]))
            }
            locked { uploads[uploadID] = upload }
            objects.append(.object(JSONObject([("oid", .string(oid)), ("size", .number(Double(size))), ("authenticated", true),
                                               ("actions", .object(JSONObject([("upload", action), ("verify", verify)])))])))
        }
        return TestHTTPServer.Response(200, headers: [("Content-Type", "application/vnd.git-lfs+json")],
                                       body: Array(JSON.object(JSONObject([("transfer", .string(used)), ("objects", .array(objects))])).serialized().utf8))
    }

    private func lfsVerify(_ repo: Repo, _ req: TestHTTPServer.Request) throws -> TestHTTPServer.Response {
        guard try who(req) != nil else { throw refuse(401, "Invalid username or password.") }
        let b = try body(req)
        guard let oid = b["oid"]?.string, let data = locked({ repos[Self.key(repo.kind, repo.id)]?.lfs[oid] }), data.count == b["size"]?.int else {
            throw refuse(404, "Object not found or size mismatch")
        }
        return json(200, .object(JSONObject([("oid", .string(oid)), ("size", .number(Double(data.count)))])))
    }

    private func storagePut(_ req: TestHTTPServer.Request, _ parts: [String]) -> TestHTTPServer.Response {
        let storageError = { (status: Int, text: String) in TestHTTPServer.Response(status, body: Array(text.utf8)) }
        return locked {
            guard var up = uploads[parts[1]], query(req, "sig") == up.sig else { return storageError(403, "SignatureDoesNotMatch") }
            if parts[0] == "s3" {
                guard up.partCount == nil else { return storageError(403, "SignatureDoesNotMatch") }
                guard req.body.count == up.size, SHA256.hash(req.body) == up.oid else {
                    return storageError(400, "BadDigest: content does not match the announced oid/size")
                }
                repos[up.repoKey]?.lfs[up.oid] = req.body
                uploads[parts[1]] = nil
                return TestHTTPServer.Response(200, headers: [("ETag", "\"\(SHA256.hash(req.body).prefix(32))\"")])
            }
            guard let count = up.partCount, parts.count == 3, let n = Int(parts[2]), n >= 1, n <= count else {
                return storageError(403, "SignatureDoesNotMatch")
            }
            let expected = min(chunkSize, up.size - (n - 1) * chunkSize)
            guard req.body.count == expected else { return storageError(400, "part \(n): \(req.body.count) bytes, expected \(expected)") }
            let etag = "\"\(SHA256.hash(req.body).prefix(32))\""
            up.parts[n] = (req.body, etag)
            uploads[parts[1]] = up
            return TestHTTPServer.Response(200, headers: [("ETag", etag)])
        }
    }

    private func completeMultipart(_ req: TestHTTPServer.Request) throws -> TestHTTPServer.Response {
        guard let id = query(req, "uploadId"), let up = locked({ uploads[id] }), let count = up.partCount, query(req, "sig") == up.sig else {
            throw refuse(403, "Invalid or expired multipart upload signature")
        }
        let b = try body(req)
        guard b["oid"]?.string == up.oid else { throw refuse(400, "oid does not match the upload") }
        let listed = b["parts"]?.array ?? []
        guard listed.compactMap({ $0["partNumber"]?.int }) == Array(1...count) else { throw refuse(400, "expected parts 1..\(count) in order") }
        var data: [UInt8] = []
        for p in listed {
            let n = p["partNumber"]!.int!
            guard let got = up.parts[n], got.etag == p["etag"]?.string else { throw refuse(400, "part \(n): missing or ETag mismatch") }
            data += got.bytes
        }
        guard data.count == up.size, SHA256.hash(data) == up.oid else { throw refuse(400, "assembled object does not match its oid/size") }
        locked {
            repos[up.repoKey]?.lfs[up.oid] = data
            uploads[id] = nil
        }
        return json(200, .object(JSONObject([("oid", .string(up.oid)), ("size", .number(Double(up.size)))])))
    }

    // MARK: Commit

    private func commit(_ repo: inout Repo, _ rev: String, _ req: TestHTTPServer.Request) throws -> TestHTTPServer.Response {
        let createPR = query(req, "create_pr") == "1"
        try requireWrite(repo, req, allowReadToken: createPR)
        var lines: [JSON] = []
        for line in req.body.split(separator: 0x0A) where !line.isEmpty {
            do { lines.append(try JSON.parse(Array(line))) } catch { throw refuse(400, "Bad request: a line is not JSON: \(error)") }
        }
        guard let header = lines.first, header["key"]?.string == "header", let summary = header["value"]?["summary"]?.string, !summary.isEmpty else {
            throw refuse(400, "The first line must be the commit header, with a summary")
        }
        guard repo.refs[rev] != nil else { throw refuse(404, code: "RevisionNotFound", "Invalid rev id: \(rev)") }
        let (head, parentFiles) = try commitFiles(repo, rev)
        var files = parentFiles
        var lfsAdded: [String] = []
        for op in lines.dropFirst() {
            let v = op["value"] ?? .null
            let path = v["path"]?.string ?? ""
            switch op["key"]?.string {
            case "file":
                let text = v["content"]?.string ?? ""
                guard let data = v["encoding"]?.string == "base64" ? Data(base64Encoded: text).map({ [UInt8]($0) }) : Array(text.utf8) else {
                    throw refuse(400, "invalid base64 for \(path)")
                }
                files[path] = Entry(bytes: data, lfs: false)
            case "lfsFile":
                guard v["algo"]?.string ?? "sha256" == "sha256", let oid = v["oid"]?.string, let data = repo.lfs[oid] else {
                    throw refuse(422, "LFS object \(v["oid"]?.string ?? "?") for \(path) has not been uploaded")
                }
                if let size = v["size"]?.int, size != data.count { throw refuse(422, "size mismatch for \(path)") }
                files[path] = Entry(bytes: data, lfs: true)
                lfsAdded.append(path)
            case "deletedFile":
                guard files.removeValue(forKey: path) != nil else {
                    throw refuse(404, code: "EntryNotFound", "A file with this name doesn't exist: \(path)")
                }
            default:
                throw refuse(400, "Unknown operation key: \(op["key"]?.serialized() ?? "none")")
            }
        }
        // As the hub does: new LFS paths that .gitattributes does not cover get a line of their own.
        let patterns = Self.lfsPatterns(files)
        let extra = lfsAdded.filter { !Self.matches($0, patterns) }
        if !extra.isEmpty {
            var text = files[".gitattributes"].map { String(decoding: $0.bytes, as: UTF8.self) } ?? ""
            if !text.isEmpty, !text.hasSuffix("\n") { text += "\n" }
            text += extra.map { "\($0.replacingOccurrences(of: " ", with: "[[:space:]]")) filter=lfs diff=lfs merge=lfs -text\n" }.joined()
            files[".gitattributes"] = Entry(bytes: Array(text.utf8), lfs: false)
        }
        _ = head
        let commit = newCommitID(repo, files)
        repo.commits[commit] = files
        let base = "\(endpoint)/\(repo.webPrefix)\(repo.id)"
        var prURL: JSON = .null
        if createPR {
            repo.refs["refs/pr/\(repo.nextPR)"] = commit
            prURL = .string("\(base)/discussions/\(repo.nextPR)")
            repo.nextPR += 1
        } else {
            repo.refs[rev] = commit
        }
        update(repo)
        return json(200, .object(JSONObject([
            ("success", true), ("commitOid", .string(commit)), ("commitUrl", .string("\(base)/commit/\(commit)")),
            ("commitMessage", .string(summary)), ("pullRequestUrl", prURL),
        ])))
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
