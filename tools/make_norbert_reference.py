#!/usr/bin/env python3
"""Reference for NorBERT3 on LONG sequences (beyond the ±16 exact relative positions, into the log
buckets), from ltgoslo's own modeling_norbert.py. ../shared's norbert3-tiny reference stops at 24
tokens; this one uses the same tiny model with sequences of 40-200 tokens.

Writes Tests/Fixtures/model/norbert3-long.safetensors with the same keys as
../shared/reference/*/reference.safetensors (input.*, output.*, grad.*), without param.* (the
weights are ../shared's) and without after_step.* (AdamW is covered by the other references).

Usage:
  python3 tools/make_norbert_reference.py --modeling DIR [--shared ../shared]

DIR holds ltgoslo's modeling_norbert.py and configuration_norbert.py (from the ltg/norbert3-base hub
repo, or ltgoslo/norbench's evaluation_scripts/); they are not part of this project.
"""
import argparse
import io
import json
import os
import sys

import numpy as np
import torch
import zstandard
from safetensors.numpy import save_file
from tokenizers import Tokenizer

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "model")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modeling", required=True)
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
    a = ap.parse_args()
    sys.path.insert(0, a.modeling)
    from configuration_norbert import NorbertConfig
    from modeling_norbert import NorbertModel

    model_dir = os.path.join(a.shared, "reference", "norbert3-tiny", "model")
    cfg = NorbertConfig(**json.load(open(os.path.join(model_dir, "config.json"))))
    model = NorbertModel(cfg)
    model.load_state_dict(torch.load(os.path.join(model_dir, "pytorch_model.bin"), map_location="cpu"))
    model.eval()
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))

    with open(os.path.join(a.shared, "data", "ud-norwegian-dev-sentences.txt.zst"), "rb") as f:
        lines = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(f), encoding="utf-8").read().splitlines()
    # Three columns of three texts each, made of consecutive sentences, 40 to ~200 tokens long.
    texts = {}
    k = 0
    for col, sizes in (("anchor", (3, 6, 12)), ("positive", (4, 8, 2)), ("negative", (10, 5, 3))):
        texts[col] = []
        for n in sizes:
            texts[col].append(" ".join(lines[k:k + n]))
            k += n
    max_len = 256
    tensors, embs = {}, {}
    outputs = {}
    for col in ("anchor", "positive", "negative"):
        enc = [tok.encode(t.strip()) for t in texts[col]]
        ids = [e.ids[:max_len - 1] + ([e.ids[-1]] if len(e.ids) > max_len else []) for e in enc]
        width = max(len(x) for x in ids)
        input_ids = np.zeros((len(ids), width), np.int32)
        mask = np.zeros((len(ids), width), np.int32)
        for r, x in enumerate(ids):
            input_ids[r, :len(x)] = x
            mask[r, :len(x)] = 1
        tensors[f"input.{col}.input_ids"] = input_ids
        tensors[f"input.{col}.attention_mask"] = mask
        out = model(input_ids=torch.tensor(input_ids, dtype=torch.long),
                    attention_mask=torch.tensor(mask, dtype=torch.long)).last_hidden_state
        m = torch.tensor(mask, dtype=torch.float32).unsqueeze(-1)
        emb = (out * m).sum(1) / m.sum(1).clamp(min=1e-9)
        emb.retain_grad()
        outputs[col] = out
        embs[col] = emb
    a_n = torch.nn.functional.normalize(embs["anchor"], p=2, dim=1)
    c_n = torch.nn.functional.normalize(torch.cat([embs["positive"], embs["negative"]]), p=2, dim=1)
    scores = a_n @ c_n.T * 20.0
    loss = torch.nn.functional.cross_entropy(scores, torch.arange(len(a_n)))
    loss.backward()
    for col in ("anchor", "positive", "negative"):
        # NorbertModel returns a transposed (non-contiguous) view; safetensors would write its raw buffer.
        tensors[f"output.{col}.last_hidden_state"] = outputs[col].detach().contiguous().numpy()
        tensors[f"output.{col}.embedding"] = embs[col].detach().numpy()
        tensors[f"grad.{col}.embedding"] = embs[col].grad.numpy()
    tensors["output.scores"] = scores.detach().numpy()
    tensors["output.loss"] = np.asarray([loss.item()], np.float32)
    for name, p in model.named_parameters():
        tensors[f"grad.{name}"] = p.grad.numpy()
    lengths = {c: tensors[f"input.{c}.attention_mask"].sum(1).tolist() for c in texts}
    save_file(tensors, os.path.join(OUT, "norbert3-long.safetensors"),
              metadata={"texts": json.dumps(texts, ensure_ascii=False), "max_seq_length": str(max_len),
                        "source": "ltgoslo modeling_norbert.py, ../shared/reference/norbert3-tiny/model"})
    print("norbert3-long: lengths", lengths, "loss", loss.item())


if __name__ == "__main__":
    main()
