import IO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file of a repository at a commit, as the hub's tree listing gives it.
package struct HubFile: Sendable, Equatable {
    package let path: String
    /// The size in git: for an LFS file, the size of its pointer.
    package let size: Int
    /// The git blob id.
    package let blobID: String
    /// For LFS files: the content's sha256 and size.
    package let lfsSHA256: String?
    package let lfsSize: Int?

    package init(path: String, size: Int, blobID: String, lfsSHA256: String? = nil, lfsSize: Int? = nil) {
        self.path = path
        self.size = size
        self.blobID = blobID
        self.lfsSHA256 = lfsSHA256
        self.lfsSize = lfsSize
    }

    /// The ETag a download of this file carries, and so its blob's name in the cache.
    package var etag: String { lfsSHA256 ?? blobID }
    /// The size of the content a download delivers.
    package var contentSize: Int { lfsSize ?? size }
}

/// What `/api/{models|datasets}/{id}/revision/{rev}` says: the commit and the file names.
package struct HubRepoInfo: Sendable, Equatable {
    package let sha: String
    package let siblings: [String]
}

/// What a HEAD on `/{id}/resolve/{rev}/{path}` says about a file (huggingface_hub's HfFileMetadata).
package struct HubFileMetadata: Sendable, Equatable {
    package let commit: String
    package let etag: String
    /// Where to GET the bytes: the CDN URL of a redirect, else the resolve URL.
    package let location: String
    package let size: Int?
}

/// A repository revision resolved to a commit and its files — from the hub, or from the cache
/// when offline (then only the files the cache holds are known, and `fromCache` is true).
package struct HubSnapshot: Sendable {
    package let repo: HubRepo
    package let revision: String
    package let commit: String
    package let files: [HubFile]
    package let fromCache: Bool

    package var paths: [String] { files.map(\.path) }
    package func file(_ path: String) -> HubFile? { files.first { $0.path == path } }
}

/// How often and how patiently to retry what may be transient (a dropped connection, 408, 429,
/// 5xx): huggingface_hub's defaults, 5 attempts with waits doubling from 1 s up to 8 s.
package struct RetryPolicy: Sendable {
    package var maxAttempts: Int
    package var baseDelay: Double
    package var maxDelay: Double

    package init(maxAttempts: Int = 5, baseDelay: Double = 1, maxDelay: Double = 8) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    func delay(afterAttempt n: Int) -> Double {
        var d = baseDelay
        for _ in 1..<max(1, n) { d *= 2 }
        return min(d, maxDelay)
    }

    static let retryableStatuses: Set<Int> = [408, 429, 500, 502, 503, 504]
}

/// A request that got an HTTP answer the caller did not want, or no answer at all.
enum HubRequestFailure: Error {
    case status(HTTPResponse)
    case transport(HTTPTransportError)

    /// Failures after which huggingface_hub falls back to the cache: the hub unreachable or down,
    /// or refusing the credentials (the files may still be cached from an earlier, allowed run).
    var allowsCacheFallback: Bool {
        switch self {
        case .transport: return true
        case .status(let r):
            if r.headers["X-Error-Code"] == "RevisionNotFound" || r.headers["X-Error-Code"] == "EntryNotFound" { return false }
            return r.status == 401 || r.status >= 500 || r.status == 429 || r.status == 408
        }
    }
}

/// A client for the Hugging Face hub's HTTP API and file downloads, compatible with
/// huggingface_hub: the same URLs, headers and cache layout (see `HubCache`), the same
/// environment variables (see `HubSettings`), the same fallback to the cache when the hub cannot
/// be reached. Downloads resume after a dropped connection (HTTP Range), retry transient failures
/// with backoff, check the size and the content hash against the ETag, and land atomically.
package final class HubClient {
    package let settings: HubSettings
    package let cache: HubCache
    package var retry = RetryPolicy()
    /// No progress bars (logs still go to stderr).
    package var quiet = false
    let http: HTTPClient

    package var endpoint: String { settings.endpoint }
    package var offline: Bool { settings.offline }

    /// Arguments left nil come from the environment, as huggingface_hub reads it.
    package convenience init(endpoint: String? = nil, token: String? = nil, offline: Bool? = nil, cacheDir: String? = nil) throws {
        var s = HubSettings.fromEnvironment()
        if let endpoint { s.endpoint = HubSettings.trimSlashes(endpoint) }
        if let token { s.token = token.isEmpty ? nil : token }
        if let offline { s.offline = offline }
        if let cacheDir { s.cacheDir = cacheDir }
        try self.init(settings: s)
    }

    package init(settings: HubSettings) throws {
        self.settings = settings
        self.cache = HubCache(root: settings.cacheDir)
        self.http = try HTTPClient()
    }

    // MARK: URLs

    package func apiURL(_ repo: HubRepo, _ rest: String) -> String {
        "\(endpoint)/api/\(repo.plural)/\(repo.id)/\(rest)"
    }

    /// `{endpoint}/{datasets/}{id}/resolve/{revision}/{path}`, quoted as hf_hub_url quotes them.
    package func resolveURL(_ repo: HubRepo, revision: String, path: String) -> String {
        "\(endpoint)/\(repo.urlPrefix)\(repo.id)/resolve/\(percentEncode(revision, keepSlash: false))/\(percentEncode(path, keepSlash: true))"
    }

    func headers(for url: String, auth: Bool = true) -> [(String, String)] {
        var h: [(String, String)] = [("Accept-Encoding", "identity")]
        if auth, let token = settings.token { h.append(("Authorization", "Bearer \(token)")) }
        return h
    }

    // MARK: Requests with retries

    func sleep(seconds: Double) {
        guard seconds > 0 else { return }
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var left = timespec()
        while nanosleep(&ts, &left) != 0 && errno == EINTR { ts = left }
    }

    /// A GET or HEAD with retries on transient failures, following redirects that stay on the same
    /// host (as huggingface_hub does for API calls and HEAD requests; a redirect elsewhere is
    /// returned to the caller). Throws `HubRequestFailure` for anything but 2xx and off-host 3xx.
    func send(_ method: String, _ url: String) throws(HubRequestFailure) -> HTTPResponse {
        var current = url
        var redirects = 0
        var attempt = 0
        while true {
            attempt += 1
            let response: HTTPResponse
            do {
                response = try http.request(method, current, headers: headers(for: current))
            } catch let e as HTTPTransportError {
                if attempt < retry.maxAttempts {
                    log("hub: \(e.message) (\(current)); retrying (\(attempt)/\(retry.maxAttempts - 1))")
                    sleep(seconds: retry.delay(afterAttempt: attempt))
                    continue
                }
                throw .transport(e)
            } catch {
                throw .transport(HTTPTransportError(url: current, code: -1, message: "\(error)", receivedBodyBytes: 0))
            }
            if response.isRedirect, let location = response.headers["Location"] {
                let target = URLParts.resolve(location, against: current)
                guard URLParts.sameOrigin(current, target) else { return response }
                redirects += 1
                if redirects > 10 { throw .status(response) }
                current = target
                continue
            }
            if RetryPolicy.retryableStatuses.contains(response.status), attempt < retry.maxAttempts {
                log("hub: HTTP \(response.status) from \(current); retrying (\(attempt)/\(retry.maxAttempts - 1))")
                sleep(seconds: retry.delay(afterAttempt: attempt))
                continue
            }
            guard (200..<300).contains(response.status) else { throw .status(response) }
            return response
        }
    }

    func getJSON(_ url: String) throws(HubRequestFailure) -> (JSON, HTTPResponse) {
        let r = try send("GET", url)
        do {
            return (try JSON.parse(r.body), r)
        } catch {
            throw .transport(HTTPTransportError(
                url: url, code: -2, message: "the answer is not JSON (\(error.description))", receivedBodyBytes: 0))
        }
    }

    // MARK: API

    /// `GET /api/{models|datasets}/{id}/revision/{revision}`: the commit a revision points to.
    package func repoInfo(_ repo: HubRepo, revision: String) throws -> HubRepoInfo {
        do {
            return try fetchRepoInfo(repo, revision: revision)
        } catch { throw describe(error, repo: repo, revision: revision) }
    }

    func fetchRepoInfo(_ repo: HubRepo, revision: String) throws(HubRequestFailure) -> HubRepoInfo {
        let url = apiURL(repo, "revision/\(percentEncode(revision, keepSlash: false))")
        let (json, _) = try getJSON(url)
        guard let sha = json["sha"]?.string, HubRepo.isCommitHash(sha) else {
            throw .transport(HTTPTransportError(url: url, code: -2, message: "the answer has no commit 'sha'", receivedBodyBytes: 0))
        }
        let siblings = (json["siblings"]?.array ?? []).compactMap { $0["rfilename"]?.string }
        return HubRepoInfo(sha: sha, siblings: siblings)
    }

    /// `GET /api/{models|datasets}/{id}/tree/{revision}?recursive=true`, following the `Link`
    /// pages: every file with its size, blob id and LFS sha256.
    package func listFiles(_ repo: HubRepo, revision: String) throws -> [HubFile] {
        do {
            return try fetchFileList(repo, revision: revision)
        } catch { throw describe(error, repo: repo, revision: revision) }
    }

    func fetchFileList(_ repo: HubRepo, revision: String) throws(HubRequestFailure) -> [HubFile] {
        var url: String? = apiURL(repo, "tree/\(percentEncode(revision, keepSlash: false))?recursive=true&expand=false")
        var files: [HubFile] = []
        var pages = 0
        while let u = url {
            let (json, response) = try getJSON(u)
            guard let entries = json.array else {
                throw .transport(HTTPTransportError(url: u, code: -2, message: "the tree listing is not a JSON array", receivedBodyBytes: 0))
            }
            for e in entries where e["type"]?.string == "file" {
                guard let path = e["path"]?.string else { continue }
                let lfs = e["lfs"]?.object
                files.append(HubFile(
                    path: path, size: e["size"]?.int ?? 0, blobID: e["oid"]?.string ?? "",
                    lfsSHA256: lfs?["oid"]?.string, lfsSize: lfs?["size"]?.int))
            }
            url = HubClient.nextPageURL(response.headers.values("Link")).map { URLParts.resolve($0, against: u) }
            pages += 1
            if pages > 100_000 { break }
        }
        return files.sorted { $0.path < $1.path }
    }

    /// The `rel="next"` target of a GitHub-style `Link` header.
    static func nextPageURL(_ links: [String]) -> String? {
        for header in links {
            for part in header.split(separator: ",") {
                let pieces = part.split(separator: ";").map { httpTrim($0) }
                guard let first = pieces.first, first.hasPrefix("<"), first.hasSuffix(">") else { continue }
                if pieces.dropFirst().contains(where: { $0.replacingSpaces() == "rel=\"next\"" || $0.replacingSpaces() == "rel=next" }) {
                    return String(first.dropFirst().dropLast())
                }
            }
        }
        return nil
    }

    /// HEAD on the resolve URL, as huggingface_hub's `get_hf_file_metadata`: the commit from
    /// `X-Repo-Commit`, the ETag from `X-Linked-Etag` (LFS) or `ETag`, the size from
    /// `X-Linked-Size` or `Content-Length`, and the download location from `Location`.
    package func fileMetadata(_ repo: HubRepo, path: String, revision: String) throws -> HubFileMetadata {
        do {
            return try fetchFileMetadata(repo, path: path, revision: revision)
        } catch { throw describe(error, repo: repo, revision: revision, file: path) }
    }

    func fetchFileMetadata(_ repo: HubRepo, path: String, revision: String) throws(HubRequestFailure) -> HubFileMetadata {
        let url = resolveURL(repo, revision: revision, path: path)
        let r = try send("HEAD", url)
        guard let commit = r.headers["X-Repo-Commit"] else {
            throw .transport(HTTPTransportError(
                url: url, code: -3,
                message: "the answer lacks the X-Repo-Commit header, so this does not look like a Hugging Face hub (check HF_ENDPOINT, proxy and firewall)",
                receivedBodyBytes: 0))
        }
        guard let rawEtag = r.headers["X-Linked-Etag"] ?? r.headers["ETag"] else {
            throw .transport(HTTPTransportError(url: url, code: -3, message: "the answer has no ETag", receivedBodyBytes: 0))
        }
        let size = (r.headers["X-Linked-Size"] ?? (r.isRedirect ? nil : r.headers["Content-Length"])).flatMap { Int($0) }
        let location = r.headers["Location"].map { URLParts.resolve($0, against: r.url) } ?? r.url
        return HubFileMetadata(commit: commit, etag: HubClient.normalizeEtag(rawEtag), location: location, size: size)
    }

    /// `W/"abc"` and `"abc"` → `abc` (huggingface_hub's `_normalize_etag`).
    static func normalizeEtag(_ etag: String) -> String {
        var s = Substring(etag)
        if s.hasPrefix("W/") { s = s.dropFirst(2) }
        while s.hasPrefix("\"") { s = s.dropFirst() }
        while s.hasSuffix("\"") { s = s.dropLast() }
        return String(s)
    }

    // MARK: Snapshots

    /// Resolves a revision to a commit and lists its files: from the hub when online (and records
    /// `refs/<revision>` in the cache), else — offline, or the hub unreachable, or the credentials
    /// refused — from the cache, as huggingface_hub's snapshot_download falls back.
    package func snapshot(_ repo: HubRepo, revision: String) throws -> HubSnapshot {
        if offline {
            return try cachedSnapshot(repo, revision: revision, reason: "offline mode (HF_HUB_OFFLINE) is on")
        }
        do {
            let commit = HubRepo.isCommitHash(revision) ? revision : try fetchRepoInfo(repo, revision: revision).sha
            let files = try fetchFileList(repo, revision: commit)
            // As snapshot_download does: remember which commit the branch or tag named.
            if !HubRepo.isCommitHash(revision) { try? cache.writeRef(repo, revision: revision, commit: commit) }
            return HubSnapshot(repo: repo, revision: revision, commit: commit, files: files, fromCache: false)
        } catch {
            let described = describe(error, repo: repo, revision: revision)
            guard error.allowsCacheFallback, let commit = cache.commit(for: repo, revision: revision),
                FileSystem.isDirectory(cache.snapshotFolder(repo, commit: commit))
            else { throw described }
            log("warning: \(described.message); using the cached snapshot \(commit) instead")
            return try cachedSnapshot(repo, revision: revision, reason: "the hub cannot be reached")
        }
    }

    func cachedSnapshot(_ repo: HubRepo, revision: String, reason: String) throws -> HubSnapshot {
        guard let commit = cache.commit(for: repo, revision: revision),
            FileSystem.isDirectory(cache.snapshotFolder(repo, commit: commit))
        else {
            throw EmbedError("\(repo)@\(revision): \(reason) and the cache \(cache.root) holds no snapshot of this revision")
        }
        let files = cache.snapshotFiles(repo, commit: commit).map { path in
            HubFile(path: path, size: FileSystem.fileSize(cache.pointerPath(repo, commit: commit, file: path)) ?? 0, blobID: "")
        }
        return HubSnapshot(repo: repo, revision: revision, commit: commit, files: files, fromCache: true)
    }

    // MARK: Downloads

    /// huggingface_hub's `hf_hub_download` into the cache: returns the snapshot path of `path` at
    /// `revision`, downloading its blob only when the cache lacks it (or `force`). `expected`, the
    /// file's tree entry when known, is checked against what the hub's headers say.
    @discardableResult
    package func download(_ repo: HubRepo, path: String, revision: String, expected: HubFile? = nil, force: Bool = false) throws -> String {
        if HubRepo.isCommitHash(revision), !force, let cached = cache.cachedFile(repo, commit: revision, file: path) {
            return cached
        }
        if offline {
            if let commit = cache.commit(for: repo, revision: revision), let cached = cache.cachedFile(repo, commit: commit, file: path) {
                return cached
            }
            throw EmbedError("\(repo)@\(revision): offline mode (HF_HUB_OFFLINE) is on and '\(path)' is not in the cache \(cache.root)")
        }
        let meta: HubFileMetadata
        do {
            meta = try fetchFileMetadata(repo, path: path, revision: revision)
        } catch {
            let described = describe(error, repo: repo, revision: revision, file: path)
            if error.allowsCacheFallback, !force, let commit = cache.commit(for: repo, revision: revision),
                let cached = cache.cachedFile(repo, commit: commit, file: path)
            {
                log("warning: \(described.message); using the cached \(path)")
                return cached
            }
            throw described
        }
        if let expected {
            if expected.etag != meta.etag {
                throw EmbedError("\(repo)@\(revision): '\(path)' has ETag \(meta.etag) but the tree listing said \(expected.etag)")
            }
            if let size = meta.size, size != expected.contentSize {
                throw EmbedError("\(repo)@\(revision): '\(path)' has size \(size) but the tree listing said \(expected.contentSize)")
            }
        }
        let blob = cache.blobPath(repo, etag: meta.etag)
        let pointer = cache.pointerPath(repo, commit: meta.commit, file: path)
        if !force, FileSystem.isFile(pointer) {
            try? cache.writeRef(repo, revision: revision, commit: meta.commit)
            return pointer
        }
        try FileSystem.createDirectory(FileSystem.dirname(blob))
        try FileSystem.createDirectory(FileSystem.dirname(pointer))
        cache.tagCacheDirectory()
        try cache.writeRef(repo, revision: revision, commit: meta.commit)
        let lock = try FileSystem.FileLock(path: cache.lockPath(repo, etag: meta.etag))
        defer { withExtendedLifetime(lock) {} }
        if force || !FileSystem.isFile(blob) {
            let sameHost = URLParts.sameOrigin(resolveURL(repo, revision: revision, path: path), meta.location)
            try downloadBlob(
                from: meta.location, sendToken: sameHost, to: blob, etag: meta.etag,
                size: meta.size ?? expected?.contentSize, label: path, force: force)
        }
        try FileSystem.symlinkRelative(target: blob, link: pointer)
        return pointer
    }

    /// Downloads a blob into `<blob>.incomplete` (resuming what an earlier attempt or run left
    /// there), checks its size and hash, and renames it into place. A hash mismatch removes the
    /// bytes and tries once more from scratch before giving up.
    func downloadBlob(from url: String, sendToken: Bool, to blob: String, etag: String, size: Int?, label: String, force: Bool) throws {
        let incomplete = blob + ".incomplete"
        if force { FileSystem.remove(incomplete) }
        var fullRetries = 1
        while true {
            try fetch(url, sendToken: sendToken, into: incomplete, size: size, label: label)
            let got = FileSystem.fileSize(incomplete) ?? 0
            if let size, got != size {
                FileSystem.remove(incomplete)
                throw EmbedError("\(label): downloaded \(got) bytes but the hub announced \(size); the partial file was removed")
            }
            if let problem = try HubClient.verify(file: incomplete, etag: etag) {
                FileSystem.remove(incomplete)
                if fullRetries > 0 {
                    fullRetries -= 1
                    log("\(label): \(problem); downloading it again")
                    continue
                }
                throw EmbedError("\(label): \(problem); the download was rejected and removed (from \(URLParts.redacted(url)))")
            }
            chmod(incomplete, 0o644)
            try FileSystem.rename(incomplete, blob)
            return
        }
    }

    /// Checks a file against its ETag: a 64-hex ETag is the LFS sha256 of the content, a 40-hex one
    /// the git blob id. Returns what is wrong, or nil. Other ETags cannot be checked.
    package static func verify(file: String, etag: String) throws -> String? {
        let isHex = etag.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
        guard isHex, etag.utf8.count == 64 || etag.utf8.count == 40 else { return nil }
        let reader = try ByteReader(path: file, detectCompression: false)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        if etag.utf8.count == 64 {
            var h = SHA256()
            while true {
                let n = try reader.read(into: buf)
                if n == 0 { break }
                h.update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            }
            let got = h.hexDigest()
            return got == etag ? nil : "sha256 mismatch: the bytes hash to \(got), the hub says \(etag)"
        }
        var h = SHA1.gitBlob(size: FileSystem.fileSize(file) ?? 0)
        while true {
            let n = try reader.read(into: buf)
            if n == 0 { break }
            h.update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
        }
        let got = h.hexDigest()
        return got == etag ? nil : "git blob id mismatch: the bytes hash to \(got), the hub says \(etag)"
    }

    /// GETs `url` into `path`, appending from the file's current size with a Range request,
    /// following redirects (the token goes only to the hub's own host), retrying dropped
    /// connections and transient statuses; any received bytes renew the retry budget, as
    /// huggingface_hub's http_get does.
    func fetch(_ url: String, sendToken: Bool, into path: String, size: Int?, label: String) throws {
        var current = url
        var withToken = sendToken
        var attemptsLeft = retry.maxAttempts
        var redirects = 0
        let progress: ProgressBar? = quiet ? nil : ProgressBar(label, total: size, unit: "B")
        progress?.countsBytes = true
        defer { progress?.finish() }
        while true {
            var have = FileSystem.fileSize(path) ?? 0
            if let size, have > size {
                truncate(path, 0)
                have = 0
            }
            if let size, have == size, size > 0 { return }
            progress?.set(have)
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            if fd < 0 { throw EmbedError("\(path): cannot open for writing: \(FileSystem.errnoText())") }
            var hdrs = headers(for: current, auth: withToken)
            if have > 0 { hdrs.append(("Range", "bytes=\(have)-")) }
            let startAt = have
            let response: HTTPResponse
            do {
                response = try http.request("GET", current, headers: hdrs, onHead: { status, h in
                    if status == 200, startAt > 0 {
                        // The server ignored the Range: start over rather than append a second copy.
                        if ftruncate(fd, 0) != 0 { throw EmbedError("\(path): cannot truncate: \(FileSystem.errnoText())") }
                        progress?.set(0)
                    } else if status == 206 {
                        let start = h["Content-Range"].flatMap(HubClient.contentRangeStart)
                        if start != startAt {
                            throw EmbedError("\(label): the server resumed at byte \(start.map(String.init) ?? "?") instead of \(startAt)")
                        }
                    }
                }, sink: { bytes in
                    var off = 0
                    while off < bytes.count {
                        let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw EmbedError("\(path): write error: \(FileSystem.errnoText())")
                        }
                        off += n
                    }
                    progress?.advance(by: bytes.count)
                })
            } catch let e as HTTPTransportError {
                close(fd)
                if e.receivedBodyBytes > 0 { attemptsLeft = retry.maxAttempts }
                attemptsLeft -= 1
                guard attemptsLeft > 0 else {
                    throw EmbedError("\(label): download failed after \(retry.maxAttempts) attempts: \(e.message) (\(URLParts.redacted(current)))")
                }
                let now = FileSystem.fileSize(path) ?? 0
                log("\(label): \(e.message); resuming at byte \(now)")
                sleep(seconds: retry.delay(afterAttempt: retry.maxAttempts - attemptsLeft))
                continue
            } catch {
                close(fd)
                throw error
            }
            close(fd)
            switch response.status {
            case 200, 206:
                return
            case 416:
                // Nothing left to send from our offset: either complete already, or our partial
                // file is not a prefix of this blob. Start over once the size says so.
                if let size, have == size { return }
                truncate(path, 0)
                attemptsLeft -= 1
                if attemptsLeft <= 0 { throw describe(.status(response), repo: nil, revision: nil, file: label) }
            case 300..<400 where response.headers["Location"] != nil:
                let target = URLParts.resolve(response.headers["Location"]!, against: current)
                if !URLParts.sameOrigin(current, target) { withToken = false }
                current = target
                redirects += 1
                if redirects > 10 { throw EmbedError("\(label): more than 10 redirects from \(URLParts.redacted(url))") }
            default:
                attemptsLeft -= 1
                if RetryPolicy.retryableStatuses.contains(response.status), attemptsLeft > 0 {
                    log("\(label): HTTP \(response.status); retrying")
                    sleep(seconds: retry.delay(afterAttempt: retry.maxAttempts - attemptsLeft))
                    continue
                }
                throw describe(.status(response), repo: nil, revision: nil, file: label)
            }
        }
    }

    /// The first byte position of `Content-Range: bytes 100-199/200`.
    static func contentRangeStart(_ value: String) -> Int? {
        guard let r = value.split(separator: " ").last, let dash = r.firstIndex(of: "-") else { return nil }
        return Int(r[..<dash])
    }

    // MARK: Errors

    /// A user-facing message for a failed request: what was asked, what the hub said, what to do.
    func describe(_ failure: HubRequestFailure, repo: HubRepo?, revision: String?, file: String? = nil) -> EmbedError {
        let subject = [repo.map { "\($0)" }, revision.map { "@\($0)" }].compactMap { $0 }.joined()
        let prefix = subject.isEmpty ? (file ?? "hub") : subject
        switch failure {
        case .transport(let e):
            return EmbedError("\(prefix): cannot reach the hub: \(e.message) (\(URLParts.redacted(e.url)))")
        case .status(let r):
            let code = r.headers["X-Error-Code"]
            var detail = r.headers["X-Error-Message"] ?? ""
            if detail.isEmpty, let json = try? JSON.parse(r.body), let msg = json["error"]?.string { detail = msg }
            let from = "HTTP \(r.status) from \(URLParts.redacted(r.url))" + (detail.isEmpty ? "" : ": \(detail)")
            if code == "RevisionNotFound" {
                return EmbedError("\(repo.map { "\($0)" } ?? prefix): revision '\(revision ?? "?")' not found (\(from))")
            }
            if code == "EntryNotFound" {
                return EmbedError("\(prefix): no file '\(file ?? "?")' in the repository (\(from))")
            }
            if code == "GatedRepo" {
                return EmbedError(
                    "\(prefix): the repository is gated: accept its conditions on its page on the hub, then set HF_TOKEN to a token of that account (\(from))")
            }
            if code == "RepoNotFound" || r.status == 401 {
                let hint = settings.token == nil
                    ? "no token was sent: if it is private or gated, set HF_TOKEN"
                    : "the token sent (HF_TOKEN) does not give access to it"
                return EmbedError("\(prefix): repository not found or not accessible — check the id; \(hint) (\(from))")
            }
            switch r.status {
            case 403: return EmbedError("\(prefix): access denied (\(from))")
            case 404: return EmbedError("\(prefix): not found\(file.map { " ('\($0)')" } ?? "") (\(from))")
            case 429: return EmbedError("\(prefix): rate-limited by the hub after \(retry.maxAttempts) attempts; wait and retry (\(from))")
            case 500..<600:
                return EmbedError("\(prefix): the hub had a server error after \(retry.maxAttempts) attempts; try again later (\(from))")
            case 300..<400: return EmbedError("\(prefix): too many redirects (\(from))")
            default: return EmbedError("\(prefix): unexpected answer (\(from))")
            }
        }
    }

    func describe(_ error: Error, repo: HubRepo?, revision: String?, file: String? = nil) -> EmbedError {
        if let f = error as? HubRequestFailure { return describe(f, repo: repo, revision: revision, file: file) }
        if let e = error as? EmbedError { return e }
        return EmbedError("\(repo.map { "\($0)" } ?? "hub"): \(error)")
    }
}

extension String {
    fileprivate func replacingSpaces() -> String { String(filter { $0 != " " }) }
}

/// The parts of an absolute http(s) URL that matter for redirects: scheme, host, port.
enum URLParts {
    static func origin(_ url: String) -> (scheme: String, host: String, port: Int)? {
        guard let sep = url.firstRange(of: "://") else { return nil }
        let scheme = url[..<sep.lowerBound].lowercased()
        let rest = url[sep.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let hostPort = authority.split(separator: "@").last.map(String.init) ?? ""
        var host = hostPort
        var port = scheme == "https" ? 443 : 80
        if let colon = hostPort.lastIndex(of: ":"), !hostPort.hasSuffix("]") {
            host = String(hostPort[..<colon])
            port = Int(hostPort[hostPort.index(after: colon)...]) ?? port
        }
        return (scheme, host.lowercased(), port)
    }

    static func sameOrigin(_ a: String, _ b: String) -> Bool {
        guard let x = origin(a), let y = origin(b) else { return false }
        return x.scheme == y.scheme && x.host == y.host && x.port == y.port
    }

    /// Resolves a `Location` against the URL it came from (absolute, scheme-relative,
    /// host-relative or path-relative).
    static func resolve(_ location: String, against base: String) -> String {
        if location.contains("://") { return location }
        guard let sep = base.firstRange(of: "://") else { return location }
        let scheme = String(base[..<sep.lowerBound])
        if location.hasPrefix("//") { return scheme + ":" + location }
        let afterScheme: Substring = base[sep.upperBound...]
        let authorityEnd: String.Index = afterScheme.firstIndex(where: { (c: Character) -> Bool in c == "/" || c == "?" || c == "#" })
            ?? afterScheme.endIndex
        let origin = String(base[..<authorityEnd])
        if location.hasPrefix("/") { return origin + location }
        let tail: Substring = base[authorityEnd...]
        var path = String(tail.prefix(while: { (c: Character) -> Bool in c != "?" && c != "#" }))
        if let slash = path.lastIndex(of: "/") { path = String(path[...slash]) } else { path = "/" }
        return origin + path + location
    }

    /// A URL without its query string, which on a CDN carries signatures not meant for logs.
    static func redacted(_ url: String) -> String {
        guard let q = url.firstIndex(of: "?") else { return url }
        if url.contains("/api/") { return url }
        return String(url[..<q]) + "?…"
    }
}
