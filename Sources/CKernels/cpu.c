// CPU feature detection (cpuid and the OS's saved register state) for the run-time dispatch.
#include "CKernels.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && !defined(NOREMBED_PORTABLE)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static int detect(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx) return 0;
    unsigned long long xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return 0;              // xmm and ymm state
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1, f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    int features = 0;
    if (avx2 && fma) features |= NK_AVX2;
    if ((features & NK_AVX2) && f && dq && bw && vl && (xcr0 & 0xE0) == 0xE0) { // opmask, zmm state
        features |= NK_AVX512;
        __cpuid_count(7, 1, a, b, c, d);
        if ((a >> 5) & 1) features |= NK_AVX512BF16;
    }
    return features;
}
#else
static int detect(void) { return 0; }
#endif

int nk_cpu_features_detected(void) {
    static int cached = -1;
    if (cached < 0) cached = detect();
    return cached;
}

int nk_cpu_features(void) {
    static int cached = -1;
    if (cached >= 0) return cached;
    int f = nk_cpu_features_detected();
    const char *cap = getenv("EMBEDKIT_ISA");
    if (cap && *cap) {
        int allowed = NK_AVX2 | NK_AVX512 | NK_AVX512BF16;
        if (strcmp(cap, "baseline") == 0 || strcmp(cap, "portable") == 0) allowed = 0;
        else if (strcmp(cap, "avx2") == 0) allowed = NK_AVX2;
        else if (strcmp(cap, "avx512") == 0) allowed = NK_AVX2 | NK_AVX512;
        f &= allowed;
    }
    cached = f;
    return f;
}
