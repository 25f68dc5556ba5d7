/* gpu_pair.c — see gpu_pair.h. The tolerances of the convolution / GEMM ops live here so that the
 * op test and the model test state them once.
 *
 * gm_pair_gemm_bound, per precision (inputs of the op tests: x, dy in [-1,1], weights in
 * [-0.5,0.5], so one product has s.d. ~0.17 and an output's exact value has r.m.s. `scale`):
 * - fp32: oneDNN and cuDNN/cuBLAS both accumulate in float32 but in different orders (blocked
 *   loops, implicit GEMM tiles, split-K) and cuDNN may pick Winograd or FFT algorithms for fp32.
 *   One side's rounding error has s.d. ~7e-9*K (test_cpu_ops.c: ~2^-24 times a running sum
 *   growing like a random walk), so 1e-7*K is 10 s.d. of one side; two independent sides give
 *   2e-7*K. The 1e-5 floor absorbs the transform arithmetic of Winograd/FFT (a few 1e-6 of the
 *   output scale); rtol 1e-4 covers fused sigmoid/tanh computed by different libms. A missing or
 *   misplaced tap moves an output by ~0.17, over 100x the bound at the K used here.
 * - tf32 / fp16 / bf16: both operands of every product are rounded to a short mantissa (unit
 *   roundoff u = 2^-11 for tf32 and fp16, 2^-8 for bf16), so a product is off by a relative
 *   error of variance 2u^2/3 with a random sign, while accumulation stays float32. Over K terms
 *   the output's error has s.d. ~0.82 u * scale (the exact sum's r.m.s. is sqrt(sum of squared
 *   products)). The worst of a few thousand outputs stays under 5 s.d. ~ 4u*scale: atol = 8u*scale
 *   leaves a factor of two; rtol 4u (fp16: 5u) covers an output stored once in the reduced type
 *   and the fused activation. tf32 gets 10u: tensor cores may truncate fp32 to tf32 instead of
 *   rounding, which doubles u, and 10u is still 6 s.d. then. In all: ~4.9e-3 (tf32), ~3.9e-3
 *   (fp16), ~3.1e-2 (bf16) of the scale.
 *   These runs prove the reduced-precision paths are wired (descriptors, conversions, padding);
 *   the indexing itself is held to the tight fp32 bound by the same code. */
#include "gpu_pair.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gm_pair_bound gm_pair_ulps(double max_ulps, double atol) {
    gm_pair_bound b = {GM_PAIR_ULPS, max_ulps, atol, 0.0};
    return b;
}

gm_pair_bound gm_pair_tol(double atol, double rtol) {
    gm_pair_bound b = {GM_PAIR_TOL, 0.0, atol, rtol};
    return b;
}

gm_backend *gm_pair_open_cuda(gm_precision precision) {
    gm_backend_config cfg = {0};
    cfg.precision = precision;
    gm_backend *be = NULL;
    /* Harness self-check: a second CPU backend stands in for CUDA, so every comparison must pass
     * (the same code on both sides) and the test programs themselves run on machines without a GPU. */
    const char *as_cpu = getenv("GM_TEST_CUDA_AS_CPU");
    const int self_check = as_cpu && !strcmp(as_cpu, "1");
    if (self_check) cfg.precision = GM_PRECISION_FP32; /* the CPU backend computes in fp32 only */
    gm_status st = gm_backend_open(self_check ? "cpu" : "cuda", &cfg, &be);
    if (self_check) fprintf(stderr, "  GM_TEST_CUDA_AS_CPU=1: the 'cuda' side is a second CPU backend\n");
    if (st == GM_ERR_NO_DEVICE && !self_check) {
        /* The registry says "no device" also when the plugin is missing or does not load (a CUDA
         * build must run on machines without CUDA). A plugin this build made and cannot load is a
         * failure, never a skip, or a broken plugin would pass the gpu tier on a GPU machine. */
        char saved[1024], why[1024];
        snprintf(saved, sizeof saved, "%s", gm_last_error());
        if (gm_test_cuda_plugin_status(why, sizeof why) < 0) {
            fprintf(stderr, "FAIL the CUDA plugin of this build is broken: %s\n", why);
            exit(1);
        }
        printf("SKIP: %s\n", saved);
        fflush(stdout);
        exit(GM_TEST_SKIP);
    }
    if (st != GM_OK || !be) {
        fprintf(stderr, "FAIL the CUDA backend (%s) does not open: %s (%s)\n", gm_precision_name(precision),
                gm_last_error(), gm_status_name(st));
        exit(1);
    }
    char info[512] = "";
    if (be->ops->describe && be->ops->describe(be, info, sizeof info) == GM_OK)
        fprintf(stderr, "  cuda backend, precision %s: %s\n", gm_precision_name(precision), info);
    return be;
}

gm_backend *gm_pair_open_cpu(void) {
    gm_backend_config cfg = {0};
    gm_backend *be = NULL;
    if (gm_backend_open("cpu", &cfg, &be) != GM_OK || !be) {
        fprintf(stderr, "FAIL the CPU backend does not open: %s\n", gm_last_error());
        exit(1);
    }
    return be;
}

gm_pair_tensor gm_pair_tensor_make(const gm_pair *p, int n, int h, int w, int c, const float *host) {
    gm_pair_tensor t;
    t.cpu = gm_test_device_tensor(p->cpu, n, h, w, c, host);
    t.gpu = gm_test_device_tensor(p->gpu, n, h, w, c, host);
    return t;
}

void gm_pair_tensor_free(const gm_pair *p, gm_pair_tensor *t) {
    gm_test_tensor_free(p->cpu, &t->cpu);
    gm_test_tensor_free(p->gpu, &t->gpu);
}

static float *gm_pair_buffer_one(gm_backend *be, const float *host, size_t count) {
    void *mem = NULL;
    if (be->ops->alloc(be, count * sizeof(float), &mem) != GM_OK ||
        be->ops->upload(be, mem, host, count * sizeof(float)) != GM_OK) {
        fprintf(stderr, "%s buffer of %zu floats: %s\n", be->ops->name, count, gm_last_error());
        exit(2);
    }
    return mem;
}

gm_pair_buffer gm_pair_buffer_make(const gm_pair *p, const float *host, size_t count) {
    gm_pair_buffer b;
    b.cpu = gm_pair_buffer_one(p->cpu, host, count);
    b.gpu = gm_pair_buffer_one(p->gpu, host, count);
    return b;
}

void gm_pair_buffer_free(const gm_pair *p, gm_pair_buffer *b) {
    void *c = b->cpu, *g = b->gpu;
    p->cpu->ops->free(p->cpu, &c);
    p->gpu->ops->free(p->gpu, &g);
    b->cpu = b->gpu = NULL;
}

gm_status gm_pair_keep(gm_status st, char msg[256]) {
    if (st != GM_OK)
        snprintf(msg, 256, "%s", gm_last_error());
    else
        msg[0] = '\0';
    return st;
}

void gm_pair_record_free(gm_pair_record *r) {
    for (int i = 0; i < r->count; ++i) {
        free(r->data[i]);
        free(r->label[i]);
    }
    free(r->data);
    free(r->n);
    free(r->label);
    memset(r, 0, sizeof *r);
}

/* Stores (record) or checks (replay) one CUDA result; see gm_pair_record. got == NULL (the op
 * failed, already counted) keeps the positions of later results aligned and checks nothing. */
static void gm_pair_record_result(const gm_pair *p, const char *what, const float *got, size_t n) {
    gm_pair_record *r = p->record;
    if (!r->replay) {
        if (r->count == r->cap) {
            int cap = r->cap ? 2 * r->cap : 64;
            float **d = realloc(r->data, (size_t)cap * sizeof *d);
            if (d) r->data = d;
            size_t *nn = realloc(r->n, (size_t)cap * sizeof *nn);
            if (nn) r->n = nn;
            char **l = realloc(r->label, (size_t)cap * sizeof *l);
            if (l) r->label = l;
            if (!d || !nn || !l) {
                fprintf(stderr, "out of memory\n");
                exit(2);
            }
            r->cap = cap;
        }
        float *copy = got ? malloc((n ? n : 1) * sizeof *copy) : NULL;
        char *label = strdup(what);
        if ((got && !copy) || !label) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        if (got) memcpy(copy, got, n * sizeof *copy);
        r->data[r->count] = copy;
        r->n[r->count] = n;
        r->label[r->count++] = label;
        return;
    }
    int i = r->next++;
    if (!got || (i < r->count && !r->data[i])) return;
    int same = i < r->count && r->n[i] == n && !strcmp(r->label[i], what) && !memcmp(r->data[i], got, n * sizeof *got);
    size_t diff = 0;
    if (i < r->count && r->n[i] == n)
        for (size_t k = 0; k < n; ++k) diff += memcmp(&r->data[i][k], &got[k], sizeof *got) != 0;
    gm_test_check(p->counts, same, "%s [%s]: bit for bit the fp32 backend's result (%zu of %zu floats differ)", what,
                  gm_precision_name(p->precision), diff, n);
}

int gm_pair_compare(const gm_pair *p, const char *what, const gm_pair_status *st, const gm_pair_tensor *t,
                    gm_pair_bound bound) {
    if (st->cpu != GM_OK || st->gpu != GM_OK) {
        gm_test_check(p->counts, 0, "%s [%s]: cpu %s%s%s, cuda %s%s%s", what, gm_precision_name(p->precision),
                      gm_status_name(st->cpu), st->cpu ? ": " : "", st->cpu_msg, gm_status_name(st->gpu),
                      st->gpu ? ": " : "", st->gpu_msg);
        if (p->record) gm_pair_record_result(p, what, NULL, 0);
        return 0;
    }
    /* download waits for the stream, so a kernel fault surfaces here at the latest. */
    float *ref = gm_test_backend_to_host(p->cpu, &t->cpu);
    float *got = gm_test_backend_to_host(p->gpu, &t->gpu);
    size_t n = gm_tensor_count(&t->cpu);
    char label[256];
    snprintf(label, sizeof label, "%s [%s]", what, gm_precision_name(p->precision));
    int ok = bound.rule == GM_PAIR_ULPS ? gm_test_close_ulps(label, got, ref, n, bound.max_ulps, bound.atol)
                                        : gm_test_close(label, got, ref, n, bound.atol, bound.rtol);
    gm_test_check(p->counts, ok, "%s", label);
    if (p->record) gm_pair_record_result(p, what, got, n);
    free(ref);
    free(got);
    return ok;
}

gm_pair_bound gm_pair_gemm_bound(gm_precision precision, int k, double scale) {
    const double u11 = 1.0 / 2048.0, u8 = 1.0 / 256.0; /* unit roundoffs: 10- and 7-bit mantissas */
    switch (precision) {
    case GM_PRECISION_TF32: return gm_pair_tol(10.0 * u11 * scale, 4.0 * u11);
    case GM_PRECISION_FP16: return gm_pair_tol(8.0 * u11 * scale, 5.0 * u11);
    case GM_PRECISION_BF16: return gm_pair_tol(8.0 * u8 * scale, 4.0 * u8);
    case GM_PRECISION_FP32: break;
    }
    return gm_pair_tol(1e-5 + 2e-7 * k, 1e-4);
}

float *gm_pair_random(const gm_pair *p, size_t n, float lo, float hi) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (!x) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    gm_test_fill(p->rng, x, n, lo, hi);
    return x;
}

float *gm_pair_quantized(const gm_pair *p, size_t n, float lo, float hi, int levels) {
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (!x) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (size_t i = 0; i < n; ++i) {
        int k = (int)(gm_test_rng_uniform(p->rng) * levels);
        x[i] = levels > 1 ? lo + (hi - lo) * (float)k / (float)(levels - 1) : lo;
    }
    return x;
}
