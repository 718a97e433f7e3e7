#!/usr/bin/env python3
"""Checks, against the real huggingface_hub, that fetch-data and huggingface_hub share one cache:

1. huggingface_hub downloads a tiny model from a local fake hub into cache A; fetch-data, offline,
   must find it there (files it downloaded are reused by us).
2. fetch-data downloads the same model into cache B; huggingface_hub, offline, must find it there
   (ours are reused by it).

With --fixture DIR, cache A is also copied to DIR (the Swift tests read it offline).

    python3 tools/check_hf_cache_interop.py .build/debug/fetch-data [--fixture Tests/Fixtures/hub/python-cache]
"""
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.parse

REPO = "test-org/tiny-model"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILES = {
    "config.json": b'{"model_type": "bert", "hidden_size": 8}\n',
    "model.safetensors": bytes(range(256)) * 40,
    "tokenizer.json": '{"note": "blåbær"}\n'.encode(),
    "1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}\n',
    "README.md": b"# tiny\n",
}
LFS = {"model.safetensors"}


def git_oid(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Hub(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, headers, body=b""):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        base = f"/api/models/{REPO}/"
        if path.startswith(base + "revision/"):
            body = json.dumps({"id": REPO, "sha": COMMIT, "siblings": [{"rfilename": f} for f in FILES]}).encode()
            return self.send(200, [("Content-Type", "application/json")], body)
        if path.startswith(base + "tree/"):
            entries = []
            for f, data in FILES.items():
                e = {"type": "file", "path": f, "size": len(data), "oid": git_oid(data)}
                if f in LFS:
                    e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 130}
                entries.append(e)
            return self.send(200, [("Content-Type", "application/json")], json.dumps(entries).encode())
        prefix = f"/{REPO}/resolve/"
        if path.startswith(prefix):
            rev, _, name = path[len(prefix):].partition("/")
            name = urllib.parse.unquote(name)
            if name not in FILES:
                return self.send(404, [("X-Error-Code", "EntryNotFound"), ("X-Repo-Commit", COMMIT)])
            data = FILES[name]
            etag = hashlib.sha256(data).hexdigest() if name in LFS else git_oid(data)
            headers = [("X-Repo-Commit", COMMIT), ("ETag", f'"{etag}"')]
            if name in LFS:
                headers += [("X-Linked-Etag", f'"{etag}"'), ("X-Linked-Size", str(len(data)))]
            return self.send(200, headers, data)
        self.send(404, [])


def main():
    fetch_data = os.path.abspath(sys.argv[1])
    fixture = sys.argv[sys.argv.index("--fixture") + 1] if "--fixture" in sys.argv else None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    work = tempfile.mkdtemp()
    cache_a, cache_b = os.path.join(work, "a"), os.path.join(work, "b")

    env = dict(os.environ, HF_ENDPOINT=endpoint, HF_HUB_DISABLE_TELEMETRY="1", HF_HUB_DISABLE_XET="1")
    py = ("import sys; from huggingface_hub import snapshot_download; "
          f"print(snapshot_download({REPO!r}, cache_dir=sys.argv[1], local_files_only=sys.argv[2] == '1'))")

    # 1. huggingface_hub fills cache A; fetch-data reads it offline.
    subprocess.run([sys.executable, "-c", py, cache_a, "0"], env=env, check=True)
    out = os.path.join(work, "out-a")
    subprocess.run([fetch_data, "model", REPO, "-o", out, "--cache-dir", cache_a, "--offline", "--quiet"], env=env, check=True)
    for f in ["config.json", "model.safetensors", "tokenizer.json", "1_Pooling/config.json"]:
        assert open(os.path.join(out, f), "rb").read() == FILES[f], f
    print("ok: fetch-data reused huggingface_hub's cache offline")

    # 2. fetch-data fills cache B; huggingface_hub reads it offline.
    subprocess.run([fetch_data, "model", REPO, "-o", os.path.join(work, "out-b"), "--cache-dir", cache_b, "--quiet"], env=env, check=True)
    off = dict(env, HF_HUB_OFFLINE="1")
    snap = subprocess.run([sys.executable, "-c", py, cache_b, "1"], env=off, check=True, capture_output=True, text=True).stdout.strip()
    assert os.path.basename(snap) == COMMIT, snap
    for f in ["config.json", "model.safetensors", "tokenizer.json", "1_Pooling/config.json"]:
        assert open(os.path.join(snap, f), "rb").read() == FILES[f], f
    one = subprocess.run([sys.executable, "-c",
                          "import sys; from huggingface_hub import hf_hub_download; "
                          f"print(hf_hub_download({REPO!r}, '1_Pooling/config.json', cache_dir=sys.argv[1]))", cache_b],
                         env=off, check=True, capture_output=True, text=True).stdout.strip()
    assert open(one, "rb").read() == FILES["1_Pooling/config.json"]
    print("ok: huggingface_hub reused fetch-data's cache offline")

    if fixture:
        shutil.rmtree(fixture, ignore_errors=True)
        shutil.copytree(cache_a, fixture, symlinks=True, ignore=shutil.ignore_patterns(".locks"))
        print("fixture written to", fixture)
    server.shutdown()


if __name__ == "__main__":
    main()
