// bf16 matrix products on AVX512-BF16 (vdpbf16ps: 32 multiply-adds of bf16 pairs into 16 fp32
// sums per instruction, twice the rate of fp32 FMAs). Kept here rather than in a library because
// OpenBLAS 0.3.21 as Debian builds it has no sbgemm, and oneDNN's bf16 matmul (Debian 2.6) is no
// faster on our shapes (tools/bench_onednn.sh; BENCHMARKS.md, "bf16 matrix products") while it
// would add an OpenMP thread pool beside ours.
//
// C = alpha·op(A)·op(B) + beta·C with op(A) [M, K] and op(B) [K, N], row-major, in the BLIS
// manner: op(A) is packed to bf16 rows (pairs of k adjacent, one 32-bit word per pair: the
// micro-kernel broadcasts it), op(B) to panels of NR = 64 columns ([k pair][64 columns] words:
// four zmm loads per k pair); the micro-kernel keeps a 6 × 64 tile of C in 24 zmm accumulators.
// (On Zen 4 a 14 × 32 tile, two vectors per broadcast, ran at 80 GFLOP/s per core against 200 for
// 6 × 64 and 210 for 8 × 48; 64 columns divide every width these models use, 48 does not.)
// The K loop runs in blocks of KC pairs so that a panel's slice stays near the core while the
// rows of a block stream past it. Operands are rounded to nearest even (nk_bf16_from_float);
// every product of two bf16 values is exact in fp32, and vdpbf16ps adds them in fp32.

#include "CKernels.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

uint16_t nk_bf16_from_float(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40); // NaN: keep it a (quiet) NaN
    u += 0x7FFFu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

float nk_bf16_to_float(uint16_t x) {
    uint32_t u = (uint32_t)x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void nk_bf16_round_floats(float *out, const float *x, long n) {
    for (long i = 0; i < n; i++) out[i] = nk_bf16_to_float(nk_bf16_from_float(x[i]));
}

// Block sizes measured on Zen 4 (1 MB L2): whole-K blocks up to 768 and 192-row blocks of A.
enum { MR = 6, NV = 4, NR = 16 * NV, KC = 384 /* k pairs per block */, MC = 32 * MR };

long nk_bf16_panels(long N) { return (N + NR - 1) / NR; }
static long pairs(long K) { return (K + 1) / 2; }
long nk_bf16_packed_a_size(long M, long K) { return M * pairs(K) * 2; }
long nk_bf16_packed_b_size(long K, long N) { return nk_bf16_panels(N) * pairs(K) * NR * 2; }

#if defined(__x86_64__) && !defined(NOREMBED_PORTABLE)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512dq,avx512bw,avx512vl,avx512bf16"))), apply_to = function)

/// 16 floats → 16 bf16 in the low halves of 32-bit lanes, rounded as nk_bf16_from_float.
static inline __attribute__((always_inline)) __m512i round16(__m512 x) {
    __m512i u = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7FFF)), lsb), 16);
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
    __m512i q = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    return _mm512_mask_mov_epi32(r, nan, q);
}

static inline __attribute__((always_inline)) __m512 load_masked(const float *p, long n) {
    if (n >= 16) return _mm512_loadu_ps(p);
    return _mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
}

/// A 16 × 16 transpose of 32-bit words: t[j] = column j of the rows r[0..15].
static inline __attribute__((always_inline)) void transpose16(__m512i r[16], __m512i t[16]) {
    __m512i u[16];
    for (int i = 0; i < 8; i++) {
        u[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        u[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    // v[4i + c], 128-bit lane L: rows 4i..4i+3 of column 4L + c.
    __m512i v[16];
    for (int i = 0; i < 4; i++) {
        v[4 * i] = _mm512_unpacklo_epi64(u[4 * i], u[4 * i + 2]);
        v[4 * i + 1] = _mm512_unpackhi_epi64(u[4 * i], u[4 * i + 2]);
        v[4 * i + 2] = _mm512_unpacklo_epi64(u[4 * i + 1], u[4 * i + 3]);
        v[4 * i + 3] = _mm512_unpackhi_epi64(u[4 * i + 1], u[4 * i + 3]);
    }
    for (int c = 0; c < 4; c++) {
        __m512i a = _mm512_shuffle_i32x4(v[c], v[4 + c], 0x88), b = _mm512_shuffle_i32x4(v[c], v[4 + c], 0xDD);
        __m512i d = _mm512_shuffle_i32x4(v[8 + c], v[12 + c], 0x88), e = _mm512_shuffle_i32x4(v[8 + c], v[12 + c], 0xDD);
        t[c] = _mm512_shuffle_i32x4(a, d, 0x88);
        t[8 + c] = _mm512_shuffle_i32x4(a, d, 0xDD);
        t[4 + c] = _mm512_shuffle_i32x4(b, e, 0x88);
        t[12 + c] = _mm512_shuffle_i32x4(b, e, 0xDD);
    }
}

/// The words of 32 floats from p (the first n of them, zeros after): bf16 pairs (p[2q], p[2q+1]).
static inline __attribute__((always_inline)) __m512i words32(const float *p, long n) {
    __m512i lo = round16(load_masked(p, n)), hi = n > 16 ? round16(load_masked(p + 16, n - 16)) : _mm512_setzero_si512();
    if (n < 16) lo = _mm512_maskz_mov_epi32(n <= 0 ? 0 : (__mmask16)((1u << n) - 1), lo);
    if (n > 16 && n < 32) hi = _mm512_maskz_mov_epi32((__mmask16)((1u << (n - 16)) - 1), hi);
    __m512i w = _mm512_castsi256_si512(_mm512_cvtepi32_epi16(lo));
    return _mm512_inserti64x4(w, _mm512_cvtepi32_epi16(hi), 1);
}

/// The words over 16 columns from rows r0 and r1 (the first n columns, zeros after): (r0[j], r1[j]).
static inline __attribute__((always_inline)) __m512i interleave16(const float *r0, const float *r1, long n) {
    if (n <= 0) return _mm512_setzero_si512();
    __m512i lo = round16(load_masked(r0, n)), hi = r1 ? round16(load_masked(r1, n)) : _mm512_setzero_si512();
    __m512i w = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
    return n < 16 ? _mm512_maskz_mov_epi32((__mmask16)((1u << n) - 1), w) : w;
}

/// Rows m0..<m1 of op(A) as bf16 rows of pairs(K) words (an odd K padded with a zero).
void nk_bf16_pack_a(uint16_t *Ap, int transA, long M, long K, const float *A, long lda, long m0, long m1) {
    (void)M;
    long K2 = pairs(K), stride = 2 * K2;
    if (!transA) {
        for (long m = m0; m < m1; m++) {
            const float *row = A + m * lda;
            uint16_t *dst = Ap + m * stride;
            long k = 0;
            for (; k + 16 <= K; k += 16)
                _mm256_storeu_si256((__m256i *)(dst + k), _mm512_cvtepi32_epi16(round16(_mm512_loadu_ps(row + k))));
            for (; k < K; k++) dst[k] = nk_bf16_from_float(row[k]);
            if (K & 1) dst[K] = 0;
        }
        return;
    }
    // op(A)[m, k] = A[k·lda + m]: per 16 columns m and 16 pairs, the words over m of each pair
    // (rows 2kp and 2kp + 1 of A's storage), transposed to rows m.
    uint32_t *out = (uint32_t *)Ap;
    for (long mb = m0; mb < m1; mb += 16) {
        long mn = m1 - mb < 16 ? m1 - mb : 16;
        for (long kb = 0; kb < K2; kb += 16) {
            long kn = K2 - kb < 16 ? K2 - kb : 16;
            __m512i r[16], t[16];
            for (long q = 0; q < 16; q++) {
                long k = 2 * (kb + q);
                r[q] = q < kn ? interleave16(A + k * lda + mb, k + 1 < K ? A + (k + 1) * lda + mb : NULL, mn)
                              : _mm512_setzero_si512();
            }
            transpose16(r, t);
            __mmask16 km = kn >= 16 ? 0xFFFF : (__mmask16)((1u << kn) - 1);
            for (long m = 0; m < mn; m++) _mm512_mask_storeu_epi32(out + (mb + m) * K2 + kb, km, t[m]);
        }
    }
}

/// Column panels p0..<p1 of op(B) [K, N]: panel p is pairs(K) rows of NR words, word j of row kp
/// holding (op(B)[2kp, NR·p + j], op(B)[2kp + 1, NR·p + j]) with zeros past N and K.
void nk_bf16_pack_b(uint16_t *Bp, int transB, long K, long N, const float *B, long ldb, long p0, long p1) {
    long K2 = pairs(K);
    uint32_t *out = (uint32_t *)Bp;
    for (long p = p0; p < p1; p++) {
        long n0 = p * NR, nn = N - n0 < NR ? N - n0 : NR;
        uint32_t *panel = out + p * K2 * NR;
        if (!transB) {
            // Rows 2kp and 2kp + 1 of B, 16 columns at a time.
            for (long kp = 0; kp < K2; kp++) {
                const float *r0 = B + (2 * kp) * ldb + n0, *r1 = 2 * kp + 1 < K ? r0 + ldb : NULL;
                for (long h = 0; h < NV; h++)
                    _mm512_storeu_si512(panel + kp * NR + 16 * h, interleave16(r0 + 16 * h, r1 ? r1 + 16 * h : NULL, nn - 16 * h));
            }
        } else {
            // op(B)[k, n] = B[n·ldb + k]: column n is a row of B's storage, whose bf16 values read
            // two at a time are the words; 16 columns × 16 pairs transposed at a time.
            for (long jb = 0; jb < NR; jb += 16) {
                for (long kb = 0; kb < K2; kb += 16) {
                    long kn = K2 - kb < 16 ? K2 - kb : 16;
                    __m512i r[16], t[16];
                    for (long j = 0; j < 16; j++)
                        r[j] = jb + j < nn ? words32(B + (n0 + jb + j) * ldb + 2 * kb, K - 2 * kb) : _mm512_setzero_si512();
                    transpose16(r, t);
                    for (long q = 0; q < kn; q++) _mm512_storeu_si512(panel + (kb + q) * NR + jb, t[q]);
                }
            }
        }
    }
}

/// C tile (mr × up to NR columns) = alpha · A rows · B panel slice + beta · C, over kc pairs.
static inline __attribute__((always_inline)) void micro(int mr, long kc, const uint32_t *a, long lda,
                                                        const uint32_t *b, float *c, long ldc, long ncols,
                                                        float alpha, float beta) {
    __m512 acc[MR][NV];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = _mm512_setzero_ps();
    for (long kp = 0; kp < kc; kp++) {
        __m512bh bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = (__m512bh)_mm512_loadu_si512(b + kp * NR + 16 * v);
        for (int r = 0; r < mr; r++) {
            __m512bh av = (__m512bh)_mm512_set1_epi32((int)a[r * lda + kp]);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 mask[NV];
    for (int v = 0; v < NV; v++) {
        long left = ncols - 16 * v;
        mask[v] = left >= 16 ? 0xFFFF : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
    }
    for (int r = 0; r < mr; r++) {
        float *cr = c + r * ldc;
        for (int v = 0; v < NV; v++) {
            __m512 x = _mm512_mul_ps(va, acc[r][v]);
            if (beta != 0) x = _mm512_add_ps(x, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mask[v], cr + 16 * v)));
            _mm512_mask_storeu_ps(cr + 16 * v, mask[v], x);
        }
    }
}

static void micro_any(int mr, long kc, const uint32_t *a, long lda, const uint32_t *b, float *c, long ldc,
                      long ncols, float alpha, float beta) {
    switch (mr) {
#define CASE(n) case n: micro(n, kc, a, lda, b, c, ldc, ncols, alpha, beta); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5)
#undef CASE
        default: break;
    }
}

static void gemm_packed(const uint16_t *Ap, const uint16_t *Bp, long M, long N, long K, float alpha, float beta,
                        float *C, long ldc, long m0, long m1) {
    (void)M;
    long K2 = pairs(K), panels = nk_bf16_panels(N);
    const uint32_t *A = (const uint32_t *)Ap, *B = (const uint32_t *)Bp;
    if (K2 == 0) {
        // No products: C = beta·C.
        for (long m = m0; m < m1; m++)
            for (long n = 0; n < N; n++) C[m * ldc + n] = beta == 0 ? 0 : beta * C[m * ldc + n];
        return;
    }
    for (long kb = 0; kb < K2; kb += KC) {
        long kc = K2 - kb < KC ? K2 - kb : KC;
        float bk = kb == 0 ? beta : 1;
        for (long mb = m0; mb < m1; mb += MC) {
            long me = mb + MC < m1 ? mb + MC : m1;
            for (long p = 0; p < panels; p++) {
                const uint32_t *bs = B + (p * K2 + kb) * NR;
                long ncols = N - p * NR < NR ? N - p * NR : NR;
                long i = mb;
                for (; i + MR <= me; i += MR)
                    micro(MR, kc, A + i * K2 + kb, K2, bs, C + i * ldc + p * NR, ldc, ncols, alpha, bk);
                if (i < me)
                    micro_any((int)(me - i), kc, A + i * K2 + kb, K2, bs, C + i * ldc + p * NR, ldc, ncols, alpha, bk);
            }
        }
    }
}

#pragma clang attribute pop

static int have_bf16(void) { return (nk_cpu_features() & NK_AVX512BF16) != 0; }

int nk_bf16_gemm_packed(const uint16_t *Ap, const uint16_t *Bp, long M, long N, long K, float alpha, float beta,
                        float *C, long ldc, long m0, long m1) {
    if (!have_bf16()) return -1;
    gemm_packed(Ap, Bp, M, N, K, alpha, beta, C, ldc, m0, m1);
    return 0;
}

#endif

/// Grow-only packing buffers of the calling thread (workers are long-lived; attention calls this
/// per sequence and head, so no allocation per call), freed when the thread exits.
typedef struct { uint16_t *buf[4]; long cap[4]; } Scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void free_scratch(void *p) {
    Scratch *s = p;
    for (int i = 0; i < 4; i++) free(s->buf[i]);
    free(s);
}

static void make_scratch_key(void) { pthread_key_create(&scratch_key, free_scratch); }

uint16_t *nk_bf16_scratch(int which, long count) {
    if (which < 0 || which > 3) return NULL;
    pthread_once(&scratch_once, make_scratch_key);
    Scratch *s = pthread_getspecific(scratch_key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return NULL;
        pthread_setspecific(scratch_key, s);
    }
    if (s->cap[which] < count) {
        free(s->buf[which]);
        s->buf[which] = NULL;
        s->cap[which] = 0;
        long n = count + count / 4 + 1024;
        void *p = NULL;
        if (posix_memalign(&p, 64, (size_t)n * 2) != 0) return NULL;
        s->buf[which] = p;
        s->cap[which] = n;
    }
    return s->buf[which];
}

#if defined(__x86_64__) && !defined(NOREMBED_PORTABLE)

int nk_bf16_gemm(int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda,
                 const float *B, long ldb, float beta, float *C, long ldc) {
    if (!have_bf16()) return -1;
    if (M <= 0 || N <= 0) return 0;
    uint16_t *Ap = nk_bf16_scratch(0, nk_bf16_packed_a_size(M, K) + 32);
    uint16_t *Bp = nk_bf16_scratch(1, nk_bf16_packed_b_size(K, N) + 32);
    if (!Ap || !Bp) return -2;
    nk_bf16_pack_a(Ap, transA, M, K, A, lda, 0, M);
    nk_bf16_pack_b(Bp, transB, K, N, B, ldb, 0, nk_bf16_panels(N));
    gemm_packed(Ap, Bp, M, N, K, alpha, beta, C, ldc, 0, M);
    return 0;
}

#else

void nk_bf16_pack_a(uint16_t *Ap, int transA, long M, long K, const float *A, long lda, long m0, long m1) {
    (void)Ap; (void)transA; (void)M; (void)K; (void)A; (void)lda; (void)m0; (void)m1;
}
void nk_bf16_pack_b(uint16_t *Bp, int transB, long K, long N, const float *B, long ldb, long p0, long p1) {
    (void)Bp; (void)transB; (void)K; (void)N; (void)B; (void)ldb; (void)p0; (void)p1;
}
int nk_bf16_gemm_packed(const uint16_t *Ap, const uint16_t *Bp, long M, long N, long K, float alpha, float beta,
                        float *C, long ldc, long m0, long m1) {
    (void)Ap; (void)Bp; (void)M; (void)N; (void)K; (void)alpha; (void)beta; (void)C; (void)ldc; (void)m0; (void)m1;
    return -1;
}
int nk_bf16_gemm(int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda,
                 const float *B, long ldb, float beta, float *C, long ldc) {
    (void)transA; (void)transB; (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)lda; (void)B; (void)ldb;
    (void)beta; (void)C; (void)ldc;
    return -1;
}

#endif
