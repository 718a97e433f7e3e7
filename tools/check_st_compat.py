#!/usr/bin/env python3
"""Checks that a model folder written by our Swift `train` is a sentence-transformers model, and
that our `embed` gives the same embeddings as sentence-transformers itself (issue 5).

1. Files: modules.json, sentence_bert_config.json, config_sentence_transformers.json, each module's
   config (1_Pooling/config.json), config.json (and the .py files its auto_map names),
   model.safetensors (valid header, {"format":"pt"} metadata), tokenizer files, README.md.
2. Load: SentenceTransformer(MODEL_DIR) (trust_remote_code=True when config.json has an auto_map),
   capturing Python warnings, WARNING+ log records of transformers / sentence_transformers /
   huggingface_hub / torch, and anything else written to stderr that is not a progress bar.
   Any warning is a failure.
3. Embeddings: encodes real Norwegian sentences (default: the first 150 and the last 150 lines of
   ../shared/data/ud-norwegian-dev-sentences.txt.zst, i.e. Bokmål and Nynorsk), runs
   `embed --model MODEL_DIR` on the same sentences (one text a line on stdin, one JSON line
   {"embedding":[...]} a line on stdout, in order) and requires cosine >= 0.99999 for every sentence.

Exits 0 when everything passes, 1 on any failure, 2 on bad usage.

Usage:
  python3 tools/check_st_compat.py models/minilm-nb-nn --embed .build/release/embed
  python3 tools/check_st_compat.py /path/to/all-MiniLM-L6-v2 --reference-only   # no Swift: checks 1-2
"""
import argparse
import contextlib
import io
import json
import logging
import os
import re
import struct
import subprocess
import sys
import time
import warnings

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
DEFAULT_SENTENCES = os.path.join(SHARED, "data", "ud-norwegian-dev-sentences.txt.zst")
WATCHED_LOGGERS = ["transformers", "sentence_transformers", "huggingface_hub", "torch", "safetensors", "tokenizers"]
# tqdm bars ("Loading weights: 100%|███| 103/103 [...]") are progress, not warnings.
PROGRESS_RE = re.compile(r"^[^\n]*\d+%\|.*\|\s*\d+/\d+\s*\[[^\]]*\]\s*$")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
SAFETENSORS_DTYPES = {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"}


class Report:
    """Collects failures and notes; prints as it goes so the output reads as a log."""

    def __init__(self):
        self.failures = []

    def ok(self, msg):
        print(f"  ok    {msg}")

    def note(self, msg):
        print(f"  note  {msg}")

    def fail(self, msg):
        self.failures.append(msg)
        print(f"  FAIL  {msg}")


# ---------------------------------------------------------------------------------------------
# 1. Files


def read_json(path, rep):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        rep.fail(f"{os.path.basename(path)}: missing")
    except (ValueError, UnicodeDecodeError) as e:
        rep.fail(f"{path}: not valid JSON: {e}")
    return None


def safetensors_header(path):
    """The parsed JSON header of a safetensors file, checked against the file's size."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise ValueError("shorter than 8 bytes")
        n = struct.unpack("<Q", raw)[0]
        if n > size - 8 or n > 100 << 20:
            raise ValueError(f"header length {n} exceeds the file ({size} bytes)")
        header = json.loads(f.read(n).decode("utf-8"))
    data_len = size - 8 - n
    end = 0
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t.get("dtype") not in SAFETENSORS_DTYPES:
            raise ValueError(f"{name}: unknown dtype {t.get('dtype')!r}")
        b, e = t["data_offsets"]
        if not (0 <= b <= e <= data_len):
            raise ValueError(f"{name}: data_offsets {b}..{e} outside the data ({data_len} bytes)")
        end = max(end, e)
    if end != data_len:
        raise ValueError(f"data section is {data_len} bytes but tensors end at {end}")
    return header


def check_files(model_dir, rep):
    """Checks the folder's layout. Returns config.json (or None)."""
    print(f"files in {model_dir}:")
    modules = read_json(os.path.join(model_dir, "modules.json"), rep)
    if isinstance(modules, list):
        for m in modules:
            path, typ = m.get("path"), m.get("type", "")
            if path is None or not typ:
                rep.fail(f"modules.json: entry {m} lacks path or type")
                continue
            if typ.endswith("Pooling"):
                cfg = read_json(os.path.join(model_dir, path, "config.json"), rep)
                if cfg is not None:
                    rep.ok(f"{path}/config.json: " + ", ".join(f"{k}={v}" for k, v in cfg.items() if v not in (False, None)))
            elif typ.endswith("Transformer") and path != "":
                rep.note(f"modules.json: Transformer at {path!r} (expected the folder root)")
        rep.ok("modules.json: " + ", ".join(m.get("type", "?").rsplit(".", 1)[-1] for m in modules))
    elif modules is not None:
        rep.fail("modules.json: not a list")
    sbc = read_json(os.path.join(model_dir, "sentence_bert_config.json"), rep)
    if sbc is not None:
        rep.ok(f"sentence_bert_config.json: {json.dumps(sbc)}")
    cst = read_json(os.path.join(model_dir, "config_sentence_transformers.json"), rep)
    if cst is not None:
        rep.ok(f"config_sentence_transformers.json: similarity_fn_name={cst.get('similarity_fn_name')}, "
               f"prompts={cst.get('prompts')}")
    config = read_json(os.path.join(model_dir, "config.json"), rep)
    if config is not None:
        rep.ok(f"config.json: model_type={config.get('model_type')}, architectures={config.get('architectures')}")
        for cls, ref in (config.get("auto_map") or {}).items():
            ref = ref[0] if isinstance(ref, list) else ref
            if not isinstance(ref, str) or "--" in ref:
                rep.note(f"config.json auto_map {cls} = {ref!r} (refers to another repo)")
                continue
            py = ref.rsplit(".", 1)[0] + ".py"
            if os.path.isfile(os.path.join(model_dir, py)):
                rep.ok(f"auto_map {cls} -> {py} present")
            else:
                rep.fail(f"auto_map {cls} names {ref} but {py} is missing")

    st_path = os.path.join(model_dir, "model.safetensors")
    if not os.path.isfile(st_path):
        rep.fail("model.safetensors: missing" + (" (has pytorch_model.bin instead)"
                                                 if os.path.isfile(os.path.join(model_dir, "pytorch_model.bin")) else ""))
    else:
        try:
            h = safetensors_header(st_path)
            meta = h.get("__metadata__")
            names = [k for k in h if k != "__metadata__"]
            dtypes = sorted({h[k]["dtype"] for k in names})
            if not meta or meta.get("format") != "pt":
                rep.fail(f"model.safetensors: metadata {meta!r}, expected {{'format': 'pt'}}")
            else:
                rep.ok(f"model.safetensors: {len(names)} tensors, dtypes {dtypes}, metadata {meta}")
        except (ValueError, KeyError, TypeError, struct.error) as e:
            rep.fail(f"model.safetensors: invalid: {e}")

    if os.path.isfile(os.path.join(model_dir, "tokenizer.json")):
        rep.ok("tokenizer.json present")
    else:
        rep.fail("tokenizer.json: missing (fast tokenizer)")
    tc = read_json(os.path.join(model_dir, "tokenizer_config.json"), rep)
    if tc is not None:
        rep.ok(f"tokenizer_config.json: tokenizer_class={tc.get('tokenizer_class')}, "
               f"model_max_length={tc.get('model_max_length')}")
    extra = [f for f in ("vocab.txt", "special_tokens_map.json") if os.path.isfile(os.path.join(model_dir, f))]
    if extra:
        rep.note("also: " + ", ".join(extra))
    readme = os.path.join(model_dir, "README.md")
    if not os.path.isfile(readme):
        rep.fail("README.md: missing (model card)")
    else:
        text = open(readme, encoding="utf-8", errors="replace").read()
        if not text.strip():
            rep.fail("README.md: empty")
        else:
            front = text.startswith("---\n")
            rep.ok(f"README.md: {len(text)} characters, " + ("YAML front matter" if front else "no YAML front matter"))
    return config


# ---------------------------------------------------------------------------------------------
# 2. Loading without warnings


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@contextlib.contextmanager
def capture_warnings():
    """Collects Python warnings, WARNING+ records of the watched loggers, and stray stderr text."""
    got = {"warnings": [], "logs": [], "stderr": ""}
    handler = _Collect()
    saved = []
    for name in WATCHED_LOGGERS:
        lg = logging.getLogger(name)
        saved.append((lg, lg.level))
        if lg.level == logging.NOTSET or lg.level > logging.WARNING:
            lg.setLevel(logging.WARNING)
        lg.addHandler(handler)
    err = io.StringIO()
    with warnings.catch_warnings(record=True) as ws:
        warnings.simplefilter("always")
        try:
            with contextlib.redirect_stderr(err):
                yield got
        finally:
            for lg, level in saved:
                lg.removeHandler(handler)
                lg.setLevel(level)
            got["warnings"] = [f"{w.category.__name__}: {w.message} ({os.path.basename(w.filename)}:{w.lineno})"
                               for w in ws]
            # A record reaches the handler once per watched logger it passes through; keep one.
            seen, logs = set(), []
            for r in handler.records:
                if id(r) not in seen:
                    seen.add(id(r))
                    logs.append(ANSI_RE.sub("", f"{r.levelname} {r.name}: {r.getMessage()}"))
            got["logs"] = logs
            lines = []
            for chunk in ANSI_RE.sub("", err.getvalue()).replace("\r", "\n").split("\n"):
                if chunk.strip() and not PROGRESS_RE.match(chunk.strip()):
                    lines.append(chunk)
            got["stderr"] = "\n".join(lines)


def load_model(model_dir, rep, trust_remote_code=None, config=None):
    """SentenceTransformer(model_dir) with every warning captured; None when loading failed."""
    from sentence_transformers import SentenceTransformer

    if trust_remote_code is None:
        trust_remote_code = bool(config and config.get("auto_map"))
    print(f"loading with SentenceTransformer({model_dir!r}, trust_remote_code={trust_remote_code}):")
    model = None
    with capture_warnings() as got:
        try:
            model = SentenceTransformer(model_dir, device="cpu", trust_remote_code=trust_remote_code)
        except Exception as e:  # noqa: BLE001 - any load error is the finding
            rep.fail(f"load raised {type(e).__name__}: {e}")
    for w in got["warnings"]:
        rep.fail(f"warning: {w}")
    for rec in got["logs"]:
        rep.fail(f"log: {rec}")
    if got["stderr"]:
        rep.fail("stderr during load:\n" + "\n".join("        " + l for l in got["stderr"].splitlines()))
    if model is not None:
        if not (got["warnings"] or got["logs"] or got["stderr"]):
            rep.ok("loaded with no warning")
        rep.ok(f"modules: {describe(model)}")
    return model


def describe(model):
    parts = []
    for m in model:
        name = type(m).__name__
        if name == "Transformer":
            parts.append(f"Transformer({type(m.auto_model).__name__}, max_seq_length={model.max_seq_length})")
        elif name == "Pooling":
            cfg = m.get_config_dict()
            parts.append(f"Pooling({cfg.get('pooling_mode') or cfg})")
        else:
            parts.append(name)
    return " -> ".join(parts)


# ---------------------------------------------------------------------------------------------
# 3. Embeddings


def read_sentences(path, head, tail):
    """Non-empty lines (split on newline only) of a text file, plain or zstd/gzip; the first `head`
    and last `tail` of them (all when both are 0)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    elif data[:2] == b"\x1f\x8b":
        import gzip

        data = gzip.decompress(data)
    lines = [l.rstrip("\r") for l in data.decode("utf-8").split("\n")]
    lines = [l for l in lines if l.strip()]
    if head == 0 and tail == 0:
        return lines
    if head + tail >= len(lines):
        return lines
    return lines[:head] + (lines[-tail:] if tail else [])


def run_embed(binary, model_dir, sentences, rep, timeout):
    """Our `embed` on the sentences; an (n, dim) array, or None after reporting the failure."""
    import numpy as np

    cmd = [binary, "--model", model_dir]
    print(f"running {' '.join(cmd)} on {len(sentences)} sentences:")
    t0 = time.time()
    try:
        p = subprocess.run(cmd, input="\n".join(sentences) + "\n", capture_output=True, text=True,
                           encoding="utf-8", timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        rep.fail(f"embed: {e}")
        return None
    secs = time.time() - t0
    if p.returncode != 0:
        rep.fail(f"embed exited {p.returncode}: {p.stderr.strip()[-2000:]}")
        return None
    out = [l for l in p.stdout.split("\n") if l.strip()]
    if len(out) != len(sentences):
        rep.fail(f"embed wrote {len(out)} lines for {len(sentences)} inputs")
        return None
    vecs = []
    for i, line in enumerate(out, 1):
        try:
            v = json.loads(line)["embedding"]
            if not isinstance(v, list) or not v:
                raise ValueError("not a non-empty list")
        except (ValueError, KeyError, TypeError) as e:
            rep.fail(f"embed output line {i}: {e}: {line[:120]}")
            return None
        vecs.append(v)
    dims = {len(v) for v in vecs}
    if len(dims) != 1:
        rep.fail(f"embed: embeddings of differing sizes {sorted(dims)}")
        return None
    rep.ok(f"embed: {len(vecs)} embeddings of dimension {dims.pop()} in {secs:.1f} s")
    return np.asarray(vecs, dtype=np.float64)


def compare(ref, ours, sentences, rep, min_cosine):
    import numpy as np

    if ref.shape != ours.shape:
        rep.fail(f"shapes differ: sentence-transformers {ref.shape}, embed {ours.shape}")
        return None
    nr = np.linalg.norm(ref, axis=1)
    no = np.linalg.norm(ours, axis=1)
    cos = (ref * ours).sum(axis=1) / np.maximum(nr * no, 1e-30)
    diff = np.abs(ref - ours)
    stats = {"n": int(len(cos)), "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean()),
             "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
             "ref_norm_range": [float(nr.min()), float(nr.max())], "embed_norm_range": [float(no.min()), float(no.max())]}
    print(f"  min cosine {stats['min_cosine']:.9f}, mean cosine {stats['mean_cosine']:.9f}, "
          f"max |diff| {stats['max_abs_diff']:.3g}, mean |diff| {stats['mean_abs_diff']:.3g}")
    print(f"  norms: sentence-transformers {stats['ref_norm_range'][0]:.6f}..{stats['ref_norm_range'][1]:.6f}, "
          f"embed {stats['embed_norm_range'][0]:.6f}..{stats['embed_norm_range'][1]:.6f}")
    bad = np.nonzero(~(cos >= min_cosine))[0]
    if len(bad):
        for i in bad[:10]:
            rep.fail(f"sentence {i + 1}: cosine {cos[i]:.9f} < {min_cosine}: {sentences[i][:80]!r}")
        if len(bad) > 10:
            rep.fail(f"... and {len(bad) - 10} more sentences below {min_cosine}")
    else:
        rep.ok(f"all {len(cos)} cosines >= {min_cosine}")
    if not np.allclose(nr, no, rtol=1e-4, atol=1e-6):
        rep.note("vector norms differ (one side normalises, or the vectors differ); the cosine check ignores norms")
    return stats


def encode_reference(model, sentences, batch_size):
    import numpy as np

    emb = model.encode(sentences, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    return np.asarray(emb, dtype=np.float64)


def run_check(model_dir, embed=None, sentences_path=DEFAULT_SENTENCES, head=150, tail=150, reference_only=False,
              min_cosine=0.99999, batch_size=32, trust_remote_code=None, timeout=1800):
    """The whole check; returns (failures, stats). Used by check_norbert_remote_code.py too."""
    import numpy as np

    rep = Report()
    config = check_files(model_dir, rep)
    model = load_model(model_dir, rep, trust_remote_code, config)
    stats = None
    if model is not None:
        sentences = read_sentences(sentences_path, head, tail)
        print(f"encoding {len(sentences)} sentences from {sentences_path} with sentence-transformers:")
        t0 = time.time()
        with capture_warnings() as got:
            ref = encode_reference(model, sentences, batch_size)
        for w in got["warnings"] + got["logs"] + ([got["stderr"]] if got["stderr"] else []):
            rep.note(f"while encoding (not a load warning): {w}")
        finite = bool(np.isfinite(ref).all())
        rep.ok(f"{ref.shape[0]} embeddings of dimension {ref.shape[1]} in {time.time() - t0:.1f} s, all finite: {finite}")
        if not finite:
            rep.fail("sentence-transformers produced non-finite embeddings")
        if reference_only:
            rep.note("--reference-only: embed not run, embeddings not compared")
        else:
            ours = run_embed(embed, model_dir, sentences, rep, timeout)
            if ours is not None:
                stats = compare(ref, ours, sentences, rep, min_cosine)
    return rep.failures, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("--embed", help="our embed binary (e.g. .build/release/embed)")
    ap.add_argument("--sentences", default=DEFAULT_SENTENCES, help="one text a line; .zst/.gz accepted")
    ap.add_argument("--head", type=int, default=150, help="take the first N lines (with --tail; 0 and 0: all)")
    ap.add_argument("--tail", type=int, default=150, help="and the last N lines")
    ap.add_argument("--reference-only", action="store_true", help="check files and the Python load only")
    ap.add_argument("--min-cosine", type=float, default=0.99999)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--trust-remote-code", choices=["auto", "yes", "no"], default="auto",
                    help="auto: yes when config.json has an auto_map")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="also write the figures to this file")
    a = ap.parse_args()
    if not a.reference_only and not a.embed:
        ap.error("give --embed PATH (or --reference-only to skip the comparison)")
    if not os.path.isdir(a.model_dir):
        ap.error(f"{a.model_dir}: not a directory")

    import torch

    torch.set_num_threads(a.threads)
    trc = {"auto": None, "yes": True, "no": False}[a.trust_remote_code]
    failures, stats = run_check(a.model_dir, a.embed, a.sentences, a.head, a.tail, a.reference_only,
                                a.min_cosine, a.batch_size, trc)
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"model_dir": a.model_dir, "failures": failures, "stats": stats}, f, indent=1)
    print()
    if failures:
        print(f"FAILED: {len(failures)} problem(s)")
        sys.exit(1)
    print("PASSED" + (" (reference only)" if a.reference_only else ""))


if __name__ == "__main__":
    main()
