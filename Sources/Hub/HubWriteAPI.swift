import IO

/// What `preupload` says about one file: how it must travel, whether the repo's `.gitignore`
/// drops it, and what the revision holds at its path (the sha256 of an LFS file, the git blob id
/// of a regular one), so an unchanged file need not be sent again.
package struct PreuploadAnswer: Sendable, Equatable {
    package let path: String
    package let lfs: Bool
    package let shouldIgnore: Bool
    package let remoteOID: String?
}

/// The LFS batch API's answer for one object: already stored, or where and how to send it.
package struct LFSBatchObject: Sendable, Equatable {
    package enum Transfer: Sendable, Equatable {
        /// The hub has the object: nothing to send.
        case present
        /// One PUT of the whole content.
        case basic(url: String)
        /// PUTs of `chunkSize` slices to `parts` (in order), then a POST to `completion`.
        case multipart(completion: String, chunkSize: Int, parts: [String])
    }

    package let oid: String
    package let size: Int
    package let transfer: Transfer
    package let verifyURL: String?
}

/// What the commit API answers.
package struct HubCommitInfo: Sendable, Equatable {
    package let url: String
    package let oid: String
    package let pullRequestURL: String?
}

/// The hub's write API, as huggingface_hub 2.x speaks it without its Xet client: repo creation,
/// branch creation, README metadata validation, `preupload`, the git LFS batch API with its
/// `basic` and `multipart` transfers, and the NDJSON commit API. Requests are retried with
/// backoff on dropped connections, 408, 429 and 5xx — except the commit, which is never retried
/// (a commit whose answer was lost may have happened). Storage URLs (the PUTs and the multipart
/// completion) are signed and get no token.
extension HubClient {
    // MARK: Requests with a body

    /// Sends `body` and returns a 2xx answer; throws `HubRequestFailure` for other answers (after
    /// the retries, when `retrying`), or the `EmbedError` of a file that cannot be read.
    /// `progress` counts the body bytes sent, and goes back when an attempt is repeated.
    func sendBody(
        _ method: String, _ url: String, body: HTTPBody, headers extra: [(String, String)] = [],
        auth: Bool = true, retrying: Bool = true, progress: ProgressBar? = nil
    ) throws -> HTTPResponse {
        var attempt = 0
        let start = progress?.count ?? 0
        let say: (String) -> Void = { message in if let progress { progress.log(message) } else { log(message) } }
        while true {
            attempt += 1
            var h = extra
            if auth, let token = settings.token { h.append(("Authorization", "Bearer \(token)")) }
            let response: HTTPResponse
            do {
                response = try http.request(
                    method, url, headers: h, body: body,
                    onSent: progress.map { p in { p.advance(by: $0) } },
                    onRewind: progress.map { p in { p.set(start + $0) } })
            } catch let e as HTTPTransportError {
                progress?.set(start)
                if retrying, attempt < retry.maxAttempts {
                    let wait = retry.delay(afterAttempt: attempt)
                    say("hub: \(e.message) (\(method) \(URLParts.redacted(url))); retrying in \(ProgressBar.duration(wait)) (\(attempt)/\(retry.maxAttempts - 1))")
                    sleep(seconds: wait)
                    continue
                }
                throw HubRequestFailure.transport(e)
            }
            if (200..<300).contains(response.status) { return response }
            progress?.set(start)
            if retrying, RetryPolicy.retryableStatuses.contains(response.status), attempt < retry.maxAttempts {
                var wait = retry.delay(afterAttempt: attempt)
                // As huggingface_hub: a rate limit's Retry-After (seconds) plus one.
                if response.status == 429, let after = response.headers["Retry-After"].flatMap(Double.init) { wait = min(after + 1, 300) }
                say("hub: HTTP \(response.status) from \(method) \(URLParts.redacted(url)); retrying in \(ProgressBar.duration(wait)) (\(attempt)/\(retry.maxAttempts - 1))")
                sleep(seconds: wait)
                continue
            }
            throw HubRequestFailure.status(response)
        }
    }

    func sendJSON(_ url: String, _ value: JSON, method: String = "POST", contentType: String = "application/json",
                  accept: String? = nil, auth: Bool = true, retrying: Bool = true) throws -> JSON {
        var headers = [("Content-Type", contentType)]
        if let accept { headers.append(("Accept", accept)) }
        let r = try sendBody(method, url, body: .bytes(Array(value.serialized().utf8)), headers: headers, auth: auth, retrying: retrying)
        return try parseAnswer(r)
    }

    func parseAnswer(_ r: HTTPResponse) throws -> JSON {
        if r.body.isEmpty { return .object(JSONObject()) }
        do { return try JSON.parse(r.body) } catch {
            throw EmbedError("\(URLParts.redacted(r.url)): the hub's answer is not JSON (\(error.description)): \(r.bodyText.prefix(200))")
        }
    }

    /// huggingface_hub's `fix_hf_endpoint_in_url`: URLs the hub hands out name huggingface.co;
    /// behind another endpoint (a mirror), they must name that one.
    func fixEndpoint(_ url: String) -> String {
        let official = HubSettings.defaultEndpoint
        guard endpoint != official, url.hasPrefix(official + "/") else { return url }
        return endpoint + url.dropFirst(official.count)
    }

    // MARK: Repos and branches

    /// `POST /api/repos/create`. A repo that exists already (409) is fine, as
    /// `create_repo(exist_ok=True)` takes it. Returns the repo as the hub names it (an id without
    /// a namespace gets the token's user). When the token may not create (401/403) the repo may
    /// still exist and be readable, as huggingface_hub checks; then the caller goes on, and a
    /// write it is not allowed fails at the first write.
    package func createRepo(_ repo: HubRepo, private isPrivate: Bool?) throws -> HubRepo {
        let parts = repo.id.split(separator: "/").map(String.init)
        var body = JSONObject()
        body["name"] = .string(parts.last ?? repo.id)
        body["organization"] = parts.count == 2 ? .string(parts[0]) : .null
        if let isPrivate { body["visibility"] = .string(isPrivate ? "private" : "public") }
        body["type"] = .string(repo.kind.rawValue)
        let url = "\(endpoint)/api/repos/create"
        var conflicts = 0
        while true {
            do {
                let answer = try sendJSON(url, .object(body))
                return repoFromURL(answer["url"]?.string, kind: repo.kind) ?? repo
            } catch HubRequestFailure.status(let r) where r.status == 409 {
                // Another create of the same repo still running: huggingface_hub posts again.
                if r.bodyText.contains("conflicting operation is in progress"), conflicts < retry.maxAttempts {
                    conflicts += 1
                    sleep(seconds: retry.delay(afterAttempt: conflicts))
                    continue
                }
                let named = (try? JSON.parse(r.body))?["url"]?.string
                return repoFromURL(named, kind: repo.kind) ?? repo
            } catch HubRequestFailure.status(let r) where [401, 402, 403].contains(r.status) && parts.count == 2 {
                if (try? send("GET", apiURL(repo, "").dropLastSlash)) != nil { return repo }
                throw writeError(HubRequestFailure.status(r), repo: repo, doing: "create the repository")
            } catch let f as HubRequestFailure {
                throw writeError(f, repo: repo, doing: "create the repository")
            }
        }
    }

    /// The repo a hub URL names: `{endpoint}/{datasets/}{ns}/{name}`.
    func repoFromURL(_ url: String?, kind: HubRepo.Kind) -> HubRepo? {
        guard let url, let sep = url.firstRange(of: "://") else { return nil }
        let rest = url[sep.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return nil }
        var parts = rest[rest.index(after: slash)...].split(separator: "/").map(String.init)
        if kind == .dataset, parts.first == "datasets" { parts.removeFirst() }
        guard parts.count == 2 else { return nil }
        let id = parts.joined(separator: "/")
        return HubRepo.isValidID(id) ? HubRepo(id, kind: kind) : nil
    }

    /// Makes sure `branch` exists, as `hf upload --revision` does: looks it up, and creates it
    /// from the default branch when the hub says the revision is not found.
    package func ensureBranch(_ repo: HubRepo, _ branch: String) throws {
        do {
            _ = try fetchRepoInfo(repo, revision: branch)
            return
        } catch HubRequestFailure.status(let r) where r.headers["X-Error-Code"] == "RevisionNotFound" {
            // Created below.
        } catch {
            throw writeError(error, repo: repo, doing: "look up the branch '\(branch)'")
        }
        do {
            _ = try sendJSON(apiURL(repo, "branch/\(percentEncode(branch, keepSlash: false))"), .object(JSONObject()))
            log("\(repo): created the branch '\(branch)'")
        } catch HubRequestFailure.status(let r) where r.status == 409 {
            // Created meanwhile: fine.
        } catch {
            throw writeError(error, repo: repo, doing: "create the branch '\(branch)'")
        }
    }

    /// What the hub says about the token (`GET /api/whoami-v2`).
    package enum TokenCheck: Sendable, Equatable {
        /// Its user, and its role (`read`, `write`, `fineGrained`).
        case valid(user: String, role: String?)
        /// The hub refused it (401).
        case refused(String)
        /// No answer worth trusting (unreachable, server error): nothing is known.
        case unknown(String)
    }

    package func checkToken() -> TokenCheck {
        do {
            let (json, _) = try getJSON("\(endpoint)/api/whoami-v2")
            return .valid(user: json["name"]?.string ?? "?", role: json["auth"]?["accessToken"]?["role"]?.string)
        } catch {
            let message = describe(error, repo: nil, revision: nil, file: "hub").message
            if case .status(let r) = error, r.status == 401 { return .refused(message) }
            return .unknown(message)
        }
    }

    // MARK: Metadata

    /// `POST /api/validate-yaml`: the hub's check of a README's front matter. Returns its
    /// warnings; its errors (HTTP 400) are thrown, one per line.
    package func validateReadme(_ content: String, kind: HubRepo.Kind, name: String = "README.md") throws -> [String] {
        var body = JSONObject()
        body["content"] = .string(content)
        body["repoType"] = .string(kind.rawValue)
        do {
            let answer = try sendJSON("\(endpoint)/api/validate-yaml", .object(body))
            return (answer["warnings"]?.array ?? []).compactMap { $0["message"]?.string }
        } catch HubRequestFailure.status(let r) where r.status == 400 {
            let json = try? JSON.parse(r.body)
            var errors = (json?["errors"]?.array ?? []).compactMap { $0["message"]?.string }
            if errors.isEmpty { errors = [json?["error"]?.string ?? r.bodyText] }
            throw EmbedError("\(name): the hub rejects its metadata (the YAML front matter):\n" + errors.map { "  - \($0)" }.joined(separator: "\n"))
        } catch {
            throw describe(error, repo: nil, revision: nil, file: name)
        }
    }

    // MARK: Preupload

    /// `POST /api/{type}s/{id}/preupload/{revision}` for files given by path, size and first
    /// 512 bytes, 256 per request: which go through LFS, which the repo ignores, what is there now.
    package func preupload(
        _ repo: HubRepo, revision: String, createPR: Bool, files: [(path: String, size: Int, sample: [UInt8])], gitIgnore: String?
    ) throws -> [PreuploadAnswer] {
        let url = apiURL(repo, "preupload/\(percentEncode(revision, keepSlash: false))") + (createPR ? "?create_pr=1" : "")
        var answers: [PreuploadAnswer] = []
        for start in stride(from: 0, to: files.count, by: 256) {
            let chunk = files[start..<min(files.count, start + 256)]
            var body = JSONObject()
            body["files"] = .array(chunk.map { f in
                .object(JSONObject([("path", .string(f.path)), ("sample", .string(Base64.encode(f.sample))), ("size", .number(Double(f.size)))]))
            })
            if let gitIgnore { body["gitIgnore"] = .string(gitIgnore) }
            let json: JSON
            do { json = try sendJSON(url, .object(body)) } catch {
                throw writeError(error, repo: repo, doing: "prepare the upload (preupload)", revision: revision)
            }
            guard let list = json["files"]?.array else { throw EmbedError("\(repo): the preupload answer has no 'files' list") }
            for f in list {
                guard let path = f["path"]?.string, let mode = f["uploadMode"]?.string, mode == "lfs" || mode == "regular" else {
                    throw EmbedError("\(repo): a preupload answer lacks 'path' or a valid 'uploadMode': \(f.serialized())")
                }
                answers.append(PreuploadAnswer(path: path, lfs: mode == "lfs", shouldIgnore: f["shouldIgnore"]?.bool ?? false,
                                               remoteOID: f["oid"]?.string))
            }
        }
        return answers
    }

    // MARK: LFS

    /// `POST /{id}.git/info/lfs/objects/batch` (upload, transfers basic and multipart), 256
    /// objects per request. `revision` nil (a pull request) sends no `ref`.
    package func lfsBatch(_ repo: HubRepo, revision: String?, objects: [(oid: String, size: Int)]) throws -> [LFSBatchObject] {
        let url = "\(endpoint)/\(repo.urlPrefix)\(repo.id).git/info/lfs/objects/batch"
        let lfsJSON = "application/vnd.git-lfs+json"
        var out: [LFSBatchObject] = []
        for start in stride(from: 0, to: objects.count, by: 256) {
            let chunk = objects[start..<min(objects.count, start + 256)]
            var body = JSONObject()
            body["operation"] = "upload"
            body["transfers"] = ["basic", "multipart"]
            body["objects"] = .array(chunk.map { .object(JSONObject([("oid", .string($0.oid)), ("size", .number(Double($0.size)))])) })
            body["hash_algo"] = "sha256"
            if let revision { body["ref"] = .object(JSONObject([("name", .string(revision))])) }
            let json: JSON
            do { json = try sendJSON(url, .object(body), contentType: lfsJSON, accept: lfsJSON) } catch {
                throw writeError(error, repo: repo, doing: "start the LFS upload (batch API)")
            }
            guard let list = json["objects"]?.array else { throw EmbedError("\(repo): the LFS batch answer has no 'objects' list") }
            var errors: [String] = []
            for o in list {
                let oid = o["oid"]?.string ?? "?"
                if let e = o["error"] {
                    errors.append("object \(oid): \(e["message"]?.string ?? e.serialized()) (code \(e["code"]?.int.map(String.init) ?? "?"))")
                    continue
                }
                out.append(try parseBatchObject(o, repo: repo))
            }
            if !errors.isEmpty { throw EmbedError("\(repo): the LFS batch API refused:\n" + errors.map { "  - \($0)" }.joined(separator: "\n")) }
        }
        return out
    }

    func parseBatchObject(_ o: JSON, repo: HubRepo) throws -> LFSBatchObject {
        guard let oid = o["oid"]?.string, let size = o["size"]?.int else {
            throw EmbedError("\(repo): an LFS batch object lacks its oid or size: \(o.serialized())")
        }
        guard let actions = o["actions"]?.object, let upload = actions["upload"] else {
            return LFSBatchObject(oid: oid, size: size, transfer: .present, verifyURL: nil)
        }
        guard let href = upload["href"]?.string else { throw EmbedError("\(repo): an LFS upload action has no href (object \(oid))") }
        let verify = actions["verify"]?["href"]?.string.map(fixEndpoint)
        let header = upload["header"]?.object
        guard let header, let chunkText = header["chunk_size"] else {
            return LFSBatchObject(oid: oid, size: size, transfer: .basic(url: fixEndpoint(href)), verifyURL: verify)
        }
        guard let chunk = chunkText.string.flatMap({ Int($0) }) ?? chunkText.int, chunk > 0 else {
            throw EmbedError("\(repo): the multipart chunk_size '\(chunkText.serialized())' is not a positive integer (object \(oid))")
        }
        // Part URLs are the header's all-digit keys ("1" or "00001"), in numeric order.
        let parts = header.entries.compactMap { e -> (Int, String)? in
            guard !e.key.isEmpty, e.key.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(e.key), let u = e.value.string else { return nil }
            return (n, u)
        }.sorted { $0.0 < $1.0 }.map(\.1)
        guard parts.count == (size + chunk - 1) / chunk else {
            throw EmbedError("\(repo): invalid multipart answer for object \(oid): \(parts.count) part URLs for \(size) bytes in chunks of \(chunk)")
        }
        return LFSBatchObject(oid: oid, size: size, transfer: .multipart(completion: fixEndpoint(href), chunkSize: chunk, parts: parts),
                              verifyURL: verify)
    }

    /// Sends one LFS object's content from `file` as the batch answer says (a single PUT, or the
    /// parts and the completion call), then the verify call when asked for.
    package func uploadLFSObject(_ object: LFSBatchObject, file: String, label: String, progress: ProgressBar?) throws {
        do {
            switch object.transfer {
            case .present:
                return
            case .basic(let url):
                _ = try sendBody("PUT", url, body: .file(path: file, offset: 0, length: object.size), auth: false, progress: progress)
            case .multipart(let completion, let chunk, let parts):
                var etags: [JSON] = []
                for (i, url) in parts.enumerated() {
                    let offset = i * chunk
                    let r = try sendBody("PUT", url, body: .file(path: file, offset: offset, length: min(chunk, object.size - offset)),
                                         auth: false, progress: progress)
                    guard let etag = r.headers["ETag"], !etag.isEmpty else {
                        throw EmbedError("\(label): the storage gave no ETag for part \(i + 1) of \(parts.count)")
                    }
                    etags.append(.object(JSONObject([("partNumber", .number(Double(i + 1))), ("etag", .string(etag))])))
                }
                let lfsJSON = "application/vnd.git-lfs+json"
                _ = try sendJSON(completion, .object(JSONObject([("oid", .string(object.oid)), ("parts", .array(etags))])),
                                 contentType: lfsJSON, accept: lfsJSON, auth: false)
            }
            if let verify = object.verifyURL {
                _ = try sendJSON(verify, .object(JSONObject([("oid", .string(object.oid)), ("size", .number(Double(object.size)))])))
            }
        } catch let e as EmbedError {
            throw e
        } catch {
            throw describe(error, repo: nil, revision: nil, file: label)
        }
    }

    // MARK: Commit

    /// `POST /api/{type}s/{id}/commit/{revision}` with an NDJSON body (built by `CommitPayload`).
    /// Never retried: if the answer is lost, the commit may have happened.
    package func commit(_ repo: HubRepo, revision: String, createPR: Bool, payload: [UInt8]) throws -> HubCommitInfo {
        let url = apiURL(repo, "commit/\(percentEncode(revision, keepSlash: false))") + (createPR ? "?create_pr=1" : "")
        let json: JSON
        do {
            let r = try sendBody("POST", url, body: .bytes(payload), headers: [("Content-Type", "application/x-ndjson")], retrying: false)
            json = try parseAnswer(r)
        } catch HubRequestFailure.transport(let e) {
            throw EmbedError("\(repo)@\(revision): the commit request failed (\(e.message)); it may or may not have been applied: look at the repository, and run the upload again if needed (files already there are not sent twice)")
        } catch {
            throw writeError(error, repo: repo, doing: "commit", revision: revision)
        }
        guard let commitURL = json["commitUrl"]?.string, let oid = json["commitOid"]?.string else {
            throw EmbedError("\(repo)@\(revision): the commit answer lacks commitUrl or commitOid: \(json.serialized().prefix(300))")
        }
        return HubCommitInfo(url: commitURL, oid: oid, pullRequestURL: json["pullRequestUrl"]?.string)
    }

    /// The web URL of a commit, as huggingface_hub builds it for an upload that changed nothing.
    package func commitURL(_ repo: HubRepo, commit: String) -> String {
        "\(endpoint)/\(repo.urlPrefix)\(repo.id)/commit/\(commit)"
    }

    // MARK: Errors

    /// A user-facing message for a failed write: which step, what the hub said, and for refused
    /// credentials what to do about them.
    func writeError(_ error: Error, repo: HubRepo, doing step: String, revision: String? = nil) -> EmbedError {
        guard case HubRequestFailure.status(let r)? = error as? HubRequestFailure else {
            return describe(error, repo: repo, revision: revision)
        }
        var detail = r.headers["X-Error-Message"] ?? ""
        if detail.isEmpty, let json = try? JSON.parse(r.body), let msg = json["error"]?.string { detail = msg }
        let from = "HTTP \(r.status) from \(URLParts.redacted(r.url))" + (detail.isEmpty ? "" : ": \(detail)")
        let tokens = "\(endpoint == HubSettings.defaultEndpoint ? "https://huggingface.co" : endpoint)/settings/tokens"
        if r.headers["X-Error-Code"] == "RepoNotFound" {
            return EmbedError("\(repo): cannot \(step): repository not found or not accessible with this token — check the id and HF_TOKEN (\(from))")
        }
        switch r.status {
        case 401:
            return EmbedError("\(repo): cannot \(step): the hub refused the token (HF_TOKEN): invalid or expired? Create one at \(tokens) (\(from))")
        case 403:
            return EmbedError("\(repo): cannot \(step): the token may not write here — a read-only token, or another user's namespace? A token with write access is made at \(tokens) (\(from))")
        case 409 where revision != nil:
            return EmbedError("\(repo)@\(revision!): cannot \(step): conflict (\(from))")
        default:
            return describe(error, repo: repo, revision: revision)
        }
    }
}

extension String {
    /// `…/api/models/org/name/` → `…/api/models/org/name` (the repo's own API URL).
    fileprivate var dropLastSlash: String { hasSuffix("/") ? String(dropLast()) : self }
}
