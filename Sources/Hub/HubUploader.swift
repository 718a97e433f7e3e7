import IO
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What to upload where: `hf upload`'s arguments.
package struct UploadRequest: Sendable {
    package var repo: HubRepo
    /// A local folder (its files, filtered), or one file.
    package var source: String
    /// Where the files land in the repository (nil: the root for a folder, the name for a file).
    package var pathInRepo: String?
    /// The branch to commit to; nil is the default branch, `main`. A named branch is created
    /// when missing, as `hf upload --revision` does.
    package var revision: String?
    /// Open a pull request (against `main`) instead of committing to the branch.
    package var createPR = false
    /// Create the repo private (true) or public (false); nil leaves it to the hub's default. An
    /// existing repo keeps its visibility.
    package var isPrivate: Bool?
    /// Patterns of paths relative to the folder, as `fnmatch` reads them (`*` spans `/`).
    package var include: [String] = []
    package var exclude: [String] = []
    /// Delete remote files matching these patterns (relative to `pathInRepo`) that the folder no
    /// longer has; nil deletes nothing.
    package var delete: [String]?
    package var commitMessage: String?
    package var commitDescription: String?

    package init(repo: HubRepo, source: String) {
        self.repo = repo
        self.source = source
    }
}

/// What an upload did.
package struct UploadResult: Sendable {
    /// The repo as the hub names it (an id without namespace gets the token's user).
    package let repo: HubRepo
    /// The new commit's web URL, or the branch head's when nothing changed.
    package let commitURL: String
    package let commitOID: String
    package let pullRequestURL: String?
    /// False when every file was already there: no commit was made.
    package let committed: Bool
    /// Repo paths added or changed by the commit, and deleted by it.
    package let changedFiles: [String]
    package let deletedFiles: [String]
    /// Repo paths the revision already had with the same content.
    package let unchangedFiles: [String]
    /// LFS content bytes sent to storage (objects the hub already had are not sent).
    package let lfsBytesSent: Int
}

/// Uploads a folder (or a file) to a hub repository in one commit, as huggingface_hub's
/// `hf upload` / `upload_folder` do without Xet: create the repo (an existing one is fine), check
/// the README's metadata, ask `preupload` how each file travels and what the revision holds,
/// hash the LFS files (sha256, once each, streamed), send the LFS objects the hub does not have
/// yet through the LFS batch API, and commit the rest with the NDJSON commit API. Files whose
/// content the revision already holds are not sent, and when nothing changed no commit is made.
package final class HubUploader {
    package let client: HubClient

    package init(client: HubClient) { self.client = client }

    /// A file chosen for the upload, as it goes through the steps.
    struct Item {
        let file: LocalUploadFile
        var sample: [UInt8] = []
        var lfs = false
        var sha256: String?
        /// A regular file's content, read once (for its git blob id and the commit).
        var content: [UInt8]?
    }

    package func upload(_ request: UploadRequest) throws -> UploadResult {
        guard client.settings.token != nil else {
            throw EmbedError("uploading needs a Hugging Face token with write access: set HF_TOKEN (or write it to $HF_HOME/token, as `hf auth login` does)")
        }
        if client.offline { throw EmbedError("uploading needs the hub, but offline mode (HF_HUB_OFFLINE) is on") }
        let files = try UploadFiles.collect(source: request.source, pathInRepo: request.pathInRepo,
                                            include: request.include, exclude: request.exclude)
        if files.isEmpty && request.delete == nil {
            throw EmbedError("\(request.source): no files to upload\(request.include.isEmpty && request.exclude.isEmpty ? "" : " (after --include/--exclude)")")
        }
        if request.createPR, let r = request.revision, r != "main" {
            throw EmbedError("a pull request (--create-pr) is opened against main; it cannot target the revision '\(r)'")
        }
        let isSingleFile = FileSystem.isFile(request.source)
        var items = try files.map { f in Item(file: f, sample: try Self.readPrefix(f.localPath, count: 512)) }

        // 1. The repo, and the branch.
        let repo = try client.createRepo(request.repo, private: request.isPrivate)
        let revision = request.revision ?? "main"
        if request.revision != nil, !request.createPR { try client.ensureBranch(repo, revision) }
        let target = "\(repo)@\(revision)\(request.createPR ? " (pull request)" : "")"

        // 2. The model card's metadata, checked by the hub before anything is sent.
        if let readme = items.first(where: { $0.file.relativePath == "README.md" || $0.file.repoPath == "README.md" }) {
            let text = String(decoding: try ByteReader(path: readme.file.localPath, detectCompression: false).readAll(), as: UTF8.self)
            for w in try client.validateReadme(text, kind: repo.kind, name: readme.file.localPath) {
                log("\(readme.file.localPath): the hub warns: \(w)")
            }
        }

        // 3. Deletions: remote files under pathInRepo matching --delete that are not uploaded again.
        var deletions: [String] = []
        if let patterns = request.delete {
            deletions = try remoteDeletions(repo, revision: request.createPR ? "main" : revision, patterns: patterns,
                                            pathInRepo: request.pathInRepo, keeping: Set(files.map(\.repoPath)))
        }

        // 4. How each file travels, and what the revision has at its path.
        let gitIgnore = try items.first { $0.file.repoPath == ".gitignore" }.map { try FileSystem.readText($0.file.localPath) }
        let answers = try client.preupload(repo, revision: revision, createPR: request.createPR,
                                           files: items.map { ($0.file.repoPath, $0.file.size, $0.sample) }, gitIgnore: gitIgnore)
        var byPath: [String: PreuploadAnswer] = [:]
        for a in answers { byPath[a.path] = a }

        // 5. Content ids, and what is unchanged.
        var unchanged: [String] = []
        var ignored: [String] = []
        var kept: [Item] = []
        let lfsTotal = items.reduce(0) { $0 + ((byPath[$1.file.repoPath]?.lfs ?? false) && $1.file.size > 0 ? $1.file.size : 0) }
        let hashing: ProgressBar? = client.quiet || lfsTotal < 1 << 24 ? nil : ProgressBar("sha256", total: lfsTotal, unit: "B")
        hashing?.countsBytes = true
        for i in items.indices {
            var item = items[i]
            guard let answer = byPath[item.file.repoPath] else {
                throw EmbedError("\(target): the preupload answer says nothing about '\(item.file.repoPath)'")
            }
            if answer.shouldIgnore {
                ignored.append(item.file.repoPath)
                continue
            }
            // Storage refuses empty LFS objects: empty files always go in the commit itself.
            item.lfs = answer.lfs && item.file.size > 0
            if item.lfs {
                let sha = try Self.sha256(of: item.file.localPath, progress: hashing)
                item.sha256 = sha
                if answer.remoteOID == sha { unchanged.append(item.file.repoPath); continue }
            } else {
                let content = try ByteReader(path: item.file.localPath, detectCompression: false).readAll()
                item.content = content
                if let remote = answer.remoteOID {
                    var h = SHA1.gitBlob(size: content.count)
                    h.update(content)
                    if h.hexDigest() == remote { unchanged.append(item.file.repoPath); continue }
                }
            }
            kept.append(item)
        }
        hashing?.finish()
        items = kept
        if !ignored.isEmpty { log("\(target): the repo's .gitignore excludes \(ignored.joined(separator: ", "))") }

        // 6. LFS objects the hub does not have yet.
        var lfsSent = 0
        var seen = Set<String>()
        let lfsItems = items.filter { $0.lfs && seen.insert($0.sha256!).inserted }
        if !lfsItems.isEmpty {
            let objects = try client.lfsBatch(repo, revision: request.createPR ? nil : revision,
                                              objects: lfsItems.map { ($0.sha256!, $0.file.size) })
            let toSend = objects.filter { $0.transfer != .present }
            let present = objects.count - toSend.count
            let sendBytes = toSend.reduce(0) { $0 + $1.size }
            log("\(target): \(files.count) file\(files.count == 1 ? "" : "s"); \(unchanged.count) unchanged, "
                + "\(items.count) to commit; LFS: \(toSend.count) object\(toSend.count == 1 ? "" : "s") to send (\(ProgressBar.bytes(Double(sendBytes))))"
                + (present > 0 ? ", \(present) already on the hub" : ""))
            let progress: ProgressBar? = client.quiet || toSend.isEmpty ? nil : ProgressBar("upload", total: sendBytes, unit: "B")
            progress?.countsBytes = true
            for object in toSend {
                guard let item = lfsItems.first(where: { $0.sha256 == object.oid }) else {
                    throw EmbedError("\(target): the LFS batch answer names an object that was not asked for: \(object.oid)")
                }
                if case .multipart(_, _, let parts) = object.transfer {
                    progress?.log("\(item.file.repoPath): \(ProgressBar.bytes(Double(object.size))) in \(parts.count) parts")
                }
                try client.uploadLFSObject(object, file: item.file.localPath, label: item.file.repoPath, progress: progress)
                lfsSent += object.size
            }
            progress?.finish()
        } else {
            log("\(target): \(files.count) file\(files.count == 1 ? "" : "s"); \(unchanged.count) unchanged, \(items.count) to commit")
        }

        // 7. One commit, or none when nothing changed.
        if items.isEmpty && deletions.isEmpty {
            let head = try client.repoInfo(repo, revision: request.createPR ? "main" : revision)
            log("\(target): no file has changed since the last commit; nothing to commit")
            return UploadResult(repo: repo, commitURL: client.commitURL(repo, commit: head.sha), commitOID: head.sha, pullRequestURL: nil,
                                committed: false, changedFiles: [], deletedFiles: [], unchangedFiles: unchanged, lfsBytesSent: lfsSent)
        }
        var payload = CommitPayload()
        let message = request.commitMessage
            ?? (isSingleFile ? "Upload \(files.first?.repoPath ?? "file") with norembed" : "Upload folder with norembed")
        guard !message.isEmpty else { throw EmbedError("the commit message must not be empty") }
        payload.header(summary: message, description: request.commitDescription ?? "")
        for path in deletions { payload.deletedFile(path: path) }
        for item in items {
            if item.lfs {
                payload.lfsFile(path: item.file.repoPath, oid: item.sha256!, size: item.file.size)
            } else {
                payload.file(path: item.file.repoPath, content: item.content ?? [])
            }
        }
        let info = try client.commit(repo, revision: revision, createPR: request.createPR, payload: payload.bytes)
        log("\(target): committed \(items.count) file\(items.count == 1 ? "" : "s")"
            + (deletions.isEmpty ? "" : ", deleted \(deletions.count)") + ": \(info.url)"
            + (info.pullRequestURL.map { " (pull request \($0))" } ?? ""))
        return UploadResult(repo: repo, commitURL: info.url, commitOID: info.oid, pullRequestURL: info.pullRequestURL, committed: true,
                            changedFiles: items.map(\.file.repoPath), deletedFiles: deletions, unchangedFiles: unchanged,
                            lfsBytesSent: lfsSent)
    }

    /// The remote files `upload_folder(delete_patterns=…)` deletes: those under `pathInRepo`
    /// whose path relative to it matches a pattern, except `.gitattributes` and files uploaded again.
    func remoteDeletions(_ repo: HubRepo, revision: String, patterns: [String], pathInRepo: String?, keeping: Set<String>) throws -> [String] {
        var prefix = try UploadFiles.cleanRepoPath(pathInRepo ?? "")
        while prefix.hasSuffix("/") { prefix.removeLast() }
        let remote = try client.listFiles(repo, revision: revision).map(\.path)
        var relative: [String: String] = [:]
        for path in remote {
            if prefix.isEmpty { relative[path] = path } else if path.hasPrefix(prefix + "/") { relative[String(path.dropFirst(prefix.count + 1))] = path }
        }
        return UploadFiles.filter(relative.keys.sorted(), allow: patterns, ignore: [])
            .compactMap { relative[$0] }
            .filter { $0 != ".gitattributes" && !keeping.contains($0) }
            .sorted()
    }

    /// The first `count` bytes of a file (fewer if it is shorter): preupload's sample.
    static func readPrefix(_ path: String, count: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw EmbedError("\(path): cannot open: \(FileSystem.errnoText())") }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, count - got, off_t(got)) }
            if n < 0, errno == EINTR { continue }
            if n < 0 { throw EmbedError("\(path): read error: \(FileSystem.errnoText())") }
            if n == 0 { break }
            got += n
        }
        return Array(buf[0..<got])
    }

    /// The sha256 of a file's content (the LFS object id), read once in 1 MiB blocks.
    static func sha256(of path: String, progress: ProgressBar?) throws -> String {
        let reader = try ByteReader(path: path, detectCompression: false)
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        var h = SHA256()
        while true {
            let n = try reader.read(into: buf)
            if n == 0 { break }
            h.update(UnsafeRawBufferPointer(rebasing: buf[0..<n]))
            progress?.advance(by: n)
        }
        return h.hexDigest()
    }
}

/// The NDJSON body of the commit API (huggingface_hub's `_prepare_commit_payload`): a header
/// line, then one line per operation. Regular files travel in it, base64-encoded.
struct CommitPayload {
    private(set) var bytes: [UInt8] = []

    private mutating func line(_ key: String, _ value: JSONObject) {
        bytes += Array(JSON.object(JSONObject([("key", .string(key)), ("value", .object(value))])).serialized().utf8)
        bytes.append(0x0A)
    }

    mutating func header(summary: String, description: String) {
        line("header", JSONObject([("summary", .string(summary)), ("description", .string(description))]))
    }

    mutating func file(path: String, content: [UInt8]) {
        // Written by hand so the (possibly large) content is encoded straight into the body.
        bytes += Array(#"{"key":"file","value":{"content":""#.utf8)
        Base64.encode(content, into: &bytes)
        var p = ""
        JSON.writeString(path, to: &p)
        bytes += Array(#"","path":\#(p),"encoding":"base64"}}"#.utf8)
        bytes.append(0x0A)
    }

    mutating func lfsFile(path: String, oid: String, size: Int) {
        line("lfsFile", JSONObject([("path", .string(path)), ("algo", "sha256"), ("oid", .string(oid)), ("size", .number(Double(size)))]))
    }

    mutating func deletedFile(path: String) {
        line("deletedFile", JSONObject([("path", .string(path))]))
    }
}
