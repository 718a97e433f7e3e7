// oneDNN against our kernels on the linear layers' shapes (issue 13, BENCHMARKS.md "bf16 matrix
// products"): fp32 dnnl_sgemm against OpenBLAS's cblas_sgemm, and oneDNN's bf16 matmul against
// CKernels' nk_bf16_gemm, all on 2 threads, best of interleaved rounds. Built and run by
// tools/bench_onednn.sh (needs libdnnl-dev); not part of the package.
//
// oneDNN's bf16 matmul is timed two ways: "convert" includes the fp32 → bf16 reorders of both
// operands on every call (what training needs, and what nk_bf16_gemm does: its packing converts),
// "pre-packed" reorders the weights once outside the timing into the layout oneDNN prefers
// (what an inference engine could do) and converts only the activations per call.

#include "CKernels.h" // before cblas.h, whose complex.h defines I
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(x) do { dnnl_status_t s_ = (x); if (s_ != dnnl_success) { fprintf(stderr, "%s: %d\n", #x, (int)s_); exit(1); } } while (0)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct { const char *name; long M, N, K; int transA, transB; } Shape;

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static dnnl_memory_t make_mem(const dnnl_memory_desc_t *md, void *handle) {
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, engine, handle ? handle : DNNL_MEMORY_ALLOCATE));
    return m;
}

/// A prepared oneDNN bf16 matmul for one shape: fp32 operands in our layouts, their bf16 copies,
/// and the reorder primitives between them (created once: only execution is timed).
typedef struct {
    dnnl_primitive_t mm, src_re, wei_re;
    dnnl_memory_t src32, src16, wei32, wei16, dst;
} OneDNNMatmul;

static OneDNNMatmul prepare(const Shape *s, float *A, float *B, float *C) {
    OneDNNMatmul o;
    dnnl_dims_t a_dims = {s->M, s->K}, b_dims = {s->K, s->N}, c_dims = {s->M, s->N};
    // op(A) [M, K] stored as A [M, K] (ab) or as Aᵀ [K, M] (ba); likewise op(B).
    dnnl_memory_desc_t a32, a16, b32, b16any, c32;
    CHECK(dnnl_memory_desc_init_by_tag(&a32, 2, a_dims, dnnl_f32, s->transA ? dnnl_ba : dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&a16, 2, a_dims, dnnl_bf16, s->transA ? dnnl_ba : dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&b32, 2, b_dims, dnnl_f32, s->transB ? dnnl_ba : dnnl_ab));
    CHECK(dnnl_memory_desc_init_by_tag(&b16any, 2, b_dims, dnnl_bf16, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&c32, 2, c_dims, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t d;
    CHECK(dnnl_matmul_desc_init(&d, &a16, &b16any, NULL, &c32));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &d, NULL, engine, NULL));
    CHECK(dnnl_primitive_create(&o.mm, pd));
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    o.src32 = make_mem(&a32, A);
    o.src16 = make_mem(&a16, NULL);
    o.wei32 = make_mem(&b32, B);
    o.wei16 = make_mem(wmd, NULL);
    o.dst = make_mem(&c32, C);
    dnnl_primitive_desc_t rpd;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, &a32, engine, &a16, engine, NULL));
    CHECK(dnnl_primitive_create(&o.src_re, rpd));
    dnnl_primitive_desc_destroy(rpd);
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, &b32, engine, wmd, engine, NULL));
    CHECK(dnnl_primitive_create(&o.wei_re, rpd));
    dnnl_primitive_desc_destroy(rpd);
    dnnl_primitive_desc_destroy(pd);
    return o;
}

static void run_reorder(dnnl_primitive_t p, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    CHECK(dnnl_primitive_execute(p, stream, 2, args));
}

static void run_onednn(const OneDNNMatmul *o, int convert_weights) {
    run_reorder(o->src_re, o->src32, o->src16);
    if (convert_weights) run_reorder(o->wei_re, o->wei32, o->wei16);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, o->src16}, {DNNL_ARG_WEIGHTS, o->wei16}, {DNNL_ARG_DST, o->dst}};
    CHECK(dnnl_primitive_execute(o->mm, stream, 3, args));
    CHECK(dnnl_stream_wait(stream));
}

/// nk_bf16_gemm on 2 threads, split as the trainer's bf16LinearGemm splits it: both operands
/// packed (rows of op(A), panels of op(B)) by both threads, then each computes half the rows of C.
/// (A thread started per call: ~50 µs against calls of 2–10 ms, a cost on our side only.)
typedef struct { const Shape *s; const float *A, *B; float *C; uint16_t *Ap, *Bp; int k, packB; pthread_barrier_t *bar; } Half;

static void *half(void *arg) {
    Half *h = arg;
    const Shape *s = h->s;
    long lda = s->transA ? s->M : s->K, ldb = s->transB ? s->K : s->N, panels = nk_bf16_panels(s->N), k = h->k;
    nk_bf16_pack_a(h->Ap, s->transA, s->M, s->K, h->A, lda, s->M * k / 2, s->M * (k + 1) / 2);
    if (h->packB) nk_bf16_pack_b(h->Bp, s->transB, s->K, s->N, h->B, ldb, panels * k / 2, panels * (k + 1) / 2);
    pthread_barrier_wait(h->bar);
    nk_bf16_gemm_packed(h->Ap, h->Bp, s->M, s->N, s->K, 1, 0, h->C, s->N, s->M * k / 2, s->M * (k + 1) / 2);
    return NULL;
}

/// `packB` 0: op(B) is already in Bp (the frozen weight panels of inference).
static void run_ours(const Shape *s, const float *A, const float *B, float *C, uint16_t *Ap, uint16_t *Bp, int packB) {
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    Half h[2] = {{s, A, B, C, Ap, Bp, 0, packB, &bar}, {s, A, B, C, Ap, Bp, 1, packB, &bar}};
    pthread_t t;
    pthread_create(&t, NULL, half, &h[1]);
    half(&h[0]);
    pthread_join(t, NULL);
    pthread_barrier_destroy(&bar);
}

static void run_sgemm(const Shape *s, const float *A, const float *B, float *C) {
    cblas_sgemm(CblasRowMajor, s->transA ? CblasTrans : CblasNoTrans, s->transB ? CblasTrans : CblasNoTrans,
                (int)s->M, (int)s->N, (int)s->K, 1, A, s->transA ? (int)s->M : (int)s->K, B,
                s->transB ? (int)s->K : (int)s->N, 0, C, (int)s->N);
}

static void run_dnnl_sgemm(const Shape *s, const float *A, const float *B, float *C) {
    CHECK(dnnl_sgemm(s->transA ? 'T' : 'N', s->transB ? 'T' : 'N', s->M, s->N, s->K, 1, A,
                     s->transA ? s->M : s->K, B, s->transB ? s->K : s->N, 0, C, s->N));
}

static double max_rel_diff(const float *x, const float *ref, long n) {
    double num = 0, den = 0;
    for (long i = 0; i < n; i++) {
        double d = (double)x[i] - ref[i];
        num = d * d > num ? d * d : num;
        den = (double)ref[i] * ref[i] > den ? (double)ref[i] * ref[i] : den;
    }
    return den > 0 ? __builtin_sqrt(num / den) : 0;
}

enum { METHODS = 6 };
static const char *method_names[METHODS] = {
    "OpenBLAS sgemm", "dnnl_sgemm", "ours (nk_bf16), convert", "oneDNN bf16, convert", "ours, pre-packed", "oneDNN bf16, pre-packed"};

int main(int argc, char **argv) {
    long T = argc > 1 ? atol(argv[1]) : 958;
    int rounds = argc > 2 ? atoi(argv[2]) : 15;
    openblas_set_num_threads(2);
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    // NorBERT3-base's linear layers (768 wide, q·k and v/out projections, GEGLU 2 × 2048) and
    // MiniLM-L6's (384, fused qkv, FFN 1536) at T tokens: forward y = x·Wᵀ, dx = dy·W, dW = dyᵀ·x.
    Shape shapes[] = {
        {"NorBERT3 qk fwd", T, 1536, 768, 0, 1},  {"NorBERT3 qk dx", T, 768, 1536, 0, 0},
        {"NorBERT3 qk dW", 1536, 768, T, 1, 0},   {"NorBERT3 v/out fwd", T, 768, 768, 0, 1},
        {"NorBERT3 v/out dx", T, 768, 768, 0, 0}, {"NorBERT3 v/out dW", 768, 768, T, 1, 0},
        {"NorBERT3 ffn in fwd", T, 4096, 768, 0, 1}, {"NorBERT3 ffn in dx", T, 768, 4096, 0, 0},
        {"NorBERT3 ffn in dW", 4096, 768, T, 1, 0},  {"NorBERT3 ffn out fwd", T, 768, 2048, 0, 1},
        {"NorBERT3 ffn out dx", T, 2048, 768, 0, 0}, {"NorBERT3 ffn out dW", 768, 2048, T, 1, 0},
        {"MiniLM qkv fwd", T, 1152, 384, 0, 1},  {"MiniLM qkv dx", T, 384, 1152, 0, 0},
        {"MiniLM qkv dW", 1152, 384, T, 1, 0},   {"MiniLM ffn in fwd", T, 1536, 384, 0, 1},
        {"MiniLM ffn in dx", T, 384, 1536, 0, 0}, {"MiniLM ffn in dW", 1536, 384, T, 1, 0},
    };
    int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    printf("T = %ld tokens, 2 threads each, best of %d interleaved rounds, GFLOP/s "
           "(max |diff| / max |ref| of each bf16 result against OpenBLAS's fp32 in brackets)\n\n", T, rounds);
    printf("| shape (M×N×K) |");
    for (int m = 0; m < METHODS; m++) printf(" %s |", method_names[m]);
    printf("\n|---|");
    for (int m = 0; m < METHODS; m++) printf("---:|");
    printf("\n");
    double flops_total = 0, time_total[METHODS] = {0};
    for (int si = 0; si < nshapes; si++) {
        const Shape *s = &shapes[si];
        long asz = s->M * s->K, bsz = s->K * s->N, csz = s->M * s->N;
        float *A = malloc(asz * 4), *B = malloc(bsz * 4), *C = malloc(csz * 4), *ref = malloc(csz * 4);
        uint16_t *Ap = malloc((nk_bf16_packed_a_size(s->M, s->K) + 32) * 2), *Bp = malloc((nk_bf16_packed_b_size(s->K, s->N) + 32) * 2);
        srand(7 + si);
        for (long i = 0; i < asz; i++) A[i] = (float)((double)rand() / RAND_MAX - 0.5);
        for (long i = 0; i < bsz; i++) B[i] = (float)((double)rand() / RAND_MAX - 0.5);
        OneDNNMatmul o = prepare(s, A, B, C);
        run_reorder(o.wei_re, o.wei32, o.wei16); // for "pre-packed"
        CHECK(dnnl_stream_wait(stream));
        run_sgemm(s, A, B, ref);
        double best[METHODS], err[METHODS] = {0};
        for (int m = 0; m < METHODS; m++) best[m] = 1e30;
        for (int r = 0; r < rounds; r++) {
            for (int m = 0; m < METHODS; m++) {
                double t0 = now();
                switch (m) {
                    case 0: run_sgemm(s, A, B, C); break;
                    case 1: run_dnnl_sgemm(s, A, B, C); break;
                    case 2: run_ours(s, A, B, C, Ap, Bp, 1); break;
                    case 3: run_onednn(&o, 1); break;
                    case 4: run_ours(s, A, B, C, Ap, Bp, 0); break;
                    case 5: run_onednn(&o, 0); break;
                }
                double t = now() - t0;
                if (t < best[m]) best[m] = t;
                if (r == 0) err[m] = max_rel_diff(C, ref, csz);
            }
        }
        double flops = 2.0 * s->M * s->N * s->K;
        flops_total += flops;
        printf("| %s %ld×%ld×%ld |", s->name, s->M, s->N, s->K);
        for (int m = 0; m < METHODS; m++) {
            time_total[m] += best[m];
            printf(m >= 2 ? " %.1f (%.0e) |" : " %.1f |", flops / best[m] * 1e-9, err[m]);
        }
        printf("\n");
        dnnl_primitive_destroy(o.mm); dnnl_primitive_destroy(o.src_re); dnnl_primitive_destroy(o.wei_re);
        dnnl_memory_destroy(o.src32); dnnl_memory_destroy(o.src16); dnnl_memory_destroy(o.wei32);
        dnnl_memory_destroy(o.wei16); dnnl_memory_destroy(o.dst);
        free(A); free(B); free(C); free(ref); free(Ap); free(Bp);
    }
    printf("| **all shapes combined** |");
    for (int m = 0; m < METHODS; m++) printf(" **%.1f** |", flops_total / time_total[m] * 1e-9);
    printf("\n");
    return 0;
}
