// The element-wise kernels, written once over W-lane vectors (clang vector extensions) and
// compiled twice: elementwise_avx512.c (W = 16) and elementwise_avx2.c (W = 8), each under its own
// target attribute. The includer defines W, S (the name suffix), VMIN, VMAX and VSQRT (the
// minps/maxps/sqrtps of its width: same NaN-operand rule as SSE's, which the Swift kernels use).
//
// Bit-identical to the Swift kernels (Sources/NN/Ops/VectorMath.swift, Activation.swift,
// AttentionCore.swift, LayerNorm.swift, Dropout.swift, AdamW.swift): the same IEEE operations per
// lane in the same order, no contraction into fused multiply-adds, constants with the exact bits
// Swift's literals have, and every reduction in the Swift code's order (8 lane accumulators summed
// lane 0 to 7, then a serial tail; LayerNorm backward's sums serial).

#pragma STDC FP_CONTRACT OFF

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef float vf __attribute__((vector_size(W * 4)));
typedef int32_t vi __attribute__((vector_size(W * 4)));
typedef float vfu __attribute__((vector_size(W * 4), aligned(4)));
typedef float vf8 __attribute__((vector_size(32)));
typedef float vf8u __attribute__((vector_size(32), aligned(4)));
typedef uint64_t vu64 __attribute__((vector_size(W * 4)));
typedef int64_t vi64 __attribute__((vector_size(W * 4)));
typedef int32_t vi32h __attribute__((vector_size(W * 2)));

#define NK_CAT2(a, b) a##_##b
#define NK_CAT(a, b) NK_CAT2(a, b)
#define NK_FN(name) NK_CAT(name, S)
#define F(bits) __builtin_bit_cast(float, (uint32_t)(bits))

#define INLINE static inline __attribute__((always_inline))

INLINE vf ld(const float *p) { return *(const vfu *)p; }
INLINE void st(float *p, vf v) { *(vfu *)p = v; }
INLINE vf splat(float x) { return (vf){0} + x; }
/// The first n (< W) floats at p, the other lanes `fill`.
INLINE vf ldp(const float *p, long n, float fill) {
    float t[W];
    for (int i = 0; i < W; i++) t[i] = fill;
    memcpy(t, p, (size_t)n * 4);
    return *(const vfu *)t;
}
INLINE void stp(float *p, vf v, long n) {
    float t[W];
    *(vfu *)t = v;
    memcpy(p, t, (size_t)n * 4);
}
INLINE vf sel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }
INLINE vf vabs(vf x) { return (vf)((vi)x & 0x7FFFFFFF); }
INLINE vi signbits(vf x) { return (vi)x & (int32_t)0x80000000; }
INLINE vf keepnan(vf r, vf x) { return sel(x != x, x, r); }

/// Lanes 0..7 summed in order (SIMD8.sum() in Swift adds lane by lane from lane 0).
INLINE float sum8(vf8 v) {
    float s = -0.0f;
    for (int i = 0; i < 8; i++) s += v[i];
    return s;
}

// MARK: exp, erf, tanh (VectorMath.swift's exp4, erf4, tanh4)

INLINE vf vexp(vf x) {
    const vf magic = splat(F(0x4b400000));
    vf xc = VMIN(VMAX(x, splat(F(0xc2d00000))), splat(F(0x42b20000)));
    vf shifted = xc * F(0x3fb8aa3b) + magic;
    vf n = shifted - magic;
    vf r = (xc - n * F(0x3f318000)) - n * F(0xb95e8083);
    vf p = splat(F(0x3ab634f6));
    p = p * r + F(0x3c09058e);
    p = p * r + F(0x3d2aaadd);
    p = p * r + F(0x3e2aaa6f);
    p = p * r + 0.5f;
    vf er = 1.0f + (r + r * r * p);
    vi ni = (vi)shifted - (vi)magic;
    vi half = ni >> 1;
    vf s1 = (vf)((half + 127) << 23);
    vf s2 = (vf)(((ni - half) + 127) << 23);
    return keepnan((er * s1) * s2, x);
}

INLINE vf verf(vf x) {
    vf ax = vabs(x);
    vf s = x * x;
    vf pa = splat(F(0x38a57264));
    pa = pa * s + F(0xba5242f5);
    pa = pa * s + F(0x3baa0cfa);
    pa = pa * s + F(0xbcdbfdda);
    pa = pa * s + F(0x3de71690);
    pa = pa * s + F(0xbec0939f);
    pa = pa * s + F(0x3e0375d4);
    vf small = x + x * pa;
    vf xb = VMIN(VMAX(ax, splat(1.0f)), splat(4.0f));
    vf w = (xb - 2.5f) * F(0x3f2aaaab);
    vf q = splat(F(0xb8101b0c));
    q = q * w + F(0x38c94b2b);
    q = q * w + F(0xb91e4a1b);
    q = q * w + F(0x39c16a53);
    q = q * w + F(0xba846843);
    q = q * w + F(0x3b1eec78);
    q = q * w + F(0xbbb68740);
    q = q * w + F(0x3c4c8b2c);
    q = q * w + F(0xbcdd3a03);
    q = q * w + F(0x3d65d490);
    q = q * w + F(0xbde46523);
    q = q * w + F(0x3e57dd9f);
    vf big = (vf)((vi)(1.0f - vexp(0.0f - xb * xb) * q) | signbits(x));
    return keepnan(sel(ax < 1.0f, small, big), x);
}

INLINE vf vtanh(vf x) {
    vf ax = vabs(x);
    vf s = x * x;
    vf p = splat(F(0x3b164349));
    p = p * s + F(0xbc08b564);
    p = p * s + F(0x3cb254cb);
    p = p * s + F(0xbd5d0464);
    p = p * s + F(0x3e088875);
    p = p * s + F(0xbeaaaaab);
    vf small = ax + ax * (s * p);
    vf e = vexp(2.0f * VMIN(ax, splat(F(0x4111999a))));
    vf big = 1.0f - 2.0f / (e + 1.0f);
    vf r = (vf)((vi)sel(ax < F(0x3f200000), small, big) | signbits(x));
    return keepnan(r, x);
}

// MARK: GELU, GELU-tanh, GEGLU (Activation.swift)

#define INV_SQRT2 F(0x3f3504f3)
#define INV_SQRT2PI F(0x3ecc422a)
#define SQRT2_OVER_PI F(0x3f4c422a)
#define C044715 F(0x3d372713)
#define C3X044715 F(0x3e095d4e)

INLINE vf gelu(vf v) { return 0.5f * v * (1.0f + verf(v * INV_SQRT2)); }
INLINE vf gelu_d(vf v) {
    vf cdf = 0.5f * (1.0f + verf(v * INV_SQRT2));
    vf pdf = vexp(-0.5f * v * v) * INV_SQRT2PI;
    return cdf + v * pdf;
}
INLINE vf gelu_tanh(vf v) { return 0.5f * v * (1.0f + vtanh(SQRT2_OVER_PI * (v + C044715 * v * v * v))); }
INLINE vf gelu_tanh_d(vf v) {
    vf u = SQRT2_OVER_PI * (v + C044715 * v * v * v);
    vf th = vtanh(u);
    vf du = SQRT2_OVER_PI * (1.0f + C3X044715 * v * v);
    return 0.5f * (1.0f + th) + 0.5f * v * (1.0f - th * th) * du;
}

// out[i] = f(x[i]); the tail through a zero-padded vector, as map8 does.
#define MAP1(f, out, x, n)                                                          \
    do {                                                                            \
        long i_ = 0;                                                                \
        for (; i_ + W <= (n); i_ += W) st((out) + i_, f(ld((x) + i_)));             \
        if (i_ < (n)) stp((out) + i_, f(ldp((x) + i_, (n) - i_, 0)), (n) - i_);     \
    } while (0)

void NK_FN(nk_gelu_fwd)(float *out, const float *x, long n) { MAP1(gelu, out, x, n); }
void NK_FN(nk_gelu_tanh_fwd)(float *out, const float *x, long n) { MAP1(gelu_tanh, out, x, n); }

void NK_FN(nk_gelu_bwd)(float *dx, const float *dout, const float *x, long n) {
    long i = 0;
    for (; i + W <= n; i += W) st(dx + i, ld(dout + i) * gelu_d(ld(x + i)));
    if (i < n) stp(dx + i, ldp(dout + i, n - i, 0) * gelu_d(ldp(x + i, n - i, 0)), n - i);
}

void NK_FN(nk_gelu_tanh_bwd)(float *dx, const float *dout, const float *x, long n) {
    long i = 0;
    for (; i + W <= n; i += W) st(dx + i, ld(dout + i) * gelu_tanh_d(ld(x + i)));
    if (i < n) stp(dx + i, ldp(dout + i, n - i, 0) * gelu_tanh_d(ldp(x + i, n - i, 0)), n - i);
}

void NK_FN(nk_geglu_fwd)(float *y, const float *u, long rows, long I) {
    for (long t = 0; t < rows; t++) {
        const float *a = u + t * 2 * I, *g = a + I;
        float *yt = y + t * I;
        long i = 0;
        for (; i + W <= I; i += W) st(yt + i, ld(a + i) * gelu_tanh(ld(g + i)));
        if (i < I) stp(yt + i, ldp(a + i, I - i, 0) * gelu_tanh(ldp(g + i, I - i, 0)), I - i);
    }
}

void NK_FN(nk_geglu_bwd)(float *du, const float *dy, const float *u, long rows, long I) {
    for (long t = 0; t < rows; t++) {
        const float *a = u + t * 2 * I, *g = a + I, *d = dy + t * I;
        float *da = du + t * 2 * I, *dg = da + I;
        long i = 0;
        for (; i + W <= I; i += W) {
            vf dv = ld(d + i), av = ld(a + i), gv = ld(g + i);
            st(da + i, dv * gelu_tanh(gv));
            st(dg + i, dv * av * gelu_tanh_d(gv));
        }
        if (i < I) {
            long k = I - i;
            vf dv = ldp(d + i, k, 0), av = ldp(a + i, k, 0), gv = ldp(g + i, k, 0);
            stp(da + i, dv * gelu_tanh(gv), k);
            stp(dg + i, dv * av * gelu_tanh_d(gv), k);
        }
    }
}

// MARK: Softmax (AttentionCore.swift)

/// Swift's max(x, y): y >= x ? y : x.
INLINE float smax(float x, float y) { return y >= x ? y : x; }

/// Σ a[i]·b[i] as Vector.swift's dot: eight lane accumulators, lanes summed in order, serial tail.
INLINE float dot8(const float *a, const float *b, long n) {
    vf8 acc = {0};
    long i = 0;
    for (; i + 8 <= n; i += 8) acc += *(const vf8u *)(a + i) * *(const vf8u *)(b + i);
    float s = sum8(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

#if W == 16
INLINE vf8 lo8(vf v) { return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7); }
INLINE vf8 hi8(vf v) { return __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15); }
#endif

void NK_FN(nk_softmax_rows)(float *x, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        float *row = x + r * cols;
        if (cols < 32) {
            // Short rows stay scalar, with libm's expf, as in Swift.
            float m = -INFINITY;
            for (long j = 0; j < cols; j++) m = smax(m, row[j]);
            float s = 0;
            for (long j = 0; j < cols; j++) {
                float e = expf(row[j] - m);
                row[j] = e;
                s += e;
            }
            float inv = 1 / s;
            for (long j = 0; j < cols; j++) row[j] *= inv;
            continue;
        }
        // The maximum is exact in any order.
        vf mv = splat(-INFINITY);
        long j = 0;
        for (; j + W <= cols; j += W) mv = VMAX(mv, ld(row + j));
        float m = mv[0];
        for (int l = 1; l < W; l++) m = smax(m, mv[l]);
        for (; j < cols; j++) m = smax(m, row[j]);
        // The sum in eight lanes, chunk by chunk in order, as Swift's Float8 loop.
        vf8 sv = {0};
        j = 0;
#if W == 16
        for (; j + 16 <= cols; j += 16) {
            vf e = vexp(ld(row + j) - m);
            st(row + j, e);
            sv += lo8(e);
            sv += hi8(e);
        }
        if (j + 8 <= cols) {
            vf e = vexp(ldp(row + j, 8, -INFINITY) - m);
            stp(row + j, e, 8);
            sv += lo8(e);
            j += 8;
        }
        if (j < cols) {
            vf e = vexp(ldp(row + j, cols - j, -INFINITY) - m);
            stp(row + j, e, cols - j);
            sv += lo8(e);
        }
#else
        for (; j + 8 <= cols; j += 8) {
            vf e = vexp(ld(row + j) - m);
            st(row + j, e);
            sv += e;
        }
        if (j < cols) {
            vf e = vexp(ldp(row + j, cols - j, -INFINITY) - m);
            stp(row + j, e, cols - j);
            sv += e;
        }
#endif
        float inv = 1 / sum8(sv);
        j = 0;
        for (; j + W <= cols; j += W) st(row + j, ld(row + j) * inv);
        if (j < cols) stp(row + j, ldp(row + j, cols - j, 0) * inv, cols - j);
    }
}

void NK_FN(nk_softmax_rows_bwd)(float *d, const float *p, long rows, long cols) {
    for (long r = 0; r < rows; r++) {
        float *dr = d + r * cols;
        const float *pr = p + r * cols;
        float s = dot8(dr, pr, cols);
        long j = 0;
        for (; j + W <= cols; j += W) st(dr + j, ld(pr + j) * (ld(dr + j) - s));
        if (j < cols) stp(dr + j, ldp(pr + j, cols - j, 0) * (ldp(dr + j, cols - j, 0) - s), cols - j);
    }
}

// MARK: LayerNorm (LayerNorm.swift, Vector.swift's sum and sumOfSquaredDeviations)

void NK_FN(nk_layernorm_fwd)(float *out, float *mean, float *rstd, const float *x, const float *w,
                              const float *b, long rows, long C, float eps) {
    for (long t = 0; t < rows; t++) {
        const float *xt = x + t * C;
        vf8 acc = {0};
        long i = 0;
        for (; i + 8 <= C; i += 8) acc += *(const vf8u *)(xt + i);
        float s = sum8(acc);
        for (; i < C; i++) s += xt[i];
        float m = s / (float)C;
        vf8 acc2 = {0};
        i = 0;
        for (; i + 8 <= C; i += 8) {
            vf8 dv = *(const vf8u *)(xt + i) - m;
            acc2 += dv * dv;
        }
        float v = sum8(acc2);
        for (; i < C; i++) {
            float dv = xt[i] - m;
            v += dv * dv;
        }
        float r = 1 / sqrtf(v / (float)C + eps);
        mean[t] = m;
        rstd[t] = r;
        float *ot = out + t * C;
        i = 0;
        if (w && b) {
            for (; i + W <= C; i += W) st(ot + i, (ld(xt + i) - m) * r * ld(w + i) + ld(b + i));
            for (; i < C; i++) ot[i] = (xt[i] - m) * r * w[i] + b[i];
        } else if (w) {
            for (; i + W <= C; i += W) st(ot + i, (ld(xt + i) - m) * r * ld(w + i));
            for (; i < C; i++) ot[i] = (xt[i] - m) * r * w[i];
        } else {
            for (; i + W <= C; i += W) st(ot + i, (ld(xt + i) - m) * r);
            for (; i < C; i++) ot[i] = (xt[i] - m) * r;
        }
    }
}

void NK_FN(nk_layernorm_bwd)(float *dx, const float *dout, const float *x, const float *mean,
                              const float *rstd, const float *w, long rows, long C, int accumulate) {
    float dnormBuf[4096];
    float *dnorm = C <= 4096 ? dnormBuf : (float *)malloc((size_t)C * 4);
    for (long t = 0; t < rows; t++) {
        const float *xt = x + t * C, *dt = dout + t * C;
        float *dxt = dx + t * C;
        float m = mean[t], r = rstd[t];
        long i = 0;
        if (w) {
            for (; i + W <= C; i += W) st(dnorm + i, ld(dt + i) * ld(w + i));
            for (; i < C; i++) dnorm[i] = dt[i] * w[i];
        } else {
            memcpy(dnorm, dt, (size_t)C * 4);
        }
        // Serial sums, in the Swift loop's order.
        float s1 = 0, s2 = 0;
        for (i = 0; i < C; i++) {
            s1 += dnorm[i];
            s2 += dnorm[i] * (xt[i] - m) * r;
        }
        s1 /= (float)C;
        s2 /= (float)C;
        i = 0;
        if (accumulate) {
            for (; i + W <= C; i += W)
                st(dxt + i, ld(dxt + i) + r * (ld(dnorm + i) - s1 - (ld(xt + i) - m) * r * s2));
            for (; i < C; i++) dxt[i] += r * (dnorm[i] - s1 - (xt[i] - m) * r * s2);
        } else {
            for (; i + W <= C; i += W) st(dxt + i, r * (ld(dnorm + i) - s1 - (ld(xt + i) - m) * r * s2));
            for (; i < C; i++) dxt[i] = r * (dnorm[i] - s1 - (xt[i] - m) * r * s2);
        }
    }
    if (dnorm != dnormBuf) free(dnorm);
}

void NK_FN(nk_layernorm_param_grads)(float *dw, float *db, const float *dout, const float *x,
                                      const float *mean, const float *rstd, long T, long C, long c0, long c1) {
    for (long t = 0; t < T; t++) {
        const float *xt = x + t * C, *dt = dout + t * C;
        float m = mean[t], r = rstd[t];
        long i;
        if (dw) {
            for (i = c0; i + W <= c1; i += W) st(dw + i, ld(dw + i) + ld(dt + i) * (ld(xt + i) - m) * r);
            for (; i < c1; i++) dw[i] += dt[i] * (xt[i] - m) * r;
        }
        if (db) {
            for (i = c0; i + W <= c1; i += W) st(db + i, ld(db + i) + ld(dt + i));
            for (; i < c1; i++) db[i] += dt[i];
        }
    }
}

// MARK: Dropout (Dropout.swift, Random.swift's CounterRandom.bits)

INLINE vu64 mix64(vu64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

INLINE uint64_t mix64s(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/// The keep mask of W consecutive indices from `index`, as 32-bit lanes (-1 keep, 0 drop).
INLINE vi keep_mask(uint64_t key, uint64_t index, uint64_t threshold) {
    vu64 lanes;
    for (int l = 0; l < W / 2; l++) lanes[l] = (uint64_t)l;
    const uint64_t golden = 0x9E3779B97F4A7C15ull;
    vu64 a = mix64(key + (index + lanes) * golden);
    vu64 b = mix64(key + (index + (W / 2) + lanes) * golden);
    vi64 ka = (vi64)((a >> 40) >= threshold), kb = (vi64)((b >> 40) >= threshold);
    vi32h ha = __builtin_convertvector(ka, vi32h), hb = __builtin_convertvector(kb, vi32h);
#if W == 16
    return __builtin_shufflevector(ha, hb, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
#else
    return __builtin_shufflevector(ha, hb, 0, 1, 2, 3, 4, 5, 6, 7);
#endif
}

void NK_FN(nk_dropout)(float *out, const float *x, long n, uint64_t key, long index0, uint64_t threshold,
                       float scale) {
    long i = 0;
    for (; i + W <= n; i += W) {
        vi keep = keep_mask(key, (uint64_t)(index0 + i), threshold);
        st(out + i, (vf)(keep & (vi)(ld(x + i) * scale)));
    }
    const uint64_t golden = 0x9E3779B97F4A7C15ull;
    for (; i < n; i++) {
        uint64_t bits = mix64s(key + (uint64_t)(index0 + i) * golden);
        out[i] = (bits >> 40) >= threshold ? x[i] * scale : 0;
    }
}

// MARK: AdamW (AdamW.swift)

void NK_FN(nk_adamw)(float *values, const float *grads, float *m, float *v, long n, float gradScale, int decay,
                     float decayFactor, float b1, float b2, float stepSize, float bc2Sqrt, float eps) {
    const float c1 = 1 - b1, c2 = 1 - b2;
#define ADAMW_LANES(G0, P0, M0, V0, P, MI, VI)                                \
    vf g = gradScale == 1 ? (G0) : (G0) * gradScale;                          \
    vf p = decay ? (P0) * decayFactor : (P0);                                 \
    vf MI = b1 * (M0) + c1 * g;                                               \
    vf VI = b2 * (V0) + c2 * g * g;                                           \
    vf P = p - stepSize * (MI / (VSQRT(VI) / bc2Sqrt + eps));
    long i = 0;
    for (; i + W <= n; i += W) {
        ADAMW_LANES(ld(grads + i), ld(values + i), ld(m + i), ld(v + i), pn, mi, vi_)
        st(values + i, pn);
        st(m + i, mi);
        st(v + i, vi_);
    }
    if (i < n) {
        long k = n - i;
        ADAMW_LANES(ldp(grads + i, k, 0), ldp(values + i, k, 0), ldp(m + i, k, 0), ldp(v + i, k, 0), pn, mi, vi_)
        stp(values + i, pn, k);
        stp(m + i, mi, k);
        stp(v + i, vi_, k);
    }
#undef ADAMW_LANES
}
