// The element-wise kernels for AVX-512 (16 lanes); see elementwise_impl.h.
#include "CKernels.h"

#if defined(__x86_64__) && !defined(NOREMBED_PORTABLE)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512dq,avx512bw,avx512vl"))), apply_to = function)
#define W 16
#define S avx512
#define VMIN _mm512_min_ps
#define VMAX _mm512_max_ps
#define VSQRT _mm512_sqrt_ps
#include "elementwise_impl.h"
#pragma clang attribute pop
#endif
