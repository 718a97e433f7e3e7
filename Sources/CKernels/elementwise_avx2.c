// The element-wise kernels for AVX2 (8 lanes); see elementwise_impl.h.
#include "CKernels.h"

#if defined(__x86_64__) && !defined(NOREMBED_PORTABLE)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define W 8
#define S avx2
#define VMIN _mm256_min_ps
#define VMAX _mm256_max_ps
#define VSQRT _mm256_sqrt_ps
#include "elementwise_impl.h"
#pragma clang attribute pop
#endif
