#!/usr/bin/env python3
"""Small reference files for the format readers, written by the reference implementations:

- rows.jsonl            the JSONL rows (UTF-8, escapes, Norwegian letters), the expected content
- rows.jsonl.gz         the same bytes as two concatenated gzip members (Python's gzip module)
- rows.jsonl.zst        the same bytes as two concatenated zstd frames (the zstd command-line tool)
- reference.safetensors tensors of every dtype we read, written by the `safetensors` package (torch)
- reference.json        the values those tensors hold, as Python reads them back

Run from anywhere:  python3 tools/make_formats_fixtures.py   (needs torch, safetensors, zstd)
"""
import gzip
import json
import os
import subprocess

import torch
from safetensors.torch import load_file, save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests/Fixtures/formats")


def jsonl_fixtures():
    rows = [
        {"anchor": "Hunden løper i parken.", "positive": "Hunden spring i parken.", "negative": "Katten søv."},
        {"anchor": "Tab\there, \"quotes\", backslash \\ and a newline\nin one", "positive": "ÆØÅ æøå", "negative": "😀 emoji"},
        {"anchor": "Third row", "positive": "Tredje rad", "negative": "Fjerde rad", "extra": [1, 2.5, None, True]},
    ]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    data = text.encode("utf-8")
    with open(os.path.join(OUT, "rows.jsonl"), "wb") as f:
        f.write(data)
    half = len(data) // 2
    with open(os.path.join(OUT, "rows.jsonl.gz"), "wb") as f:
        f.write(gzip.compress(data[:half], mtime=0))
        f.write(gzip.compress(data[half:], mtime=0))
    frames = []
    for part in (data[:half], data[half:]):
        frames.append(subprocess.run(["zstd", "-q", "-c", "-19", "--no-check"], input=part, check=True,
                                     capture_output=True).stdout)
    with open(os.path.join(OUT, "rows.jsonl.zst"), "wb") as f:
        f.write(b"".join(frames))


def safetensors_fixture():
    g = torch.Generator().manual_seed(0)
    tensors = {
        "f32": torch.randn(3, 4, generator=g, dtype=torch.float32),
        "f16": torch.randn(5, generator=g).to(torch.float16),
        "bf16": torch.randn(2, 3, generator=g).to(torch.bfloat16),
        "i32": torch.tensor([[0, -1, 2147483647], [-2147483648, 7, 8]], dtype=torch.int32),
        "i64": torch.tensor([0, -1, 2**40, -(2**40)], dtype=torch.int64),
        "scalar": torch.tensor(1.5, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    metadata = {"format": "pt", "note": "made by tools/make_formats_fixtures.py"}
    path = os.path.join(OUT, "reference.safetensors")
    save_file(tensors, path, metadata=metadata)
    back = load_file(path)
    ref = {"metadata": metadata, "tensors": {}}
    for name, t in back.items():
        ref["tensors"][name] = {
            "dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
                      torch.int32: "I32", torch.int64: "I64"}[t.dtype],
            "shape": list(t.shape),
            "values": (t.float() if t.is_floating_point() else t).flatten().tolist(),
        }
    with open(os.path.join(OUT, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    jsonl_fixtures()
    safetensors_fixture()
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
