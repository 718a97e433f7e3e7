// Kernels that need instruction sets beyond the package's baseline build: AVX2 and AVX-512
// versions of the element-wise ops, and bf16 matrix products on AVX512-BF16, each compiled with
// `__attribute__((target(...)))` and chosen at run time from what the CPU supports
// (`nk_cpu_features`). Swift cannot mark one function for another instruction set, hence C.
//
// Every element-wise kernel does, lane by lane, the same IEEE operations in the same order as
// the Swift kernels in Sources/NN/Ops (no fused multiply-adds, reductions in the same order), so
// all paths give bit-identical results (NNTests/KernelDispatchTests pins each against a scalar
// reference). Everything x86-specific compiles only on x86-64 without NOREMBED_PORTABLE; the
// declarations below are always present, and Swift calls them only under the same condition.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: CPU features

enum {
    NK_AVX2 = 1,        // AVX2 + FMA (+ OS support for ymm state)
    NK_AVX512 = 2,      // AVX-512 F, DQ, BW, VL (+ OS support for zmm state)
    NK_AVX512BF16 = 4,  // AVX512_BF16 (vdpbf16ps), on top of NK_AVX512
};

/// What this CPU supports (NK_* bits), capped by EMBEDKIT_ISA (baseline, avx2, avx512, avx512bf16)
/// when set; 0 in a portable build or off x86-64.
int nk_cpu_features(void);
/// What the CPU supports, ignoring EMBEDKIT_ISA.
int nk_cpu_features_detected(void);

// MARK: Element-wise kernels (x86-64 only; suffix _avx512 or _avx2). n = element count.

#define NK_DECLARE_ELEMENTWISE(S) \
    void nk_gelu_fwd_##S(float *out, const float *x, long n); \
    void nk_gelu_bwd_##S(float *dx, const float *dout, const float *x, long n); \
    void nk_gelu_tanh_fwd_##S(float *out, const float *x, long n); \
    void nk_gelu_tanh_bwd_##S(float *dx, const float *dout, const float *x, long n); \
    void nk_geglu_fwd_##S(float *y, const float *u, long rows, long I); \
    void nk_geglu_bwd_##S(float *du, const float *dy, const float *u, long rows, long I); \
    void nk_softmax_rows_##S(float *x, long rows, long cols); \
    void nk_softmax_rows_bwd_##S(float *d, const float *p, long rows, long cols); \
    void nk_layernorm_fwd_##S(float *out, float *mean, float *rstd, const float *x, const float *w, \
                              const float *b, long rows, long C, float eps); \
    void nk_layernorm_bwd_##S(float *dx, const float *dout, const float *x, const float *mean, \
                              const float *rstd, const float *w, long rows, long C, int accumulate); \
    void nk_layernorm_param_grads_##S(float *dw, float *db, const float *dout, const float *x, \
                                      const float *mean, const float *rstd, long T, long C, long c0, long c1); \
    void nk_dropout_##S(float *out, const float *x, long n, uint64_t key, long index0, \
                        uint64_t threshold, float scale); \
    void nk_adamw_##S(float *values, const float *grads, float *m, float *v, long n, float gradScale, \
                      int decay, float decayFactor, float b1, float b2, float stepSize, float bc2Sqrt, float eps);

NK_DECLARE_ELEMENTWISE(avx512)
NK_DECLARE_ELEMENTWISE(avx2)

// MARK: bf16

/// fp32 → bf16, round to nearest even (NaN stays NaN, quieted); the rounding every bf16 path uses.
uint16_t nk_bf16_from_float(float x);
float nk_bf16_to_float(uint16_t x);
/// out[i] = float(bf16(x[i])): x rounded to bf16 precision (the portable emulation and the tests).
void nk_bf16_round_floats(float *out, const float *x, long n);

/// C[M, N] = alpha · op(A) · op(B) + beta · C, row-major, op(A) [M, K], op(B) [K, N]; the
/// operands rounded to bf16, products and sums in fp32 (vdpbf16ps). On the calling thread, with
/// thread-local packing buffers. Requires NK_AVX512BF16 (returns -1 without it, C untouched).
int nk_bf16_gemm(int transA, int transB, long M, long N, long K, float alpha, const float *A, long lda,
                 const float *B, long ldb, float beta, float *C, long ldc);

/// The same in two phases for several threads: pack op(A) (rows m0..<m1) and op(B) (column
/// panels p0..<p1 of nk_bf16_panels(N)) into caller-owned buffers, then compute rows m0..<m1 of C.
long nk_bf16_packed_a_size(long M, long K);   // in uint16_t
long nk_bf16_packed_b_size(long K, long N);   // in uint16_t
long nk_bf16_panels(long N);
/// A grow-only, 64-byte aligned buffer of `count` uint16_t owned by the calling thread (slots 0 and
/// 1 are nk_bf16_gemm's; 2 and 3 are free for a caller's packed operands). NULL if out of memory.
uint16_t *nk_bf16_scratch(int slot, long count);
void nk_bf16_pack_a(uint16_t *Ap, int transA, long M, long K, const float *A, long lda, long m0, long m1);
void nk_bf16_pack_b(uint16_t *Bp, int transB, long K, long N, const float *B, long ldb, long p0, long p1);
int nk_bf16_gemm_packed(const uint16_t *Ap, const uint16_t *Bp, long M, long N, long K, float alpha,
                        float beta, float *C, long ldc, long m0, long m1);

#ifdef __cplusplus
}
#endif

#endif
