#!/usr/bin/env python3
"""A small in-memory fake of the Hugging Face hub's HTTP API: enough for huggingface_hub's
upload path WITHOUT Xet (HF_HUB_DISABLE_XET=1) and for its download path (snapshot_download),
and for our `upload` and `fetch-data`. tools/check_hub_roundtrip.py runs both against it. The
Swift tests' fake (Tests/HubTests/FakeHub.swift) is the same hub in Swift; this one is the
reference that huggingface_hub 2.4.0 itself was checked against (41 checks, Xet off). Standard
library only (PyYAML optional, for validate-yaml).

Two listeners on 127.0.0.1, like the Swift FakeHub:
  hub  -- the API, git LFS batch/verify, resolve, multipart completion
  cdn  -- "S3": basic PUT uploads, multipart part PUTs, LFS downloads (no token allowed here)

Routes (hub):
  POST /api/repos/create                                   create a repo (409 + {"url"} if it exists)
  POST /api/validate-yaml                                  README.md front-matter check
  GET  /api/whoami-v2                                      who the token belongs to
  GET  /api/{models|datasets}/{ns}/{name}                  repo info at main
  GET  /api/{models|datasets}/{ns}/{name}/revision/{rev}   repo info at rev (sha, siblings)
  GET  /api/{models|datasets}/{ns}/{name}/tree/{rev}[/{path}]?recursive=&expand=   (Link-paginated)
  GET  /api/{models|datasets}/{ns}/{name}/refs             branches / tags / PR refs
  GET  /api/{models|datasets}/{ns}/{name}/auth-check[/write]  access pre-flight (HfApi.auth_check)
  POST /api/{models|datasets}/{ns}/{name}/preupload/{rev}  upload modes
  POST /api/{models|datasets}/{ns}/{name}/commit/{rev}     NDJSON commit (?create_pr=1)
  POST /api/{models|datasets}/{ns}/{name}/branch/{branch}  create a branch
  POST /{datasets/}{ns}/{name}.git/info/lfs/objects/batch  LFS batch (upload)
  POST /{datasets/}{ns}/{name}.git/info/lfs/objects/verify LFS verify
  POST /api/complete_multipart?uploadId=..&sig=..          multipart completion (signed URL, no token)
  HEAD|GET /{datasets/}{ns}/{name}/resolve/{rev}/{path}    downloads (LFS -> 302 to the cdn)
Routes (cdn):
  PUT  /s3/{uploadKey}?sig=..                              basic transfer
  PUT  /s3-part/{uploadId}/{n}?sig=..                      one multipart part (answers an ETag)
  GET  /cdn/{sha256}                                       LFS content (Range supported)

Run standalone:  python3 tools/fake_hub.py --port 8765 [--multipart-threshold 5242880 ...]
or import and use FakeHub(...).start() (see tools/check_hub_roundtrip.py).
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import fnmatch
import hashlib
import json
import math
import sys
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

try:
    import yaml  # only for /api/validate-yaml
except ImportError:  # pragma: no cover
    yaml = None

# What a new repo's first commit holds, as on the real hub (shortened list of patterns).
DEFAULT_GITATTRIBUTES = "".join(
    f"{p} filter=lfs diff=lfs merge=lfs -text\n"
    for p in ["*.bin", "*.safetensors", "*.pt", "*.pth", "*.ckpt", "*.h5", "*.onnx", "*.parquet",
              "*.arrow", "*.npy", "*.npz", "*.gz", "*.zip", "*.tar", "*.zst", "*tfevents*"]
)

HEX40 = set("0123456789abcdef")
# A few of the hub's license ids (the real list is long): validate-yaml rejects others.
KNOWN_LICENSES = ["apache-2.0", "mit", "cc-by-4.0", "cc-by-sa-4.0", "cc0-1.0", "bsd-3-clause", "other"]


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(oid: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {size}\n".encode()


def is_commit_hash(s: str) -> bool:
    return len(s) == 40 and set(s) <= HEX40


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass
class Entry:
    size: int
    data: bytes | None = None  # regular file content
    lfs_oid: str | None = None  # sha256 of an LFS file's content

    @property
    def blob_id(self) -> str:  # git blob id: of the content, or of the LFS pointer
        return git_blob_sha1(self.data if self.lfs_oid is None else lfs_pointer(self.lfs_oid, self.size))


@dataclass
class Commit:
    sha: str
    parent: str | None
    files: dict[str, Entry]
    summary: str
    description: str = ""


@dataclass
class Repo:
    type: str  # model | dataset
    id: str  # ns/name
    private: bool
    refs: dict[str, str] = field(default_factory=dict)  # "main", "dev", "refs/pr/1" -> commit
    tags: dict[str, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)
    lfs: dict[str, bytes] = field(default_factory=dict)  # sha256 -> content (per repo, as on the hub)
    next_pr: int = 1

    @property
    def prefix(self) -> str:  # web URL prefix
        return "" if self.type == "model" else self.type + "s/"


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers=None, body=None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers = headers or []
        self.body = body


class FakeHub:
    def __init__(self, *, host="127.0.0.1", port=0, cdn_port=0,
                 tokens=None, regular_max=10 * 1024 * 1024,
                 multipart_threshold=20 * 1024 * 1024, chunk_size=8 * 1024 * 1024,
                 part_key_width=5, page_size=1000, verbose=False):
        # token -> (user, role); role "write" or "read"
        self.tokens = tokens if tokens is not None else {"hf_write": ("alice", "write"), "hf_read": ("alice", "read")}
        self.regular_max = regular_max  # preupload: larger files are "lfs"
        self.multipart_threshold = multipart_threshold  # batch: this size and above -> multipart
        self.chunk_size = chunk_size
        self.part_key_width = part_key_width  # "00001" (5) or "1" (0): the client must accept both
        self.page_size = page_size
        self.verbose = verbose
        self.lock = threading.RLock()
        self.repos: dict[tuple[str, str], Repo] = {}
        self.uploads: dict[str, dict] = {}  # pending basic / multipart uploads
        self.log: list[dict] = []  # every request: method, server, path, query, auth?, body length
        self.failures: dict[str, list[int]] = {}  # path substring -> statuses to answer first
        self.commit_counter = 0
        self.hub = ThreadingHTTPServer((host, port), self._handler("hub"))
        self.cdn = ThreadingHTTPServer((host, cdn_port), self._handler("cdn"))
        self.hub.daemon_threads = self.cdn.daemon_threads = True

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://{self.hub.server_address[0]}:{self.hub.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        return f"http://{self.cdn.server_address[0]}:{self.cdn.server_address[1]}"

    def start(self) -> "FakeHub":
        for srv in (self.hub, self.cdn):
            threading.Thread(target=srv.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for srv in (self.hub, self.cdn):
            srv.shutdown()
            srv.server_close()

    # -- state helpers -----------------------------------------------------------------------
    def create(self, repo_type: str, repo_id: str, private=False) -> Repo:
        repo = Repo(type=repo_type, id=repo_id, private=private)
        gitattributes = DEFAULT_GITATTRIBUTES.encode()
        first = self._new_commit(repo, None, {".gitattributes": Entry(len(gitattributes), data=gitattributes)},
                                 "initial commit")
        repo.refs["main"] = first.sha
        self.repos[(repo_type, repo_id)] = repo
        return repo

    def _new_commit(self, repo: Repo, parent: str | None, files: dict[str, Entry], summary: str, description=""):
        self.commit_counter += 1
        h = hashlib.sha1(f"{repo.type}/{repo.id}/{parent}/{summary}/{self.commit_counter}".encode())
        for p in sorted(files):
            h.update(f"{p}:{files[p].blob_id}".encode())
        c = Commit(h.hexdigest(), parent, files, summary, description)
        repo.commits[c.sha] = c
        return c

    def resolve(self, repo: Repo, rev: str) -> Commit:
        sha = repo.refs.get(rev) or repo.tags.get(rev)
        if sha is None and rev.startswith("refs/heads/"):
            sha = repo.refs.get(rev[len("refs/heads/"):])
        if sha is None and rev in repo.commits:
            sha = rev
        if sha is None:
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return repo.commits[sha]

    def files_at(self, repo_type: str, repo_id: str, rev="main") -> dict[str, bytes]:
        """Test helper: the content of every file at a revision."""
        with self.lock:
            repo = self.repos[(repo_type, repo_id)]
            commit = self.resolve(repo, rev)
            return {p: (e.data if e.lfs_oid is None else repo.lfs[e.lfs_oid]) for p, e in commit.files.items()}

    def _lfs_patterns(self, files: dict[str, Entry], override: str | None = None) -> list[str]:
        text = override
        if text is None:
            e = files.get(".gitattributes")
            text = e.data.decode("utf-8", "replace") if e is not None and e.data is not None else ""
        pats = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 2 and not line.lstrip().startswith("#") and "filter=lfs" in parts[1:]:
                pats.append(parts[0])
        return pats

    @staticmethod
    def _matches(path: str, patterns: list[str]) -> bool:
        base = path.rsplit("/", 1)[-1]
        for p in patterns:
            p = p.lstrip("/")
            if "/" in p:
                if fnmatch.fnmatchcase(path, p):
                    return True
            elif fnmatch.fnmatchcase(base, p):
                return True
        return False

    # -- HTTP --------------------------------------------------------------------------------
    def _handler(self, server_name: str):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, and 100-continue handled by http.server

            def log_message(self, fmt, *args):  # quiet unless verbose
                if hub.verbose:
                    sys.stderr.write(f"[{server_name}] " + (fmt % args) + "\n")

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _handle(self):
                body = self._body() if self.command in ("POST", "PUT", "PATCH") else b""
                parts = urlsplit(self.path)
                entry = {"server": server_name, "method": self.command, "path": parts.path, "query": parts.query,
                         "auth": self.headers.get("Authorization"), "content_type": self.headers.get("Content-Type"),
                         "expect": self.headers.get("Expect"), "chunked": "Transfer-Encoding" in self.headers,
                         "body_len": len(body), "body": body if len(body) <= 4096 else None}
                with hub.lock:
                    hub.log.append(entry)
                    injected = next((k for k, v in hub.failures.items() if k in parts.path and v), None)
                    status_to_inject = hub.failures[injected].pop(0) if injected else None
                try:
                    if status_to_inject is not None:
                        raise HubError(status_to_inject, "injected failure")
                    with hub.lock:
                        status, headers, payload = hub.route(server_name, self.command, parts.path, parts.query,
                                                             self.headers, body)
                except (ValueError, KeyError, TypeError) as e:  # malformed JSON / NDJSON / fields
                    e = HubError(400, f"Bad request: {type(e).__name__}: {e}")
                    status, headers, payload = e.status, [("X-Error-Message", e.message)], {"error": e.message}
                except HubError as e:
                    status, headers = e.status, list(e.headers)
                    if e.code:
                        headers.append(("X-Error-Code", e.code))
                    headers.append(("X-Error-Message", e.message))
                    payload = e.body if e.body is not None else {"error": e.message}
                entry["status"] = status
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                    if not any(k.lower() == "content-type" for k, _ in headers):
                        headers.append(("Content-Type", "application/json; charset=utf-8"))
                elif isinstance(payload, str):
                    data = payload.encode()
                    headers.append(("Content-Type", "text/plain; charset=utf-8"))
                else:
                    data = payload or b""
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                if not any(k.lower() == "content-length" for k, _ in headers):
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle

        return Handler

    # -- routing -----------------------------------------------------------------------------
    def route(self, server, method, path, query, headers, body):
        q = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        segs = [unquote(s) for s in path.split("/")[1:]]
        if server == "cdn":
            return self.route_cdn(method, segs, q, headers, body)
        if segs[:2] == ["api", "repos"] and segs[2:] == ["create"] and method == "POST":
            return self.api_create_repo(headers, body)
        if segs == ["api", "validate-yaml"] and method == "POST":
            return self.api_validate_yaml(headers, body)
        if segs == ["api", "whoami-v2"] and method == "GET":
            user, role = self.auth(headers, required=True)
            return 200, [], {"type": "user", "id": "u-" + user, "name": user, "fullname": user, "orgs": [],
                             "auth": {"type": "access_token", "accessToken": {"displayName": "fake", "role": role}}}
        if segs == ["api", "complete_multipart"] and method == "POST":
            return self.api_complete_multipart(q, body)
        if len(segs) >= 4 and segs[0] == "api" and segs[1] in ("models", "datasets"):
            repo = self.find_repo(segs[1][:-1], f"{segs[2]}/{segs[3]}", headers)
            rest = segs[4:]
            if not rest and method == "GET":
                return self.api_info(repo, "main")
            op = rest[0] if rest else ""
            if op == "revision" and method == "GET":
                return self.api_info(repo, "/".join(rest[1:]))
            if op == "tree" and method == "GET":
                return self.api_tree(repo, rest[1], "/".join(rest[2:]), q, path)
            if op == "refs" and method == "GET":
                return self.api_refs(repo)
            if op == "auth-check" and method == "GET":  # HfApi.auth_check: read, or .../auth-check/write
                if rest[1:] == ["write"]:
                    self.require_write(repo, headers)
                return 200, [], {}
            if op == "preupload" and method == "POST":
                return self.api_preupload(repo, "/".join(rest[1:]), q, headers, body)
            if op == "commit" and method == "POST":
                return self.api_commit(repo, "/".join(rest[1:]), q, headers, body)
            if op == "branch" and method == "POST":
                return self.api_branch(repo, "/".join(rest[1:]), headers, body)
            raise HubError(404, "no such route")
        # git LFS: /{datasets/}ns/name.git/info/lfs/objects/{batch|verify}
        kind, s = ("dataset", segs[1:]) if segs and segs[0] == "datasets" else ("model", segs)
        if len(s) == 6 and s[1].endswith(".git") and s[2:5] == ["info", "lfs", "objects"] and method == "POST":
            repo = self.find_repo(kind, f"{s[0]}/{s[1][:-4]}", headers)
            if s[5] == "batch":
                return self.lfs_batch(repo, headers, body)
            if s[5] == "verify":
                return self.lfs_verify(repo, headers, body)
        if len(s) >= 5 and s[2] == "resolve" and method in ("GET", "HEAD"):
            repo = self.find_repo(kind, f"{s[0]}/{s[1]}", headers)
            return self.resolve_file(repo, s[3], "/".join(s[4:]), headers)
        raise HubError(404, "no such route")

    # -- auth --------------------------------------------------------------------------------
    def auth(self, headers, required=False):
        """(user, role) for the bearer token; None when no token was sent."""
        value = headers.get("Authorization")
        if not value:
            if required:
                raise HubError(401, "Invalid username or password.")
            return None
        token = value[7:] if value.startswith("Bearer ") else ""
        if token not in self.tokens:
            # The message huggingface_hub singles out (utils/_http.py, hf_raise_for_status).
            raise HubError(401, "Invalid credentials in Authorization header")
        return self.tokens[token]

    def find_repo(self, kind, repo_id, headers) -> Repo:
        who = self.auth(headers)
        repo = self.repos.get((kind, repo_id))
        if repo is None or (repo.private and (who is None or who[0] != repo_id.split("/")[0])):
            raise HubError(404 if who else 401, "Repository not found", "RepoNotFound")
        return repo

    def require_write(self, repo: Repo, headers, allow_read_token=False):
        who = self.auth(headers, required=True)
        owner = repo.id.split("/")[0]
        if who[0] != owner or (who[1] != "write" and not allow_read_token):
            raise HubError(403, f"You don't have the rights to write to {repo.type}s/{repo.id}. "
                                "Pass create_pr=1 to open a pull request instead.")
        return who

    # -- API: repos ----------------------------------------------------------------------------
    def api_create_repo(self, headers, body):
        user, role = self.auth(headers, required=True)
        req = json.loads(body or b"{}")
        name, org = req.get("name"), req.get("organization")
        kind = req.get("type") or "model"
        if kind not in ("model", "dataset"):
            raise HubError(400, f"Fake hub: unsupported repo type {kind!r}")
        ns = org or user
        repo_id = f"{ns}/{name}"
        url = f"{self.endpoint}/{'' if kind == 'model' else kind + 's/'}{repo_id}"
        if (kind, repo_id) in self.repos:
            # huggingface_hub's create_repo(exist_ok=True) reads "url" from this 409 body.
            raise HubError(409, f"You already created this {kind} repo", body={
                "error": f"You already created this {kind} repo", "url": url})
        if ns != user or role != "write":
            raise HubError(403, f'You don\'t have the rights to create a {kind} under the namespace "{ns}"')
        private = req.get("visibility") == "private" or bool(req.get("private"))
        self.create(kind, repo_id, private)
        return 200, [], {"url": url, "name": repo_id, "id": uuid.uuid4().hex[:24]}

    def api_validate_yaml(self, headers, body):
        req = json.loads(body or b"{}")
        content = req.get("content", "")
        errors = []
        warnings_ = []
        if content.startswith("---"):
            lines = content.split("\n")
            try:
                end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
                meta_text = "\n".join(lines[1:end])
                meta = yaml.safe_load(meta_text) if yaml else {}
                if meta is None:
                    warnings_.append({"message": "Empty metadata"})
                elif not isinstance(meta, dict):
                    errors.append({"message": '"value" must be of type object'})
                elif "license" in meta and meta["license"] not in KNOWN_LICENSES:
                    errors.append({"message": f'"license" must be one of [{", ".join(KNOWN_LICENSES)}]'})
            except StopIteration:
                errors.append({"message": "metadata block is not closed with ---"})
            except Exception as e:  # yaml.YAMLError
                errors.append({"message": f"Invalid YAML: {str(e).splitlines()[0]}"})
        if errors:
            if "text/plain" in (headers.get("Accept") or ""):  # RepoCard.validate asks for text
                raise HubError(400, errors[0]["message"], body="\n".join(e["message"] for e in errors))
            raise HubError(400, "Invalid metadata in README.md.", body={"errors": errors, "warnings": warnings_})
        return 200, [], {"errors": [], "warnings": warnings_}

    def api_info(self, repo: Repo, rev: str):
        c = self.resolve(repo, rev)
        return 200, [], {"_id": hashlib.md5(repo.id.encode()).hexdigest()[:24], "id": repo.id,
                         "author": repo.id.split("/")[0], "sha": c.sha, "private": repo.private,
                         "gated": False, "disabled": False, "lastModified": now_iso(), "tags": [],
                         "siblings": [{"rfilename": p} for p in sorted(c.files)]}

    def api_refs(self, repo: Repo):
        def ref(name, full, sha):
            return {"name": name, "ref": full, "targetCommit": sha}
        return 200, [], {
            "branches": [ref(n, f"refs/heads/{n}", s) for n, s in repo.refs.items() if not n.startswith("refs/")],
            "tags": [ref(n, f"refs/tags/{n}", s) for n, s in repo.tags.items()],
            "converts": [],
            "pullRequests": [ref(n, n, s) for n, s in repo.refs.items() if n.startswith("refs/pr/")]}

    def api_tree(self, repo: Repo, rev: str, sub: str, q, raw_path):
        c = self.resolve(repo, rev)
        recursive = q.get("recursive", "false").lower() in ("1", "true")
        sub = sub.strip("/")
        pre = sub + "/" if sub else ""
        if sub and sub not in c.files and not any(p.startswith(pre) for p in c.files):
            raise HubError(404, f"{sub} does not exist on {rev}", "EntryNotFound")
        dirs, files = set(), []
        for p in sorted(c.files):
            if not p.startswith(pre):
                continue
            rel = p[len(pre):]
            comps = rel.split("/")
            for i in range(1, len(comps)):
                if recursive or i == 1:
                    dirs.add(pre + "/".join(comps[:i]))
            if recursive or len(comps) == 1:
                files.append(p)
        entries = [{"type": "directory", "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0, "path": d}
                   for d in sorted(dirs)]
        for p in files:
            e = c.files[p]
            item = {"type": "file", "oid": e.blob_id, "size": e.size, "path": p}
            if e.lfs_oid:
                item["lfs"] = {"oid": e.lfs_oid, "size": e.size,
                               "pointerSize": len(lfs_pointer(e.lfs_oid, e.size))}
            entries.append(item)
        cursor = int(q.get("cursor", "0") or 0)
        page = entries[cursor:cursor + self.page_size]
        headers = []
        if cursor + self.page_size < len(entries):
            nq = {k: v for k, v in q.items() if k != "cursor"}
            nq["cursor"] = str(cursor + self.page_size)
            qs = "&".join(f"{k}={quote(v)}" for k, v in nq.items())
            headers.append(("Link", f'<{self.endpoint}{raw_path}?{qs}>; rel="next"'))
        return 200, headers, page

    def api_branch(self, repo: Repo, branch: str, headers, body):
        self.require_write(repo, headers)
        req = json.loads(body or b"{}")
        if branch in repo.refs:
            raise HubError(409, f"Reference already exists: refs/heads/{branch}")
        if branch.startswith("refs/"):
            raise HubError(400, f"Invalid reference for a branch: {branch}")
        start = self.resolve(repo, req.get("startingPoint") or "main")
        repo.refs[branch] = start.sha
        return 200, [], {}

    # -- API: preupload ------------------------------------------------------------------------
    def api_preupload(self, repo: Repo, rev: str, q, headers, body):
        self.require_write(repo, headers, allow_read_token=q.get("create_pr") == "1")
        c = self.resolve(repo, rev)
        req = json.loads(body or b"{}")
        if not isinstance(req.get("files"), list):
            raise HubError(400, '"files" must be an array')
        lfs_patterns = self._lfs_patterns(c.files, req.get("gitAttributes"))
        gitignore = req.get("gitIgnore")
        if gitignore is None and ".gitignore" in c.files and c.files[".gitignore"].data is not None:
            gitignore = c.files[".gitignore"].data.decode("utf-8", "replace")
        ignore_patterns = [ln.strip() for ln in (gitignore or "").splitlines()
                           if ln.strip() and not ln.startswith("#")]
        out = []
        for f in req["files"]:
            path, size = f["path"], int(f["size"])
            sample = base64.b64decode(f.get("sample", ""))
            lfs = self._matches(path, lfs_patterns) or size > self.regular_max or b"\0" in sample
            existing = c.files.get(path)
            oid = None
            if existing is not None:
                oid = existing.lfs_oid if existing.lfs_oid else git_blob_sha1(existing.data)
            out.append({"path": path, "uploadMode": "lfs" if lfs else "regular",
                        "shouldIgnore": self._matches(path, ignore_patterns), "oid": oid})
        return 200, [], {"files": out, "commitOid": c.sha}

    # -- git LFS batch ---------------------------------------------------------------------------
    def lfs_batch(self, repo: Repo, headers, body):
        req = json.loads(body or b"{}")
        ref = (req.get("ref") or {}).get("name")
        # With create_pr the client sends no ref, and a read token may upload (for a PR).
        self.require_write(repo, headers, allow_read_token=ref is None)
        if req.get("operation") != "upload":
            raise HubError(422, "Fake hub: only the upload operation is implemented")
        if ref is not None:
            self.resolve(repo, ref)
        transfers = req.get("transfers") or ["basic"]
        objects, used = [], "basic"
        for obj in req.get("objects", []):
            oid, size = obj.get("oid"), obj.get("size")
            if not (isinstance(oid, str) and len(oid) == 64 and set(oid) <= HEX40) or not isinstance(size, int) \
                    or size < 0:
                objects.append({"oid": str(oid), "size": size if isinstance(size, int) else 0,
                                "error": {"code": 422, "message": "Invalid oid or size"}})
                continue
            if oid in repo.lfs:  # already there: no actions, nothing to upload
                objects.append({"oid": oid, "size": size})
                continue
            upload_id = uuid.uuid4().hex
            sig = hashlib.sha256(upload_id.encode()).hexdigest()[:16]
            verify = {"href": f"{self.endpoint}/{repo.prefix}{repo.id}.git/info/lfs/objects/verify", "header": {}}
            if "multipart" in transfers and size >= self.multipart_threshold:
                used = "multipart"
                nparts = math.ceil(size / self.chunk_size)
                header = {"chunk_size": str(self.chunk_size)}
                for n in range(1, nparts + 1):
                    key = str(n).zfill(self.part_key_width)
                    header[key] = f"{self.cdn_url}/s3-part/{upload_id}/{n}?sig={sig}"
                self.uploads[upload_id] = {"repo": repo, "oid": oid, "size": size, "nparts": nparts,
                                           "parts": {}, "sig": sig}
                objects.append({"oid": oid, "size": size, "authenticated": True, "actions": {
                    "upload": {"href": f"{self.endpoint}/api/complete_multipart?uploadId={upload_id}&sig={sig}",
                               "header": header, "expires_in": 86400},
                    "verify": verify}})
            else:
                self.uploads[upload_id] = {"repo": repo, "oid": oid, "size": size, "sig": sig}
                objects.append({"oid": oid, "size": size, "authenticated": True, "actions": {
                    "upload": {"href": f"{self.cdn_url}/s3/{upload_id}?sig={sig}", "expires_in": 86400},
                    "verify": verify}})
        return 200, [("Content-Type", "application/vnd.git-lfs+json")], {"transfer": used, "objects": objects}

    def lfs_verify(self, repo: Repo, headers, body):
        self.auth(headers, required=True)
        req = json.loads(body or b"{}")
        data = repo.lfs.get(req.get("oid"))
        if data is None or len(data) != req.get("size"):
            raise HubError(404, "Object not found or size mismatch")
        return 200, [("Content-Type", "application/vnd.git-lfs+json")], {"oid": req["oid"], "size": len(data)}

    def api_complete_multipart(self, q, body):
        up = self.uploads.get(q.get("uploadId", ""))
        if up is None or "parts" not in up or q.get("sig") != up["sig"]:
            raise HubError(403, "Invalid or expired multipart upload signature")
        req = json.loads(body or b"{}")
        parts = req.get("parts") or []
        if req.get("oid") != up["oid"]:
            raise HubError(400, "oid does not match the upload")
        if [p.get("partNumber") for p in parts] != list(range(1, up["nparts"] + 1)):
            raise HubError(400, f"expected parts 1..{up['nparts']} in order")
        data = bytearray()
        for p in parts:
            got = up["parts"].get(p["partNumber"])
            if got is None or got[1] != p.get("etag"):
                raise HubError(400, f"part {p['partNumber']}: missing or ETag mismatch")
            data += got[0]
        if len(data) != up["size"] or hashlib.sha256(data).hexdigest() != up["oid"]:
            raise HubError(400, "assembled object does not match its oid/size")
        up["repo"].lfs[up["oid"]] = bytes(data)
        del self.uploads[q["uploadId"]]
        return 200, [], {"oid": up["oid"], "size": up["size"]}

    # -- cdn / s3 --------------------------------------------------------------------------------
    def route_cdn(self, method, segs, q, headers, body):
        if headers.get("Authorization"):
            raise HubError(400, "token leaked to the CDN / S3")
        if method == "PUT" and len(segs) == 2 and segs[0] == "s3":
            up = self.uploads.get(segs[1])
            if up is None or "parts" in up or q.get("sig") != up["sig"]:
                raise HubError(403, "SignatureDoesNotMatch")
            if len(body) != up["size"] or hashlib.sha256(body).hexdigest() != up["oid"]:
                raise HubError(400, "BadDigest: content does not match the announced oid/size")
            up["repo"].lfs[up["oid"]] = body
            del self.uploads[segs[1]]
            return 200, [("ETag", f'"{hashlib.md5(body).hexdigest()}"')], b""
        if method == "PUT" and len(segs) == 3 and segs[0] == "s3-part":
            up = self.uploads.get(segs[1])
            n = int(segs[2])
            if up is None or "parts" not in up or q.get("sig") != up["sig"] or not 1 <= n <= up["nparts"]:
                raise HubError(403, "SignatureDoesNotMatch")
            expected = min(self.chunk_size, up["size"] - (n - 1) * self.chunk_size)
            if len(body) != expected:
                raise HubError(400, f"part {n}: {len(body)} bytes, expected {expected}")
            etag = f'"{hashlib.md5(body).hexdigest()}"'
            up["parts"][n] = (body, etag)
            return 200, [("ETag", etag)], b""
        if method in ("GET", "HEAD") and len(segs) == 2 and segs[0] == "cdn":
            for repo in self.repos.values():
                if segs[1] in repo.lfs:
                    return self.content(repo.lfs[segs[1]], headers, [("ETag", f'"{segs[1]}"')])
            raise HubError(404, "NoSuchKey")
        raise HubError(404, "no such route")

    @staticmethod
    def content(data: bytes, headers, extra):
        rng = headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                raise HubError(416, "Range Not Satisfiable", headers=[("Content-Range", f"bytes */{len(data)}")])
            return 206, extra + [("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")], data[start:]
        return 200, extra + [("Accept-Ranges", "bytes")], data

    # -- resolve (downloads) ---------------------------------------------------------------------
    def resolve_file(self, repo: Repo, rev: str, path: str, headers):
        c = self.resolve(repo, rev)
        e = c.files.get(path)
        if e is None:
            raise HubError(404, "Entry not found", "EntryNotFound", headers=[("X-Repo-Commit", c.sha)])
        common = [("X-Repo-Commit", c.sha), ("ETag", f'"{e.blob_id}"')]
        if e.lfs_oid:
            return 302, common + [
                ("Location", f"{self.cdn_url}/cdn/{e.lfs_oid}?X-Amz-Signature=fake"),
                ("X-Linked-Etag", f'"{e.lfs_oid}"'), ("X-Linked-Size", str(e.size))], b""
        return self.content(e.data, headers, common + [("Content-Type", "application/octet-stream")])

    # -- commit ----------------------------------------------------------------------------------
    def api_commit(self, repo: Repo, rev: str, q, headers, body):
        create_pr = q.get("create_pr") == "1"
        self.require_write(repo, headers, allow_read_token=create_pr)
        lines = [json.loads(ln) for ln in body.decode("utf-8").splitlines() if ln.strip()]
        if not lines or lines[0].get("key") != "header":
            raise HubError(400, "The first line must be the commit header")
        hdr = lines[0]["value"]
        summary = hdr.get("summary") or ""
        if not summary:
            raise HubError(400, "summary is required")
        if rev.startswith("refs/pr/"):
            if create_pr:
                raise HubError(400, "Cannot create a PR from a PR")
        elif rev not in repo.refs:
            if is_commit_hash(rev) and rev in repo.commits:
                raise HubError(400, "Cannot commit to a commit id: use a branch")
            raise HubError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        head = self.resolve(repo, rev)
        parent = head
        if hdr.get("parentCommit"):
            pc = hdr["parentCommit"]
            match = [s for s in repo.commits if s.startswith(pc)]
            if not match:
                raise HubError(404, f"Invalid parent commit: {pc}", "RevisionNotFound")
            if create_pr:
                parent = repo.commits[match[0]]
            elif match[0] != head.sha:
                raise HubError(412, "A commit has happened since. Please refresh and try again.")
        files = dict(parent.files)
        lfs_added = []
        for op in lines[1:]:
            key, v = op.get("key"), op.get("value") or {}
            path = v.get("path", "")
            if key == "file":
                enc = v.get("encoding", "utf-8")
                data = base64.b64decode(v["content"]) if enc == "base64" else v["content"].encode()
                files[path] = Entry(len(data), data=data)
            elif key == "lfsFile":
                oid = v.get("oid")
                if v.get("algo", "sha256") != "sha256" or oid not in repo.lfs:
                    raise HubError(422, f"LFS object {oid} for {path} has not been uploaded")
                if "size" in v and v["size"] != len(repo.lfs[oid]):
                    raise HubError(422, f"size mismatch for {path}")
                files[path] = Entry(len(repo.lfs[oid]), lfs_oid=oid)
                lfs_added.append(path)
            elif key == "deletedFile":
                if path not in files:
                    raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound")
                del files[path]
            elif key == "deletedFolder":
                pre = path.rstrip("/") + "/"
                gone = [p for p in files if p.startswith(pre)]
                if not gone:
                    raise HubError(404, f"A folder with this name doesn't exist: {path}", "EntryNotFound")
                for p in gone:
                    del files[p]
            else:
                raise HubError(400, f"Unknown operation key: {key}")
        # As the hub does: track new LFS paths that .gitattributes does not cover yet.
        patterns = self._lfs_patterns(files)
        extra = [p for p in lfs_added if not self._matches(p, patterns)]
        if extra:
            ga = files.get(".gitattributes")
            text = (ga.data if ga is not None and ga.data is not None else b"").decode()
            if text and not text.endswith("\n"):
                text += "\n"
            text += "".join(f"{p.replace(' ', '[[:space:]]')} filter=lfs diff=lfs merge=lfs -text\n" for p in extra)
            files[".gitattributes"] = Entry(len(text.encode()), data=text.encode())
        commit = self._new_commit(repo, parent.sha, files, summary, hdr.get("description", ""))
        base = f"{self.endpoint}/{repo.prefix}{repo.id}"
        pr_url = None
        if create_pr:
            n = repo.next_pr
            repo.next_pr += 1
            repo.refs[f"refs/pr/{n}"] = commit.sha
            pr_url = f"{base}/discussions/{n}"
        else:
            repo.refs[rev] = commit.sha
        return 200, [], {"success": True, "commitOid": commit.sha, "commitUrl": f"{base}/commit/{commit.sha}",
                         "commitMessage": summary, "hookOutput": "", "pullRequestUrl": pr_url}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cdn-port", type=int, default=0)
    ap.add_argument("--regular-max", type=int, default=10 * 1024 * 1024)
    ap.add_argument("--multipart-threshold", type=int, default=20 * 1024 * 1024)
    ap.add_argument("--chunk-size", type=int, default=8 * 1024 * 1024)
    ap.add_argument("--token", action="append", default=[], help="TOKEN:USER:ROLE (role write|read)")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    tokens = None
    if a.token:
        tokens = {t.split(":")[0]: (t.split(":")[1], t.split(":")[2]) for t in a.token}
    hub = FakeHub(port=a.port, cdn_port=a.cdn_port, tokens=tokens, regular_max=a.regular_max,
                  multipart_threshold=a.multipart_threshold, chunk_size=a.chunk_size, verbose=a.verbose).start()
    print(f"hub {hub.endpoint}  cdn {hub.cdn_url}  tokens {sorted(hub.tokens)}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        hub.stop()


if __name__ == "__main__":
    main()
