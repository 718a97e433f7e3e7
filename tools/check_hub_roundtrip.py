#!/usr/bin/env python3
"""Round trips between our hub tools and Python's huggingface_hub, through the fake hub of
tools/fake_hub.py (started here on 127.0.0.1; the real hub is not needed, nor reachable):

1. our `upload` sends a model folder; huggingface_hub's `snapshot_download` gets it back:
   every file byte-identical;
2. huggingface_hub's `upload_folder` sends the same folder to another repo; our
   `fetch-data model` gets it back: every file it fetches byte-identical;
3. both repos hold the same tree (paths, LFS or not, git blob ids and LFS sha256s) and the same
   .gitattributes: the two clients made the same upload;
4. `upload` of the folder huggingface_hub uploaded changes nothing (no commit), and after one
   file changes, `upload` sends that file alone (the fake's request log), which
   `snapshot_download` then sees;
5. a private repo made by `upload --private` downloads with the token and not without it.

The fake's thresholds make the weights a multipart LFS upload (1 MiB parts), small .bin files
basic LFS uploads, and the rest regular files, so every transfer of the protocol is used.

Usage (after `swift build -c release`; needs huggingface_hub from pip):
  python3 tools/check_hub_roundtrip.py                       # a generated model folder
  python3 tools/check_hub_roundtrip.py --model models/pypi/all-MiniLM-L6-v2
  python3 tools/check_hub_roundtrip.py --bin .build/release --keep
Prints one line per check and PASSED, or FAILED and exits 1.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from fake_hub import FakeHub  # noqa: E402

MiB = 1024 * 1024
failures = []


def check(name, ok, detail=""):
    print(("  ok    " if ok else "  FAIL  ") + name + (f"  [{detail}]" if detail and not ok else ""), flush=True)
    if not ok:
        failures.append(name)


def files_of(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def make_model_folder(folder: Path) -> None:
    """A sentence-transformers folder: JSON and text files, 2.5 MiB of weights, a small .bin, an
    empty file, a nested module folder, a model card with front matter."""
    (folder / "1_Pooling").mkdir(parents=True)
    seed = hashlib.sha256(b"weights").digest()
    weights = b"".join(hashlib.sha256(seed + i.to_bytes(4, "little")).digest() for i in range(int(2.5 * MiB) // 32))
    files = {
        "config.json": json.dumps({"architectures": ["BertModel"], "model_type": "bert", "hidden_size": 8}, indent=2),
        "model.safetensors": weights,
        "training_args.bin": bytes(range(256)) * 8,
        "tokenizer.json": json.dumps({"version": "1.0", "note": "blåbærsyltetøy"}),
        "tokenizer_config.json": "{}",
        "special_tokens_map.json": "{}",
        "vocab.txt": "[PAD]\n[UNK]\n[CLS]\n[SEP]\nø\n",
        "modules.json": json.dumps([{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                                    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]),
        "sentence_bert_config.json": json.dumps({"max_seq_length": 128, "do_lower_case": False}),
        "1_Pooling/config.json": json.dumps({"word_embedding_dimension": 8, "pooling_mode_mean_tokens": True}),
        "README.md": "---\nlibrary_name: sentence-transformers\nlicense: apache-2.0\nlanguage:\n- \"no\"\n---\n# Tiny\n",
        "empty.txt": b"",
    }
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def run(cmd, env, expect_failure=False):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0 and not expect_failure:
        print(f"$ {' '.join(map(str, cmd))}\n{r.stdout}{r.stderr}", file=sys.stderr)
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=str(HERE.parent / ".build" / "release"), help="where upload and fetch-data are")
    ap.add_argument("--model", help="a model folder to send (default: one generated here)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    a = ap.parse_args()
    upload, fetch = Path(a.bin) / "upload", Path(a.bin) / "fetch-data"
    for tool in (upload, fetch):
        if not os.access(tool, os.X_OK):
            print(f"error: {tool} not found: build the tools (swift build -c release) or pass --bin", file=sys.stderr)
            return 2

    hub = FakeHub(regular_max=10 * MiB, multipart_threshold=2 * MiB, chunk_size=1 * MiB, page_size=5).start()
    tmp = Path(tempfile.mkdtemp(prefix="hub-roundtrip-"))
    # huggingface_hub reads these when imported; our tools read the same variables.
    os.environ.update({
        "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(tmp / "hf-home"), "HF_TOKEN": "hf_write", "HF_ENDPOINT": hub.endpoint,
        "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    })
    os.environ.pop("HF_HUB_OFFLINE", None)
    import huggingface_hub
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.utils._runtime import is_xet_available

    env = dict(os.environ)
    print(f"fake hub {hub.endpoint}, storage {hub.cdn_url}; huggingface_hub {huggingface_hub.__version__} "
          f"(Xet {'on' if is_xet_available() else 'off'}); tools from {a.bin}")
    try:
        if a.model:
            folder = Path(a.model).resolve()
        else:
            folder = tmp / "model"
            make_model_folder(folder)
        local = files_of(folder)
        print(f"folder {folder}: {len(local)} files, {sum(map(len, local.values())) / MiB:.1f} MiB")
        api = HfApi(endpoint=hub.endpoint)

        print("1. upload (ours) -> snapshot_download (huggingface_hub)")
        r = run([upload, "alice/ours", folder, "--quiet"], env)
        check("upload exits 0 and prints the commit URL", r.returncode == 0 and "/alice/ours/commit/" in r.stdout, r.stdout)
        parts = [e for e in hub.log if e["path"].startswith("/s3-part/")]
        basic = [e for e in hub.log if e["path"].startswith("/s3/")]
        check("files of 2 MiB and more went up in 1 MiB parts (multipart transfer)",
              bool(parts) == any(len(v) >= 2 * MiB for v in local.values()))
        print(f"        {len(parts)} part PUTs, {len(basic)} single PUTs (basic transfer)")
        got = files_of(Path(snapshot_download("alice/ours", cache_dir=str(tmp / "py-cache"))))
        check("snapshot_download gives the folder's files, byte-identical",
              all(got.get(k) == v for k, v in local.items()), sorted(set(local) ^ (set(got) - {".gitattributes"})))
        check("and nothing else but .gitattributes", set(got) - set(local) <= {".gitattributes"}, sorted(set(got) - set(local)))

        print("2. upload_folder (huggingface_hub) -> fetch-data model (ours)")
        api.create_repo("alice/theirs")
        api.upload_folder(repo_id="alice/theirs", folder_path=folder, commit_message="Upload folder using huggingface_hub")
        out = tmp / "fetched"
        r = run([fetch, "model", "alice/theirs", "-o", out, "--quiet", "--cache-dir", tmp / "our-cache"], env)
        check("fetch-data model exits 0", r.returncode == 0)
        info = json.loads((out / "fetch-info.json").read_text()) if (out / "fetch-info.json").exists() else {"files": []}
        fetched = [f["path"] for f in info["files"]]
        check("fetch-data fetched the model's files", {"config.json", "modules.json"} <= set(fetched)
              and any(f in fetched for f in ("model.safetensors", "pytorch_model.bin")), fetched)
        check("each one byte-identical", all((out / f).read_bytes() == local.get(f) for f in fetched),
              [f for f in fetched if (out / f).read_bytes() != local.get(f)])

        print("3. both clients made the same repo")
        def tree(repo):
            return {f.path: (f.blob_id, f.lfs.sha256 if f.lfs else None, f.size)
                    for f in api.list_repo_tree(repo, recursive=True) if hasattr(f, "blob_id")}
        ours, theirs = tree("alice/ours"), tree("alice/theirs")
        check("same paths, blob ids, LFS sha256s and sizes", ours == theirs,
              sorted(p for p in set(ours) | set(theirs) if ours.get(p) != theirs.get(p)))
        lfs = sorted(p for p, t in ours.items() if t[1])
        print(f"        LFS: {', '.join(lfs) or 'none'}; regular: {len(ours) - len(lfs)} files")

        print("4. unchanged files are not sent again")
        mark = len(hub.log)
        head = api.repo_info("alice/theirs").sha
        r = run([upload, "alice/theirs", folder, "--quiet"], env)
        sent = [e for e in hub.log[mark:] if e["method"] in ("PUT",) or "/commit/" in e["path"]]
        check("upload of the folder huggingface_hub uploaded: no commit, nothing sent",
              r.returncode == 0 and not sent and api.repo_info("alice/theirs").sha == head and head in r.stdout, sent)
        changed = tmp / "changed"
        shutil.copytree(folder, changed)
        name = "config.json" if (changed / "config.json").exists() else sorted(local)[0]
        (changed / name).write_bytes((changed / name).read_bytes() + b"\n")
        mark = len(hub.log)
        r = run([upload, "alice/theirs", changed, "--quiet"], env)
        commits = [e for e in hub.log[mark:] if "/commit/" in e["path"]]
        lines = [json.loads(x) for x in commits[0]["body"].decode().splitlines()] if commits and commits[0]["body"] else []
        check(f"after {name} changed, the commit holds it alone, and no LFS bytes are sent",
              r.returncode == 0 and [op["value"]["path"] for op in lines[1:]] == [name]
              and not [e for e in hub.log[mark:] if e["method"] == "PUT"], [op.get("value", {}).get("path") for op in lines[1:]])
        again = files_of(Path(snapshot_download("alice/theirs", cache_dir=str(tmp / "py-cache"))))
        check("snapshot_download sees the change", again.get(name) == (changed / name).read_bytes())

        print("5. a private repo needs the token")
        r = run([upload, "alice/private", folder, "--private", "--quiet"], env)
        check("upload --private makes a private repo", r.returncode == 0 and api.repo_info("alice/private").private)
        anon = dict(env, HF_TOKEN="", HF_HOME=str(tmp / "anon-home"))
        r = run([fetch, "model", "alice/private", "-o", tmp / "anon", "--quiet", "--cache-dir", tmp / "anon-cache"], anon,
                expect_failure=True)
        check("fetch-data without a token: refused, with a clear error", r.returncode == 1 and "HTTP 401" in r.stderr, r.stderr.strip())
        try:
            HfApi(endpoint=hub.endpoint, token=False).model_info("alice/private")
            check("huggingface_hub without a token: refused", False)
        except huggingface_hub.errors.RepositoryNotFoundError:
            check("huggingface_hub without a token: refused", True)
        got = files_of(Path(snapshot_download("alice/private", cache_dir=str(tmp / "py-cache"))))
        check("with the token: byte-identical", all(got.get(k) == v for k, v in local.items()))
    finally:
        hub.stop()
        if a.keep:
            print(f"scratch folder kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("FAILED: " + "; ".join(failures) if failures else "PASSED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
