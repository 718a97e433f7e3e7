#!/usr/bin/env python3
"""The sentence-transformers side of the fine-tuning comparison (issue 5's "within 1 point").

Fine-tunes all-MiniLM-L6-v2 with SentenceTransformerTrainer on the first 2,000 rows of
../shared/data/nb-nn-train-hard.jsonl.zst (MultipleNegativesRankingLoss, batch 16, lr 2e-5,
warmup ratio 0.1, linear schedule, weight decay 0.01, grad norm 1.0, 1 epoch, NO_DUPLICATES
batches, CPU), once per seed, and evaluates with TripletEvaluator (cosine, dot, euclidean,
manhattan) on ALL of ../shared/data/nb-nn-test-hard.jsonl.zst before training and after each run.
Several seeds, because "within 1 point" only means something next to the seed-to-seed spread.

Writes docs/st-baseline.json (every figure, per-step training logs, versions) and
docs/st-baseline.md (the table). Results are written after every run, and a rerun with the same
settings skips the seeds already in the JSON (so an interrupted sweep can be continued).

Needs: sentence-transformers, transformers, torch, datasets, accelerate, zstandard (the
`sentence-transformers[train]` extra). Not part of `make test`.

Usage:
  python3 tools/st_baseline.py --model /path/to/all-MiniLM-L6-v2 [--seeds 42,1,2,3] [--threads 2]
"""
import argparse
import io
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time

import zstandard

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))
SIM_FNS = ["cosine", "dot", "euclidean", "manhattan"]


def read_triplets(path, limit=None):
    """Rows of a zstd JSONL triplet file, in file order (first `limit` rows if given)."""
    rows = []
    with open(path, "rb") as f:
        text = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(f), encoding="utf-8")
        for n, line in enumerate(text, 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            for col in ("anchor", "positive", "negative"):
                if not isinstance(obj.get(col), str):
                    sys.exit(f"{path}:{n}: missing or non-string column {col!r}")
            rows.append(obj)
            if limit is not None and len(rows) >= limit:
                break
    return rows


def make_evaluator_class():
    """TripletEvaluator that embeds each distinct text once per evaluation.

    The hard negatives of nb-nn-test-hard are other rows' positives (30,000 texts, 19,746 distinct),
    so this saves a third of the encoding on a slow machine. The accuracy computation is
    TripletEvaluator's own; only `embed_inputs` is cached. Sound only for a model without
    query/document prompts (then encode_query, encode_document and encode embed a text the same way),
    which `evaluate` checks.
    """
    import numpy as np
    from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator

    class DedupTripletEvaluator(TripletEvaluator):
        cache = {}

        def __call__(self, model, *args, **kwargs):
            self.cache = {}
            try:
                return super().__call__(model, *args, **kwargs)
            finally:
                self.cache = {}

        def embed_inputs(self, model, sentences, encode_fn_name=None, **kwargs):
            todo = list(dict.fromkeys(s for s in sentences if s not in self.cache))
            if todo:
                embs = super().embed_inputs(model, todo, encode_fn_name=encode_fn_name, **kwargs)
                self.cache.update(zip(todo, embs))
            return np.stack([self.cache[s] for s in sentences])

    return DedupTripletEvaluator


def evaluate(model, test, batch_size):
    if model.prompts and any(model.prompts.values()):
        sys.exit(f"the model has prompts {model.prompts}; the deduplicating evaluator assumes none")
    ev = make_evaluator_class()(
        anchors=[r["anchor"] for r in test],
        positives=[r["positive"] for r in test],
        negatives=[r["negative"] for r in test],
        similarity_fn_names=SIM_FNS,
        name="nb-nn-test-hard",
        batch_size=batch_size,
        write_csv=False,
    )
    t0 = time.time()
    m = ev(model)
    secs = time.time() - t0
    out = {fn: m[f"nb-nn-test-hard_{fn}_accuracy"] for fn in SIM_FNS}
    return out, secs


def load_model(path, max_seq_length):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device="cpu")
    if max_seq_length is not None:
        model.max_seq_length = max_seq_length
    return model


def train_one(args, train_rows, seed, workdir, epochs=1):
    """Fine-tunes a fresh copy of args.model on train_rows (dicts with anchor/positive/negative) the
    way `train` does; args needs model, max_seq_length, batch_size, lr and warmup_ratio.
    tools/check_demo_data.py uses it too."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.training_args import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from transformers import TrainerCallback, set_seed

    set_seed(seed)
    model = load_model(args.model, args.max_seq_length)
    ds = Dataset.from_dict({c: [r[c] for r in train_rows] for c in ("anchor", "positive", "negative")})
    loss = MultipleNegativesRankingLoss(model)
    targs = SentenceTransformerTrainingArguments(
        output_dir=os.path.join(workdir, f"seed-{seed}"),
        num_train_epochs=epochs,
        per_device_train_batch_size=args.batch_size,
        learning_rate=args.lr,
        warmup_steps=args.warmup_ratio,  # a float < 1 is a ratio in transformers 5 (warmup_ratio is deprecated)
        lr_scheduler_type="linear",
        weight_decay=0.01,
        max_grad_norm=1.0,
        seed=seed,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        eval_strategy="no",
        save_strategy="no",
        logging_steps=1,
        report_to="none",
        use_cpu=True,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )
    log = []

    class Recorder(TrainerCallback):
        def on_log(self, a, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                log.append({"step": state.global_step, "loss": logs["loss"],
                            "learning_rate": logs.get("learning_rate"), "grad_norm": logs.get("grad_norm")})

    trainer = SentenceTransformerTrainer(model=model, args=targs, train_dataset=ds, loss=loss, callbacks=[Recorder()])
    t0 = time.time()
    out = trainer.train()
    secs = time.time() - t0
    steps = trainer.state.global_step
    info = {
        "steps": steps,
        "warmup_steps": targs.get_warmup_steps(steps),
        "optimizer": type(trainer.optimizer.optimizer if hasattr(trainer.optimizer, "optimizer") else trainer.optimizer).__name__,
        "optim": str(targs.optim),
        "train_loss": out.training_loss,
        "train_seconds": secs,
        "log": log,
    }
    return model, info


def versions():
    import accelerate
    import datasets
    import sentence_transformers
    import tokenizers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "sentence_transformers": sentence_transformers.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "datasets": datasets.__version__,
        "accelerate": accelerate.__version__,
    }


def summary(results):
    after = [r["after"]["cosine"] for r in results["runs"]]
    s = {"n": len(after), "mean_cosine": statistics.mean(after) if after else None,
         "std_cosine": statistics.stdev(after) if len(after) > 1 else None,
         "min_cosine": min(after) if after else None, "max_cosine": max(after) if after else None}
    if after:
        s["mean_gain_points"] = 100 * (s["mean_cosine"] - results["base"]["accuracy"]["cosine"])
    results["summary"] = s


def pct(x):
    return f"{100 * x:.2f}"


def write_outputs(results, json_path, md_path):
    summary(results)
    os.makedirs(os.path.dirname(json_path), exist_ok=True)
    tmp = json_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, json_path)

    s, base, cfg = results["summary"], results["base"], results["settings"]
    L = []
    L.append("# sentence-transformers baseline: MiniLM fine-tuned on nb-nn-train-hard\n")
    L.append("Generated by `tools/st_baseline.py` (the Python reference for issue 5's \"within 1 point\"). "
             "Every figure below is in `st-baseline.json`, with per-step loss, learning rate and grad norm.\n")
    L.append("## Settings\n")
    L.append(f"- Model: all-MiniLM-L6-v2 (max_seq_length {cfg['max_seq_length']}), mean pooling + normalize")
    L.append(f"- Train: first {cfg['train_rows']:,} rows of `nb-nn-train-hard.jsonl.zst`; "
             f"test: all {cfg['test_rows']:,} rows of `nb-nn-test-hard.jsonl.zst`")
    L.append(f"- SentenceTransformerTrainer, MultipleNegativesRankingLoss (scale 20, cosine), batch {cfg['batch_size']}, "
             f"lr {cfg['lr']:g}, warmup ratio {cfg['warmup_ratio']:g} (= {results['runs'][0]['train']['warmup_steps'] if results['runs'] else '?'} "
             f"of {results['runs'][0]['train']['steps'] if results['runs'] else '?'} steps), linear decay, "
             "weight decay 0.01, max grad norm 1.0, 1 epoch, NO_DUPLICATES batches, no evaluation during training")
    L.append(f"- CPU, torch threads {cfg['threads']}; TripletEvaluator (encode batch {cfg['eval_batch_size']}, each "
             "distinct text embedded once: the hard negatives are other rows' positives); "
             "accuracy is strict `sim(a,p) > sim(a,n)`\n")
    L.append("## Results (accuracy, %)\n")
    L.append("| model | seed | cosine | dot | euclidean | manhattan | train s | eval s |")
    L.append("|---|---|---|---|---|---|---|---|")
    a = base["accuracy"]
    L.append(f"| base | – | {pct(a['cosine'])} | {pct(a['dot'])} | {pct(a['euclidean'])} | {pct(a['manhattan'])} "
             f"| – | {base['eval_seconds']:.0f} |")
    for r in results["runs"]:
        a = r["after"]
        L.append(f"| fine-tuned | {r['seed']} | {pct(a['cosine'])} | {pct(a['dot'])} | {pct(a['euclidean'])} "
                 f"| {pct(a['manhattan'])} | {r['train']['train_seconds']:.0f} | {r['eval_seconds']:.0f} |")
    L.append("")
    if s["n"]:
        L.append("## Summary (cosine accuracy)\n")
        L.append(f"- Base model: **{pct(base['accuracy']['cosine'])}%**")
        if s["n"] > 1:
            L.append(f"- Fine-tuned, {s['n']} seeds: mean **{pct(s['mean_cosine'])}%** ± {100 * s['std_cosine']:.2f} "
                     f"(sample std), range {pct(s['min_cosine'])}–{pct(s['max_cosine'])}")
        else:
            L.append(f"- Fine-tuned, 1 seed: **{pct(s['mean_cosine'])}%** (no seed-to-seed spread yet)")
        L.append(f"- Mean gain over the base model: {s['mean_gain_points']:+.2f} points")
        L.append(f"- Test set: {cfg['test_rows']:,} triplets, so one triplet is {100 / cfg['test_rows']:.2f} points; "
                 f"binomial standard error at the mean ≈ "
                 f"{100 * math.sqrt(s['mean_cosine'] * (1 - s['mean_cosine']) / cfg['test_rows']):.2f} points")
        base_err, err = 1 - base["accuracy"]["cosine"], 1 - s["mean_cosine"]
        L.append(f"- Reading \"within 1 point\": the whole gain is {s['mean_gain_points']:.2f} points "
                 f"(errors {100 * base_err:.2f}% → {100 * err:.2f}%, {100 * (1 - err / base_err):.0f}% fewer), so a "
                 f"1-point band around {pct(s['mean_cosine'])}% reaches down to "
                 f"{pct(s['mean_cosine'] - 0.01)}%, close to the untrained {pct(base['accuracy']['cosine'])}%. "
                 "Compare the error rates (and the seed spread) too, not only the 1-point band.\n")
    L.append("## Wall time\n")
    L.append(f"Per run (load + train, {results['runs'][0]['train']['steps'] if results['runs'] else '?'} steps): "
             + ", ".join(f"seed {r['seed']}: {r['train']['train_seconds'] / 60:.1f} min" for r in results["runs"])
             + ". One evaluation of the test set: "
             + ", ".join(f"{x / 60:.1f}" for x in [base["eval_seconds"]] + [r["eval_seconds"] for r in results["runs"]])
             + " min (base, then after each run). "
             f"Machine: {results['machine']['cpus']} cores shared with other jobs "
             "(load averages at each run's start are in the JSON), so times are indicative only.\n")
    L.append("More seeds: rerun with the same settings and a longer `--seeds` list; seeds already in the JSON "
             "are skipped.\n")
    L.append("## Versions\n")
    L.append(", ".join(f"{k} {v}" for k, v in results["versions"].items()) + "\n")
    with open(md_path, "w", encoding="utf-8") as f:
        f.write("\n".join(L))


def merge(json_path, md_path, others):
    with open(json_path, encoding="utf-8") as f:
        results = json.load(f)
    seeds = {r["seed"] for r in results["runs"]}
    for path in others:
        with open(path, encoding="utf-8") as f:
            other = json.load(f)
        if other["settings"] != results["settings"]:
            sys.exit(f"{path}: settings differ from {json_path}")
        for r in other["runs"]:
            if r["seed"] not in seeds:
                r["merged_from_parallel_process"] = True
                results["runs"].append(r)
                seeds.add(r["seed"])
    write_outputs(results, json_path, md_path)
    print(json.dumps(results["summary"], indent=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="all-MiniLM-L6-v2 folder (sentence-transformers layout)")
    ap.add_argument("--train", default=os.path.join(SHARED, "data", "nb-nn-train-hard.jsonl.zst"))
    ap.add_argument("--test", default=os.path.join(SHARED, "data", "nb-nn-test-hard.jsonl.zst"))
    ap.add_argument("--rows", type=int, default=2000, help="training rows taken from the start of --train")
    ap.add_argument("--test-rows", type=int, default=None, help="limit the test set (default: all; for smoke tests)")
    ap.add_argument("--seeds", default="42,1,2,3")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=2e-5)
    ap.add_argument("--warmup-ratio", type=float, default=0.1)
    ap.add_argument("--max-seq-length", type=int, default=None, help="default: the model's own (256 for MiniLM)")
    ap.add_argument("--eval-batch-size", type=int, default=64,
                    help="TripletEvaluator's encode batch (its default is 16; 64 is twice as fast here, same accuracy)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=os.path.join(ROOT, "docs", "st-baseline.json"))
    ap.add_argument("--md", default=os.path.join(ROOT, "docs", "st-baseline.md"))
    ap.add_argument("--fresh", action="store_true", help="ignore runs already in --json")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="only merge the runs of these result files (same settings, e.g. seeds run in parallel "
                         "processes, each started from a copy of --json) into --json and rewrite --md")
    a = ap.parse_args()
    if a.merge:
        merge(a.json, a.md, a.merge)
        return

    import torch

    torch.set_num_threads(a.threads)
    seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    train_rows = read_triplets(a.train, a.rows)
    if len(train_rows) < a.rows:
        sys.exit(f"{a.train}: only {len(train_rows)} rows, wanted {a.rows}")
    test = read_triplets(a.test, a.test_rows)
    base_model = load_model(a.model, a.max_seq_length)
    settings = {
        "model_path": os.path.abspath(a.model), "train_file": os.path.basename(a.train), "train_rows": len(train_rows),
        "test_file": os.path.basename(a.test), "test_rows": len(test), "batch_size": a.batch_size, "lr": a.lr,
        "warmup_ratio": a.warmup_ratio, "max_seq_length": base_model.max_seq_length, "eval_batch_size": a.eval_batch_size,
        "threads": a.threads, "epochs": 1, "weight_decay": 0.01, "max_grad_norm": 1.0, "lr_scheduler": "linear",
        "batch_sampler": "no_duplicates", "loss": "MultipleNegativesRankingLoss(scale=20, cos_sim)",
    }

    results = None
    if not a.fresh and os.path.exists(a.json):
        with open(a.json, encoding="utf-8") as f:
            old = json.load(f)
        if old.get("settings") == settings:
            results = old
            print(f"continuing {a.json}: seeds done {[r['seed'] for r in old['runs']]}", file=sys.stderr)
        else:
            print(f"{a.json} has other settings; starting afresh", file=sys.stderr)
    if results is None:
        print(f"evaluating the base model on {len(test)} triplets", file=sys.stderr)
        acc, secs = evaluate(base_model, test, a.eval_batch_size)
        results = {"settings": settings, "versions": versions(),
                   "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
                   "base": {"accuracy": acc, "eval_seconds": secs}, "runs": []}
        print(f"base: {json.dumps(acc)} ({secs:.0f} s)", file=sys.stderr)
        write_outputs(results, a.json, a.md)
    del base_model

    done = {r["seed"] for r in results["runs"]}
    with tempfile.TemporaryDirectory(prefix="st-baseline-") as work:
        for seed in seeds:
            if seed in done:
                continue
            load = os.getloadavg()
            print(f"seed {seed}: training", file=sys.stderr)
            model, info = train_one(a, train_rows, seed, work)
            acc, secs = evaluate(model, test, a.eval_batch_size)
            print(f"seed {seed}: {json.dumps(acc)} (train {info['train_seconds']:.0f} s, eval {secs:.0f} s)",
                  file=sys.stderr)
            results["runs"].append({"seed": seed, "after": acc, "eval_seconds": secs, "train": info,
                                    "loadavg_at_start": [round(x, 2) for x in load]})
            write_outputs(results, a.json, a.md)
            del model
    print(json.dumps(results["summary"], indent=1))


if __name__ == "__main__":
    main()
