#!/usr/bin/env python3
"""Data-parallel scaling on paper (BENCHMARKS.md, "Data-parallel training over MPI"): one epoch of
the 569K NLI triplets with NorBERT3-base and -large on N machines like the 2-core benchmark machine,
per-device batch 16, from a measured step time, the gradient size and the cost of a ring all-reduce.

Model of one step on N ranks (bandwidth B bytes/s per link, latency ALPHA per message):
  ring all-reduce of X bytes:  2 (N-1)/N * X / B  +  2 (N-1) * ALPHA per bucket
  MNRL gather + reduce-scatter of the candidate embeddings (2 * 16 * C floats a rank), blocking
  no overlap:   step = compute + allreduce(all gradients) + gather
  overlap:      the layers' buckets are summed while backward (~2/3 of compute) goes on; what stays
                exposed is the larger of (allreduce(all) - backward) and the buckets ready last
                (the bottom layer and the word embeddings, ready only when backward ends).
The compute part is per machine and does not shrink with N (each machine always does 16 triplets).
The reduction's own CPU use (the communication thread sums on the machine's cores) is not modelled.
Usage: tools/dp_scaling.py [--base-step 3.24] [--large-step 9.7]  (Markdown on stdout)
"""
import argparse
import math

TRIPLETS = 569_000
PER_DEVICE = 16
ALPHA = 30e-6  # seconds per message hop (TCP over Ethernet; InfiniBand is ~10x lower)


def norbert3_parameters(vocab, C, layers, inter, buckets=32):
    """Parameter count of ltgoslo's NorbertModel (as the checkpoint's state dict has them)."""
    embedding = vocab * C + (2 * buckets - 1) * C + 2 * C
    layer = (2 * C * C + 2 * C) + (C * C + C) + (C * C + C) + 2 * C + 2 * inter * C + inter * C
    return embedding, layer, embedding + layers * layer


def ring(nbytes, n, bandwidth, buckets=1):
    if n == 1:
        return 0.0
    return 2 * (n - 1) / n * nbytes / bandwidth + 2 * (n - 1) * ALPHA * buckets


def table(name, step, vocab, C, layers, inter):
    emb, layer, total = norbert3_parameters(vocab, C, layers, inter)
    grads, late = 4 * total, 4 * (emb + layer)
    print(f"**{name}**: {total / 1e6:.1f} M parameters, {grads / 1e6:.0f} MB of gradients a step "
          f"({4 * emb / 1e6:.0f} MB of them the word embeddings); compute {step:.2f} s a step of {PER_DEVICE} on one machine.")
    print()
    print("| machines | global batch | steps/epoch | 10 Gb/s: step s, no overlap / overlap | epoch h (overlap) "
          "| 100 Gb/s: step s, no overlap / overlap | epoch h (overlap) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n in (1, 4, 16, 64):
        steps = math.ceil(TRIPLETS / (PER_DEVICE * n))
        cells = []
        for gbit in (10, 100):
            bw = gbit * 1e9 / 8
            gather = 2 * (n - 1) * 2 * PER_DEVICE * C * 4 / bw + (4 * (n - 1) * ALPHA if n > 1 else 0)
            full = ring(grads, n, bw, buckets=layers + 1)
            exposed = max(full - 2 / 3 * step, ring(late, n, bw, buckets=2))
            no_overlap, overlap = step + full + gather, step + exposed + gather
            cells.append(f"{no_overlap:.2f} / {overlap:.2f}")
            cells.append(f"{steps * overlap / 3600:.1f}")
        print(f"| {n} | {PER_DEVICE * n} | {steps:,} | " + " | ".join(cells) + " |")
    print()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base-step", type=float, default=3.24, help="NorBERT3-base seconds per step of 16 (quiet, 2 threads)")
    p.add_argument("--large-step", type=float, default=9.7, help="NorBERT3-large seconds per step of 16 (estimate: 3x base)")
    a = p.parse_args()
    table("NorBERT3-base", a.base_step, 50_000, 768, 12, 2048)
    table("NorBERT3-large", a.large_step, 50_000, 1024, 24, 2730)


if __name__ == "__main__":
    main()
