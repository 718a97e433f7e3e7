#!/usr/bin/env python3
"""CPython's `random.seed(int)` + `random.sample(range(n), k)` re-implemented from scratch (MT19937,
init_by_array, _randbelow_with_getrandbits, the two branches of Random.sample), as a model for a
Swift port of mine_hard_negatives(sampling_strategy="random"). Self-test: python3 py_random_ref.py
(compares with the real `random` module; CPython 3.11, Lib/random.py and Modules/_randommodule.c).
"""
import math, random
class MT:
    def __init__(self, seed):
        self.mt = [0]*624; self.i = 625
        n = abs(seed); key = []
        while True:
            key.append(n & 0xffffffff); n >>= 32
            if n == 0: break
        self._init_genrand(19650218)
        mt = self.mt; i, j = 1, 0
        for _ in range(max(624, len(key))):
            mt[i] = ((mt[i] ^ ((mt[i-1] ^ (mt[i-1] >> 30)) * 1664525)) + key[j] + j) & 0xffffffff
            i += 1; j += 1
            if i >= 624: mt[0] = mt[623]; i = 1
            if j >= len(key): j = 0
        for _ in range(623):
            mt[i] = ((mt[i] ^ ((mt[i-1] ^ (mt[i-1] >> 30)) * 1566083941)) - i) & 0xffffffff
            i += 1
            if i >= 624: mt[0] = mt[623]; i = 1
        mt[0] = 0x80000000; self.i = 624
    def _init_genrand(self, s):
        mt = self.mt; mt[0] = s
        for i in range(1, 624):
            mt[i] = (1812433253 * (mt[i-1] ^ (mt[i-1] >> 30)) + i) & 0xffffffff
    def u32(self):
        mt = self.mt
        if self.i >= 624:
            for k in range(624):
                y = (mt[k] & 0x80000000) | (mt[(k+1) % 624] & 0x7fffffff)
                mt[k] = mt[(k+397) % 624] ^ (y >> 1) ^ (0x9908b0df if y & 1 else 0)
            self.i = 0
        y = mt[self.i]; self.i += 1
        y ^= y >> 11; y ^= (y << 7) & 0x9d2c5680; y ^= (y << 15) & 0xefc60000; y ^= y >> 18
        return y
    def randbelow(self, n):
        k = n.bit_length()
        r = self.u32() >> (32 - k)
        while r >= n: r = self.u32() >> (32 - k)
        return r
    def sample_range(self, n, k):
        setsize = 21
        if k > 5: setsize += 4 ** math.ceil(math.log(k * 3, 4))
        if n <= setsize:
            pool = list(range(n)); res = []
            for i in range(k):
                j = self.randbelow(n - i); res.append(pool[j]); pool[j] = pool[n - i - 1]
            return res
        sel = set(); res = []
        for i in range(k):
            j = self.randbelow(n)
            while j in sel: j = self.randbelow(n)
            sel.add(j); res.append(j)
        return res

if __name__ == "__main__":
    ok = True
    for seed in [0, 1, 7, 12, 42, 2**32 + 5, 2**70 + 123]:
        a = random.Random(seed); b = MT(seed)
        for n, k in [(3, 3), (10, 3), (21, 3), (22, 3), (40, 5), (100, 10), (84, 10), (86, 10), (1000, 50)]:
            for _ in range(5):
                if a.sample(range(n), k) != b.sample_range(n, k):
                    ok = False
    print("matches CPython random.sample:", ok)
    raise SystemExit(0 if ok else 1)
