#!/usr/bin/env python3
"""The PyTorch side of embedkit-bench: the same models (random weights), the same sentence lengths
(the same seeded generator), timed the way sentence-transformers runs them: each column of a
triplet batch padded to its own longest sequence and encoded separately, mean pooling,
MultipleNegativesRankingLoss (scale 20), backward, clip_grad_norm_(1.0), torch.optim.AdamW; and
encode-style embedding (sorted by length, batches of 32 padded per batch, inference mode).

Usage:
  python3 tools/bench_torch.py [--models minilm,bert,norbert] [--steps 5] [--embed-reps 3]
                               [--modeling DIR] [--threads 2]

NorBERT3 needs ltgoslo's modeling_norbert.py and configuration_norbert.py in --modeling DIR (not
part of this project); without them that model is skipped.
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

MASK64 = (1 << 64) - 1


class SplitMix64:
    """The generator of EmbedKit's Random.swift, for identical lengths."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


class LengthSampler:
    """embedkit-bench's LengthSampler: log-normal, median 18, sigma 0.5, clamped to 5..128."""

    def __init__(self, seed, scale=1.0):
        self.rng = SplitMix64(seed)
        self.scale = scale

    def next(self):
        s = sum(self.rng.next() >> 40 for _ in range(12))
        z = (float(s) - 6 * 16777216) / 16777216
        length = round_half_away(self.scale * math.exp(math.log(18.0) + 0.5 * z))
        return int(min(128, max(5, length)))


def round_half_away(x):
    # Swift's .rounded() rounds half away from zero; Python's round() rounds half to even.
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def workload(batch_size, train_batches, embed_count, seed, scale):
    lengths = LengthSampler(seed, scale)
    train = []
    for _ in range(train_batches):
        train.append([[lengths.next() for _ in range(batch_size)] for _ in range(3)])
    embed = sorted((lengths.next() for _ in range(embed_count)), reverse=True)
    return train, embed


def build(name, modeling):
    if name == "minilm":
        from transformers import BertConfig, BertModel
        cfg = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                         intermediate_size=1536)
        return BertModel(cfg, add_pooling_layer=False), 30522, True
    if name == "bert":
        from transformers import BertConfig, BertModel
        cfg = BertConfig(vocab_size=119547, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                         intermediate_size=3072)
        return BertModel(cfg, add_pooling_layer=False), 119547, False
    if name == "norbert":
        if not modeling or not os.path.exists(os.path.join(modeling, "modeling_norbert.py")):
            return None, 0, False
        sys.path.insert(0, modeling)
        from configuration_norbert import NorbertConfig
        from modeling_norbert import NorbertModel
        cfg = NorbertConfig(vocab_size=50000, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                            intermediate_size=2048, max_position_embeddings=512, position_bucket_size=32)
        return NorbertModel(cfg), 50000, False
    raise SystemExit(f"unknown model {name}")


def padded(lengths, vocab, gen):
    width = max(lengths)
    ids = torch.randint(1000, vocab, (len(lengths), width), generator=gen)
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for r, n in enumerate(lengths):
        mask[r, :n] = 1
        ids[r, 0] = 101
        ids[r, n - 1] = 102
        ids[r, n:] = 0
    return ids, mask


def embed(model, ids, mask, normalize):
    out = model(input_ids=ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).to(out.dtype)
    e = (out * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return F.normalize(e, p=2, dim=1) if normalize else e


def median_ms(xs):
    return statistics.median(xs) * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="minilm,bert,norbert")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--embed-reps", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--sentences", type=int, default=256)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--length-scale", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modeling", default="/tmp/ltg-norbert")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print(f"# PyTorch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print()
    rows = []
    for name in a.models.split(","):
        model, vocab, normalize = build(name, a.modeling)
        if model is None:
            print(f"## {name}: skipped (no modeling_norbert.py in {a.modeling})\n")
            continue
        train, embed_lengths = workload(a.batch, 3, a.sentences, a.seed, a.length_scale)
        gen = torch.Generator().manual_seed(1)
        real = [sum(sum(c) for c in b) for b in train]
        padded_tokens = [sum(max(c) * len(c) for c in b) for b in train]
        print(f"## {name}: {sum(p.numel() for p in model.parameters()) // 1_000_000}M parameters; training batches of "
              f"{', '.join(map(str, real))} tokens ({', '.join(map(str, padded_tokens))} padded)")
        batches = [[padded(c, vocab, gen) for c in b] for b in train]
        opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
        labels = torch.arange(a.batch)

        def step(i):
            cols = batches[i % len(batches)]
            embs = [embed(model, ids, mask, normalize) for ids, mask in cols]
            scores = F.normalize(embs[0], dim=1) @ F.normalize(torch.cat(embs[1:]), dim=1).T * 20
            loss = F.cross_entropy(scores, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad()

        model.train()
        for i in range(len(batches)):  # warm-up: every batch shape once (oneDNN primitive caches)
            step(i)
        times = []
        for i in range(a.steps):
            t0 = time.perf_counter()
            step(i + 1)
            times.append(time.perf_counter() - t0)
            print(f"  step {i + 1}: {times[-1] * 1000:.0f} ms", file=sys.stderr)
        train_ms = median_ms(times)
        tokens = sum(real) / len(real)

        model.eval()
        emb_batches = [padded(embed_lengths[s:s + 32], vocab, gen) for s in range(0, len(embed_lengths), 32)]

        def encode():
            with torch.inference_mode():
                for ids, mask in emb_batches:
                    embed(model, ids, mask, normalize)

        encode()
        etimes = []
        for _ in range(a.embed_reps):
            t0 = time.perf_counter()
            encode()
            etimes.append(time.perf_counter() - t0)
        embed_ms = median_ms(etimes)
        print(f"training step {train_ms:.0f} ms (min {min(times) * 1000:.0f}), {a.batch / train_ms * 1000:.1f} triplets/s, "
              f"{tokens / train_ms * 1000:.0f} tokens/s; embedding {a.sentences} sentences {embed_ms:.0f} ms, "
              f"{a.sentences / embed_ms * 1000:.0f} sentences/s\n")
        rows.append((name, train_ms, a.batch / train_ms * 1000, tokens / train_ms * 1000, embed_ms,
                     a.sentences / embed_ms * 1000, sum(embed_lengths) / embed_ms * 1000))
        del model, opt
    print("| model | train ms/step | triplets/s | train tokens/s | embed ms | sentences/s | embed tokens/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.0f} | {r[2]:.1f} | {r[3]:.0f} | {r[4]:.0f} | {r[5]:.0f} | {r[6]:.0f} |")


if __name__ == "__main__":
    main()
