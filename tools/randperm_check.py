#!/usr/bin/env python3
"""Reimplements torch's CPU `torch.randperm(n, generator=g)` (g = torch.Generator() seeded with
g.manual_seed(seed)) in pure Python and checks it against torch, for several n and seeds.

Algorithm (ATen native/TensorFactories.cpp, randperm_cpu, n < 2**32 // 20 branch):
  r = [0, 1, ..., n-1]
  for i in 0 ..< n-1:
      z = mt.next_u32() % (n - i)        # generator->random(): one raw 32-bit mt19937 output
      swap(r[i], r[i + z])
Generator: standard 32-bit MT19937 (Matsumoto & Nishimura), seeded with init_genrand(seed & 0xffffffff)
(at::mt19937(seed) -> init_with_uint32). manual_seed() resets the engine, nothing else is consumed.
A randperm(n) consumes exactly max(n-1, 0) outputs; consecutive calls on one generator continue the stream.

Also checks SubsetRandomSampler / ProportionalBatchSampler-style use: a second randperm on the same
generator continues where the first stopped.

Run: python3 randperm_check.py   (prints OK lines; exits 1 on any mismatch)
"""
import sys

import torch


class MT19937:
    """Plain MT19937 (32-bit), init_genrand seeding, as at::mt19937 / std::mt19937."""

    def __init__(self, seed: int):
        self.mt = [0] * 624
        self.mt[0] = seed & 0xFFFFFFFF
        for i in range(1, 624):
            prev = self.mt[i - 1]
            self.mt[i] = (1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF
        self.index = 624

    def _twist(self):
        mt = self.mt
        for i in range(624):
            y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7FFFFFFF)
            v = mt[(i + 397) % 624] ^ (y >> 1)
            if y & 1:
                v ^= 0x9908B0DF
            mt[i] = v
        self.index = 0

    def next_u32(self) -> int:
        if self.index >= 624:
            self._twist()
        y = self.mt[self.index]
        self.index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        y ^= y >> 18
        return y & 0xFFFFFFFF


def randperm(n: int, mt: MT19937) -> list[int]:
    if n >= (2**32 - 1) // 20:
        # torch's large-n branch (inside-out Fisher-Yates with random64() = (u32_a << 32) | u32_b);
        # never reached in practice, not verified here.
        raise NotImplementedError("n >= 214748364 uses random64(); not verified")
    r = list(range(n))
    for i in range(n - 1):
        z = mt.next_u32() % (n - i)
        r[i], r[i + z] = r[i + z], r[i]
    return r


def main() -> int:
    bad = 0
    # 1. raw generator stream: compare our MT with torch's through randperm of many sizes
    for seed in [0, 1, 42, 12345, 2**31 - 1, 2**32 - 1, 2**32 + 7, 2**40 + 3]:
        for n in [0, 1, 2, 3, 5, 10, 16, 100, 625, 1000, 1300, 10007]:
            g = torch.Generator()
            g.manual_seed(seed)
            want = torch.randperm(n, generator=g).tolist()
            got = randperm(n, MT19937(seed))
            if want != got:
                bad += 1
                print(f"MISMATCH seed={seed} n={n}: torch {want[:10]} ours {got[:10]}")
        print(f"OK seed={seed}: randperm matches for all n")

    # 2. dtype does not change the permutation (NoDuplicatesBatchSampler uses dtype=int32)
    g = torch.Generator(); g.manual_seed(7)
    a = torch.randperm(500, generator=g, dtype=torch.int32).tolist()
    if a != randperm(500, MT19937(7)):
        bad += 1; print("MISMATCH int32 dtype")
    else:
        print("OK dtype=int32 gives the same permutation")

    # 3. consecutive calls on one generator continue the stream (n-1 draws each)
    for seed in [42, 43]:
        g = torch.Generator(); g.manual_seed(seed)
        t1 = torch.randperm(37, generator=g).tolist()
        t2 = torch.randperm(250, generator=g).tolist()
        t3 = torch.randperm(1, generator=g).tolist()
        t4 = torch.randperm(64, generator=g).tolist()
        mt = MT19937(seed)
        o = [randperm(37, mt), randperm(250, mt), randperm(1, mt), randperm(64, mt)]
        if [t1, t2, t3, t4] != o:
            bad += 1; print(f"MISMATCH consecutive seed={seed}")
        else:
            print(f"OK seed={seed}: consecutive randperm calls continue the mt19937 stream")

    # 4. the default (global) CPU generator behaves the same after torch.manual_seed
    torch.manual_seed(1234)
    if torch.randperm(300).tolist() != randperm(300, MT19937(1234)):
        bad += 1; print("MISMATCH global generator")
    else:
        print("OK global generator after torch.manual_seed(1234)")

    print("torch", torch.__version__, "->", "ALL OK" if bad == 0 else f"{bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
