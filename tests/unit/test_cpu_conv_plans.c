/* test_cpu_conv_plans.c — the CPU backend's convolution plans (host/cpu/cpu_conv_plan.c) against a
 * naive double-precision reference: direct, Winograd (both passes, and backward-data only, the
 * default) and bf16 operands (both passes, and fp32 forward with bf16 backward-data), forward and
 * backward-data of a 3x3 stride-1 "same" layer of 32 -> 64 channels on 14x14 (eligible for
 * Winograd), batch 2, then batch 3 on the same weights (the cached primitives and the staging
 * reorders run again).
 *
 * Inputs are random, not dyadic, so that bf16 rounding really changes them.
 *
 * Error measure: per output element |got - ref| / S, with S = sum over its T terms of |a*b| (the
 * scale every rounding error of a dot product is proportional to), maximum over elements. NaN in
 * `got` counts as an infinite error.
 * Bounds, with u = 2^-24 (fp32 unit roundoff):
 * - direct fp32: a T-term float32 sum is within T*u*S of the exact one (the classic worst case),
 *   so the bound is T*u (T = 288 forward, 576 backward);
 * - Winograd F(4x4,3x3): its input and output transforms scale values by up to 4 per dimension, so
 *   its error constant is larger than direct's, but far from the worst case: measured here max
 *   5.5e-7 of S forward and 4.7e-7 backward, against 2.2e-7 for direct and T*u = 1.7e-5 / 3.4e-5.
 *   So it is held to the same bound T*u, still ~200x below a missing or misplaced term (~1/T of S
 *   on average, ~3e-3; the self-checks below plant one);
 * - bf16 operands: the reference rounds the same operands to bf16 (round to nearest even) and
 *   sums in double, so only fp32 accumulation remains: bound T*u. The same output against the
 *   unrounded reference must miss that bound (bf16 has an 8-bit significand: errors ~2^-9 of S),
 *   which shows the bound can tell rounded from unrounded operands. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/backend.h"
#include "host/cpu/cpu_internal.h"
#include "test_support.h"

#define H 14
#define W 14
#define CIN 32
#define COUT 64
#define U (1.0 / 16777216.0)

static gm_test_counts counts;
static gm_test_rng rng;

/* bfloat16 rounding of a float, to nearest even, as oneDNN converts (NaN stays NaN). */
static float round_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return f;
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void maybe_round(float *dst, const float *src, size_t n, int bf16) {
    for (size_t i = 0; i < n; ++i) dst[i] = bf16 ? round_bf16(src[i]) : src[i];
}

/* Forward with "same" pads of 1 and no bias or activation: y and S (sum of |terms|) in double. */
static void ref_forward(const float *x, const float *k, int n, double *y, double *s) {
    for (int b = 0; b < n; ++b)
        for (int oy = 0; oy < H; ++oy)
            for (int ox = 0; ox < W; ++ox)
                for (int co = 0; co < COUT; ++co) {
                    double acc = 0.0, mag = 0.0;
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx) {
                            int iy = oy - 1 + ky, ix = ox - 1 + kx;
                            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                            for (int ci = 0; ci < CIN; ++ci) {
                                double t = (double)x[((size_t)(b * H + iy) * W + ix) * CIN + ci] *
                                           (double)k[((size_t)(ky * 3 + kx) * CIN + ci) * COUT + co];
                                acc += t;
                                mag += fabs(t);
                            }
                        }
                    size_t o = ((size_t)(b * H + oy) * W + ox) * COUT + co;
                    y[o] = acc;
                    s[o] = mag;
                }
}

/* Backward-data: dx[iy,ix,ci] = sum dy[oy,ox,co] * k[ky,kx,ci,co] over the taps reaching it. */
static void ref_backward(const float *dy, const float *k, int n, double *dx, double *s) {
    for (int b = 0; b < n; ++b)
        for (int iy = 0; iy < H; ++iy)
            for (int ix = 0; ix < W; ++ix)
                for (int ci = 0; ci < CIN; ++ci) {
                    double acc = 0.0, mag = 0.0;
                    for (int ky = 0; ky < 3; ++ky)
                        for (int kx = 0; kx < 3; ++kx) {
                            int oy = iy + 1 - ky, ox = ix + 1 - kx;
                            if (oy < 0 || oy >= H || ox < 0 || ox >= W) continue;
                            for (int co = 0; co < COUT; ++co) {
                                double t = (double)dy[((size_t)(b * H + oy) * W + ox) * COUT + co] *
                                           (double)k[((size_t)(ky * 3 + kx) * CIN + ci) * COUT + co];
                                acc += t;
                                mag += fabs(t);
                            }
                        }
                    size_t o = ((size_t)(b * H + iy) * W + ix) * CIN + ci;
                    dx[o] = acc;
                    s[o] = mag;
                }
}

/* Largest |got - ref| / S over the elements (infinite for a NaN or Inf in got). */
static double scaled_error(const float *got, const double *ref, const double *s, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; ++i) {
        if (!isfinite(got[i])) return INFINITY;
        double e = fabs((double)got[i] - ref[i]) / (s[i] > 0.0 ? s[i] : 1.0);
        if (e > worst) worst = e;
    }
    return worst;
}

typedef struct plan_case {
    const char *name;
    gm_backend_config cfg;
    int fwd_bf16, bwd_bf16;       /* operands rounded to bf16 in that pass */
    /* Substring expected in oneDNN's implementation name, or "!x": x must not appear. */
    const char *fwd_impl, *bwd_impl;
} plan_case;

static void run_batch(gm_backend *be, const plan_case *pc, gm_layer_weights *lw, const float *k, int n) {
    const size_t xn = (size_t)n * H * W * CIN, yn = (size_t)n * H * W * COUT;
    float *x = malloc(xn * sizeof *x), *dy = malloc(yn * sizeof *dy);
    float *xr = malloc(xn * sizeof *xr), *dyr = malloc(yn * sizeof *dyr);
    float *kr = malloc((size_t)9 * CIN * COUT * sizeof *kr);
    double *ref = malloc((xn > yn ? xn : yn) * sizeof *ref), *s = malloc((xn > yn ? xn : yn) * sizeof *s);
    if (!x || !dy || !xr || !dyr || !kr || !ref || !s) {
        gm_test_check(&counts, 0, "%s N=%d: out of memory", pc->name, n);
        goto done;
    }
    gm_test_fill(&rng, x, xn, -1.0f, 1.0f);
    gm_test_fill(&rng, dy, yn, -1.0f, 1.0f);
    gm_tensor tx = gm_test_backend_tensor(be, n, H, W, CIN, x), ty = gm_test_backend_tensor(be, n, H, W, COUT, NULL);
    gm_tensor tdy = gm_test_backend_tensor(be, n, H, W, COUT, dy), tdx = gm_test_backend_tensor(be, n, H, W, CIN, NULL);
    gm_status st = be->ops->conv2d_fwd(be, lw, &tx, &ty);
    if (st == GM_OK) st = be->ops->conv2d_bwd_data(be, lw, &tdy, &tdx);
    gm_test_check(&counts, st == GM_OK, "%s N=%d: forward and backward-data run (%s)", pc->name, n,
                  st ? gm_last_error() : "ok");
    if (st == GM_OK) {
        float *y = gm_test_backend_to_host(be, &ty), *dx = gm_test_backend_to_host(be, &tdx);
        const double tf = 9.0 * CIN, tb = 9.0 * COUT;
        maybe_round(xr, x, xn, pc->fwd_bf16);
        maybe_round(kr, k, (size_t)9 * CIN * COUT, pc->fwd_bf16);
        ref_forward(xr, kr, n, ref, s);
        double ef = scaled_error(y, ref, s, yn);
        gm_test_check(&counts, ef <= tf * U,
                      "%s N=%d forward vs double reference%s: max error %.3g of S (bound %.3g)", pc->name, n,
                      pc->fwd_bf16 ? " on bf16-rounded operands" : "", ef, tf * U);
        if (pc->fwd_bf16) {
            ref_forward(x, k, n, ref, s);
            double eu = scaled_error(y, ref, s, yn);
            gm_test_check(&counts, eu > tf * U,
                          "%s N=%d forward vs the UNROUNDED reference misses the bound (error %.3g): the operands "
                          "were rounded",
                          pc->name, n, eu);
        }
        maybe_round(dyr, dy, yn, pc->bwd_bf16);
        maybe_round(kr, k, (size_t)9 * CIN * COUT, pc->bwd_bf16);
        ref_backward(dyr, kr, n, ref, s);
        double eb = scaled_error(dx, ref, s, xn);
        gm_test_check(&counts, eb <= tb * U,
                      "%s N=%d backward-data vs double reference%s: max error %.3g of S (bound %.3g)", pc->name, n,
                      pc->bwd_bf16 ? " on bf16-rounded operands" : "", eb, tb * U);
        if (n == 2) {
            /* The error measure must catch a NaN and a wrong element. */
            float saved = dx[7];
            dx[7] = NAN;
            gm_test_check(&counts, isinf(scaled_error(dx, ref, s, xn)), "%s: a NaN in dx is an infinite error",
                          pc->name);
            dx[7] = saved + (float)(3e-3 * s[7]);
            gm_test_check(&counts, scaled_error(dx, ref, s, xn) > tb * U,
                          "%s: one dx element off by 3e-3 of its S misses the bound", pc->name);
        }
        free(y);
        free(dx);
    }
    gm_test_tensor_free(be, &tx);
    gm_test_tensor_free(be, &ty);
    gm_test_tensor_free(be, &tdy);
    gm_test_tensor_free(be, &tdx);
done:
    free(x);
    free(dy);
    free(xr);
    free(dyr);
    free(kr);
    free(ref);
    free(s);
}

static int impl_matches(const char *impl, const char *want) {
    if (!impl) return 0;
    return want[0] == '!' ? strstr(impl, want + 1) == NULL : strstr(impl, want) != NULL;
}

static void run_case(const plan_case *pc) {
    gm_backend *be = NULL;
    gm_status st = gm_cpu_backend_create(&pc->cfg, &be);
    if (st != GM_OK && pc->cfg.precision == GM_PRECISION_BF16 &&
        (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core_bf16) != dnnl_cpu_isa_avx512_core_bf16) {
        gm_test_check(&counts, strstr(gm_last_error(), "AVX-512 BF16") != NULL,
                      "%s: refused on a CPU without AVX-512 BF16, saying why (%s)", pc->name, gm_last_error());
        return;
    }
    gm_test_check(&counts, st == GM_OK, "%s: backend opens (%s)", pc->name, st ? gm_last_error() : "ok");
    if (st != GM_OK) return;
    gm_activation lin = gm_activation_make(GM_ACT_LINEAR);
    gm_conv2d_desc d = {3, 3, CIN, COUT, 1, 1, 1, 1, 1, 1, 1, 1, lin};
    float *k = malloc((size_t)9 * CIN * COUT * sizeof *k);
    gm_test_fill(&rng, k, (size_t)9 * CIN * COUT, -0.5f, 0.5f);
    gm_layer_weights *lw = NULL;
    st = be->ops->conv2d_prepare(be, &d, k, NULL, &lw);
    gm_test_check(&counts, st == GM_OK, "%s: prepare (%s)", pc->name, st ? gm_last_error() : "ok");
    if (st == GM_OK) {
        run_batch(be, pc, lw, k, 2);
        const gm_cpu_backend *cb = gm_cpu_cast(be);
        size_t staged[2] = {cb->scratch_bytes[0], cb->scratch_bytes[1]};
        run_batch(be, pc, lw, k, 2);
        gm_test_check(&counts, cb->scratch_bytes[0] == staged[0] && cb->scratch_bytes[1] == staged[1],
                      "%s: a repeated batch grows no staging buffer (%zu, %zu bytes)", pc->name, staged[0], staged[1]);
        run_batch(be, pc, lw, k, 3);
        const char *fi = gm_cpu_weights_impl_info(lw, 3, H, W), *bi = gm_cpu_weights_impl_info(lw, -3, H, W);
        fprintf(stderr, "  %s: oneDNN forward %s, backward-data %s\n", pc->name, fi ? fi : "?", bi ? bi : "?");
        gm_test_check(&counts, impl_matches(fi, pc->fwd_impl), "%s: forward implementation matches '%s' (got %s)",
                      pc->name, pc->fwd_impl, fi ? fi : "(none)");
        gm_test_check(&counts, impl_matches(bi, pc->bwd_impl),
                      "%s: backward-data implementation matches '%s' (got %s)", pc->name,
                      pc->bwd_impl, bi ? bi : "(none)");
        be->ops->weights_free(be, &lw);
    }
    free(k);
    gm_backend_close(&be);
}

int main(void) {
    gm_test_rng_seed(&rng, 20261122);
    const plan_case cases[] = {
        {"direct", {.threads = 2, .conv_algo = GM_CONV_ALGO_DIRECT}, 0, 0, "!wino", "!wino"},
        {"auto (Winograd backward-data)", {.threads = 2}, 0, 0, "!wino", "wino"},
        {"winograd", {.threads = 2, .conv_algo = GM_CONV_ALGO_WINOGRAD}, 0, 0, "wino", "wino"},
        {"bf16", {.threads = 2, .precision = GM_PRECISION_BF16}, 1, 1, "bf16", "bf16"},
        {"bf16 with fp32 forward", {.threads = 2, .precision = GM_PRECISION_BF16, .fp32_forward = 1}, 0, 1,
         "!bf16", "bf16"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) run_case(&cases[i]);
    return gm_test_summary(&counts);
}
