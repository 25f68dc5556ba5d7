/* test_cpu_backward.c — the CPU backend's backward-data ops of the layers with weights:
 * conv2d_bwd_data and dense_bwd_data (host/cpu/cpu_conv_bwd.c, cpu_dense_bwd.c,
 * cpu_weights.c), each checked (a) against a naive double-precision transpose written here
 * and (b) against central finite differences of the backend's own fp32 forward op, with the loss
 * L = sum(w * y) for random w, so dL/dx = bwd(w). A fused ReLU is differentiated as the engine
 * does it: activation_bwd from the stored output y, then the layer's backward-data.
 * Layouts: NHWC activations, HWIO conv kernels, IO dense kernels (Keras's), as in backend.h.
 *
 * Inputs are dyadic: x in multiples of 1/4 in [-1,1], kernels in multiples of 1/8 in [-0.5,0.5],
 * biases odd multiples of 1/64. Every pre-activation is then an odd multiple of 1/64, at least
 * 0.0156 from the ReLU kink, while an FD step moves it by at most eps*0.5 = 0.005 (a given x
 * enters a given output once), so no FD step crosses a kink.
 *
 * Tolerances (|got - ref| <= atol + rtol*|ref|):
 * - vs the double reference: a dx element sums T = kh*kw*cout (dense: out) products of dy in
 *   [-1,1] and kernel values <= 0.5 in float32; rounding adds like a random walk, s.d. ~7e-9*T
 *   (as the forward test), so atol = 1e-7*T is > 10 s.d. and still ~1000x below one missing or
 *   misplaced term (~0.1). rtol 1e-5.
 * - vs finite differences, eps = 1e-2: the ops are linear (piecewise, away from kinks), so the
 *   truncation term O(eps^2 f''') vanishes and only fp32 forward noise remains: each of the <= M
 *   outputs an x reaches carries ~6e-8*sqrt(K) rounding (K = products per output), so the
 *   quotient's noise is ~sqrt(2M)*6e-8*sqrt(K)/(2 eps) <= 1e-3 for the largest case here
 *   (7x7, M = 128, K = 147). atol 4e-3 sits above that and 25x below one missing term. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backward_check.h"
#include "host/backend.h"
#include "host/cpu/cpu_internal.h"
#include "kernels/pool_math.h"
#include "test_support.h"

#define FD_EPS 1e-2f
#define FD_ATOL 4e-3
#define FD_RTOL 1e-3
#define FD_MAX_POINTS 160 /* FD points per case: two forwards each */

static gm_test_counts counts;
static gm_test_rng rng;

/* Multiples of q in [-lim, lim]. */
static float *dyadic(size_t n, float q, float lim) {
    float *p = bc_malloc(n * sizeof *p);
    int steps = (int)(lim / q);
    for (size_t i = 0; i < n; ++i) {
        int k = (int)(gm_test_rng_uniform(&rng) * (2 * steps + 1)) - steps;
        p[i] = (float)k * q;
    }
    return p;
}

static float *uniform(size_t n, float lo, float hi) {
    float *p = bc_malloc(n * sizeof *p);
    gm_test_fill(&rng, p, n, lo, hi);
    return p;
}

/* TF "same" padding of one axis: total pad split with the odd cell at the end. */
static void same_pads(int in, int k_eff, int stride, int *lo, int *hi) {
    int out = (in + stride - 1) / stride;
    int total = (out - 1) * stride + k_eff - in;
    if (total < 0) total = 0;
    *lo = total / 2;
    *hi = total - *lo;
}

/* ---------------------------------------------------------------- conv2d */

typedef struct conv_case {
    const char *name;
    int h, w, cin, cout, kh, kw, sh, sw, dh, dw;
    int same; /* 1: TF same pads computed here; 0: the explicit pads below */
    int pt, pb, pl, pr;
    int relu; /* fused ReLU */
} conv_case;

typedef struct conv_ctx {
    gm_layer_weights *lw;
} conv_ctx;

static gm_status conv_forward(gm_backend *be, void *ctx, const gm_tensor *x, gm_tensor *y) {
    return be->ops->conv2d_fwd(be, ((conv_ctx *)ctx)->lw, x, y);
}

/* Pre-activations in double, for the ReLU mask of the reference. */
static void ref_conv_pre(const gm_conv2d_desc *d, const float *x, int n, int h, int w, const float *k,
                         const float *bias, int oh, int ow, double *pre) {
    for (int b = 0; b < n; ++b)
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
                for (int co = 0; co < d->cout; ++co) {
                    double s = bias[co];
                    for (int ky = 0; ky < d->kh; ++ky) {
                        int iy = oy * d->stride_h - d->pad_top + ky * d->dilation_h;
                        if (iy < 0 || iy >= h) continue;
                        for (int kx = 0; kx < d->kw; ++kx) {
                            int ix = ox * d->stride_w - d->pad_left + kx * d->dilation_w;
                            if (ix < 0 || ix >= w) continue;
                            for (int ci = 0; ci < d->cin; ++ci)
                                s += (double)x[((size_t)(b * h + iy) * w + ix) * d->cin + ci] *
                                     (double)k[(((size_t)ky * d->kw + kx) * d->cin + ci) * d->cout + co];
                        }
                    }
                    pre[((size_t)(b * oh + oy) * ow + ox) * d->cout + co] = s;
                }
}

/* The transpose: dx[n,iy,ix,ci] += g[n,oy,ox,co] * K[ky,kx,ci,co] for every tap reaching (iy,ix). */
static void ref_conv_bwd(const gm_conv2d_desc *d, const double *g, int n, int h, int w, const float *k, int oh,
                         int ow, double *dx) {
    memset(dx, 0, (size_t)n * h * w * d->cin * sizeof *dx);
    for (int b = 0; b < n; ++b)
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
                for (int ky = 0; ky < d->kh; ++ky) {
                    int iy = oy * d->stride_h - d->pad_top + ky * d->dilation_h;
                    if (iy < 0 || iy >= h) continue;
                    for (int kx = 0; kx < d->kw; ++kx) {
                        int ix = ox * d->stride_w - d->pad_left + kx * d->dilation_w;
                        if (ix < 0 || ix >= w) continue;
                        for (int ci = 0; ci < d->cin; ++ci) {
                            double s = 0.0;
                            for (int co = 0; co < d->cout; ++co)
                                s += g[((size_t)(b * oh + oy) * ow + ox) * d->cout + co] *
                                     (double)k[(((size_t)ky * d->kw + kx) * d->cin + ci) * d->cout + co];
                            dx[((size_t)(b * h + iy) * w + ix) * d->cin + ci] += s;
                        }
                    }
                }
}

/* One batch size: forward, the engine's backward (activation_bwd from y, then conv bwd),
 * the double reference and finite differences. */
static void run_conv_batch(gm_backend *be, const conv_case *cc, const gm_conv2d_desc *d, gm_layer_weights *lw,
                           const float *k, const float *bias, int n, int self_check) {
    const int oh = gm_pool_out_dim(cc->h, (d->kh - 1) * d->dilation_h + 1, d->stride_h, d->pad_top, d->pad_bottom);
    const int ow = gm_pool_out_dim(cc->w, (d->kw - 1) * d->dilation_w + 1, d->stride_w, d->pad_left, d->pad_right);
    const size_t xn = (size_t)n * cc->h * cc->w * cc->cin, yn = (size_t)n * oh * ow * cc->cout;
    float *x = dyadic(xn, 0.25f, 1.0f);
    float *w = uniform(yn, -1.0f, 1.0f);
    gm_tensor tx = bc_tensor(be, n, cc->h, cc->w, cc->cin, x), ty = bc_tensor(be, n, oh, ow, cc->cout, NULL);
    gm_tensor tw = bc_tensor(be, n, oh, ow, cc->cout, w), tg = bc_tensor(be, n, oh, ow, cc->cout, NULL);
    gm_tensor tdx = bc_tensor(be, n, cc->h, cc->w, cc->cin, NULL);
    gm_status st = be->ops->conv2d_fwd(be, lw, &tx, &ty);
    if (st == GM_OK) {
        gm_activation a = gm_activation_make(cc->relu ? GM_ACT_RELU : GM_ACT_LINEAR);
        st = be->ops->activation_bwd(be, &a, GM_RELU_BWD_PLAIN, &ty, &tw, &tg);
    }
    if (st == GM_OK) st = be->ops->conv2d_bwd_data(be, lw, &tg, &tdx);
    gm_test_check(&counts, st == GM_OK, "conv %s N=%d: forward, activation_bwd, conv2d_bwd_data run (%s)", cc->name,
                  n, st ? gm_last_error() : "ok");
    if (st == GM_OK) {
        float *dx = bc_download(be, &tdx);
        double *pre = bc_malloc(yn * sizeof *pre), *g = bc_malloc(yn * sizeof *g);
        double *ref = bc_malloc(xn * sizeof *ref);
        ref_conv_pre(d, x, n, cc->h, cc->w, k, bias, oh, ow, pre);
        for (size_t i = 0; i < yn; ++i) g[i] = (!cc->relu || pre[i] > 0.0) ? (double)w[i] : 0.0;
        ref_conv_bwd(d, g, n, cc->h, cc->w, k, oh, ow, ref);
        const double T = (double)d->kh * d->kw * d->cout;
        char what[200];
        snprintf(what, sizeof what, "conv %s N=%d dx (%d,%d,%d,%d) vs double reference, T=%g", cc->name, n, n, cc->h,
                 cc->w, cc->cin, T);
        gm_test_check(&counts, gm_test_close_d(what, dx, ref, xn, 1e-7 * T, 1e-5), "%s", what);
        if (self_check) {
            /* The comparison must reject one wrong element, and a NaN whatever the tolerance. */
            float saved = dx[xn / 2];
            dx[xn / 2] += 1e-2f;
            gm_test_check(&counts,
                          !gm_test_close_d("perturbed conv dx (must be rejected)", dx, ref, xn, 1e-7 * T, 1e-5),
                          "self-check: a conv dx off by 1e-2 in one element is rejected");
            dx[xn / 2] = NAN;
            gm_test_check(&counts, !gm_test_close_d("NaN conv dx (must be rejected)", dx, ref, xn, 1e6, 1e6),
                          "self-check: a NaN in dx is rejected whatever the tolerance");
            dx[xn / 2] = saved;
        }
        size_t *idx = bc_malloc(FD_MAX_POINTS * sizeof *idx);
        size_t m = bc_pick(&rng, xn, FD_MAX_POINTS, idx);
        double *fd = bc_malloc(m * sizeof *fd);
        float *got = bc_malloc(m * sizeof *got);
        conv_ctx ctx = {lw};
        int ok = bc_fd_gradient(be, conv_forward, &ctx, &tx, x, &ty, w, FD_EPS, idx, m, fd);
        bc_gather(dx, idx, m, got);
        snprintf(what, sizeof what, "conv %s N=%d dx vs central differences (%zu points, eps %g)", cc->name, n, m,
                 (double)FD_EPS);
        gm_test_check(&counts, ok && gm_test_close_d(what, got, fd, m, FD_ATOL, FD_RTOL), "%s", what);
        free(idx);
        free(fd);
        free(got);
        free(dx);
        free(pre);
        free(g);
        free(ref);
    }
    bc_free(be, &tx);
    bc_free(be, &ty);
    bc_free(be, &tw);
    bc_free(be, &tg);
    bc_free(be, &tdx);
    free(x);
    free(w);
}

static void test_conv_case(gm_backend *be, const conv_case *cc, int self_check) {
    gm_activation act = gm_activation_make(cc->relu ? GM_ACT_RELU : GM_ACT_LINEAR);
    gm_conv2d_desc d = {cc->kh, cc->kw, cc->cin, cc->cout, cc->sh, cc->sw, cc->dh, cc->dw,
                        cc->pt, cc->pb, cc->pl, cc->pr, act};
    if (cc->same) {
        same_pads(cc->h, (cc->kh - 1) * cc->dh + 1, cc->sh, &d.pad_top, &d.pad_bottom);
        same_pads(cc->w, (cc->kw - 1) * cc->dw + 1, cc->sw, &d.pad_left, &d.pad_right);
    }
    const size_t kn = (size_t)cc->kh * cc->kw * cc->cin * cc->cout;
    float *k = dyadic(kn, 0.125f, 0.5f);
    float *bias = bc_malloc((size_t)cc->cout * sizeof *bias);
    for (int i = 0; i < cc->cout; ++i) bias[i] = (float)(2 * (int)(gm_test_rng_uniform(&rng) * 32) - 31) / 64.0f;
    gm_layer_weights *lw = NULL;
    gm_status st = be->ops->conv2d_prepare(be, &d, k, bias, &lw);
    gm_test_check(&counts, st == GM_OK && lw, "conv %s prepare (%s)", cc->name, st ? gm_last_error() : "ok");
    if (st == GM_OK) {
        /* Batch 1 and 3 on the same prepared weights, then 1 again: that last call must reuse the
         * cached forward and backward primitives (no new primitive, no new reorder). */
        run_conv_batch(be, cc, &d, lw, k, bias, 1, 0);
        run_conv_batch(be, cc, &d, lw, k, bias, 3, self_check);
        int cached = 0;
        long created = 0, reorders = 0, created2 = 0, reorders2 = 0;
        gm_cpu_weights_stats(lw, &cached, &created, &reorders);
        run_conv_batch(be, cc, &d, lw, k, bias, 1, 0);
        gm_cpu_weights_stats(lw, NULL, &created2, &reorders2);
        const char *fwd = gm_cpu_weights_impl_info(lw, 3, cc->h, cc->w);
        const char *bwd = gm_cpu_weights_impl_info(lw, -3, cc->h, cc->w);
        fprintf(stderr, "  conv %s: pads (t%d,b%d,l%d,r%d); oneDNN N=3 forward %s, backward-data %s; %ld primitives, "
                        "%ld weight reorders\n",
                cc->name, d.pad_top, d.pad_bottom, d.pad_left, d.pad_right, fwd ? fwd : "(none)", bwd ? bwd : "(none)",
                created, reorders);
        gm_test_check(&counts,
                      cached == 4 && created == 4 && created2 == 4 && reorders2 == reorders && reorders >= 1 &&
                          reorders <= 3,
                      "conv %s: forward + backward primitives for N=1 and N=3 (4), reused on repeat; weights reordered "
                      "once per format: <= 2 forward formats (brgconv may block N=1 and N=3 differently) + <= 1 "
                      "backward (got %d cached, %ld created, %ld after repeat, %ld/%ld reorders)",
                      cc->name, cached, created, created2, reorders, reorders2);
        be->ops->weights_free(be, &lw);
    }
    free(k);
    free(bias);
}

static void test_conv(gm_backend *be) {
    const conv_case cases[] = {
        {"3x3 s1 same relu", 8, 8, 5, 7, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
        {"3x3 s2 same even (pads 0/1)", 8, 8, 4, 6, 3, 3, 2, 2, 1, 1, 1, 0, 0, 0, 0, 1},
        {"3x3 dilation 2 same", 9, 10, 3, 5, 3, 3, 1, 1, 2, 2, 1, 0, 0, 0, 0, 0},
        {"1x1 s2 projection", 8, 8, 16, 32, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0},
        {"7x7 s2 same (pads 2/3) rgb relu", 16, 16, 3, 8, 7, 7, 2, 2, 1, 1, 1, 0, 0, 0, 0, 1},
        {"5x3 explicit asym pads, stride (1,2)", 9, 8, 4, 5, 5, 3, 1, 2, 1, 1, 0, 1, 3, 2, 0, 0},
        {"3x3 valid s2 odd (last row/col unreached)", 8, 8, 3, 4, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 0, 1},
        {"3x3 s1 same 32->64 blocked relu", 14, 14, 32, 64, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
        {"1x1 s1 bottleneck 48->16 relu", 7, 9, 48, 16, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) test_conv_case(be, &cases[i], i == 0);
}

/* ---------------------------------------------------------------- dense */

typedef struct dense_ctx {
    gm_layer_weights *lw;
} dense_ctx;

static gm_status dense_forward(gm_backend *be, void *ctx, const gm_tensor *x, gm_tensor *y) {
    return be->ops->dense_fwd(be, ((dense_ctx *)ctx)->lw, x, y);
}

/* dx (n x in) of the dense layer with input shape (h,w,c), h*w*c = in; backward before any
 * forward when bwd_first (the Keras-layout weights are then still the only copy). */
static void test_dense_case(gm_backend *be, const char *name, int h, int w, int c, int out, int relu, int bwd_first) {
    const int in = h * w * c;
    gm_dense_desc d = {in, out, gm_activation_make(relu ? GM_ACT_RELU : GM_ACT_LINEAR)};
    float *k = dyadic((size_t)in * out, 0.125f, 0.5f);
    float *bias = bc_malloc((size_t)out * sizeof *bias);
    for (int i = 0; i < out; ++i) bias[i] = (float)(2 * (int)(gm_test_rng_uniform(&rng) * 32) - 31) / 64.0f;
    gm_layer_weights *lw = NULL;
    gm_status st = be->ops->dense_prepare(be, &d, k, bias, &lw);
    gm_test_check(&counts, st == GM_OK && lw, "dense %s prepare (%s)", name, st ? gm_last_error() : "ok");
    for (int pass = 0; st == GM_OK && pass < 2; ++pass) {
        const int n = pass == 0 ? 1 : 3;
        const size_t xn = (size_t)n * in, yn = (size_t)n * out;
        float *x = dyadic(xn, 0.25f, 1.0f), *wt = uniform(yn, -1.0f, 1.0f);
        gm_tensor tx = bc_tensor(be, n, h, w, c, x), ty = bc_tensor(be, n, 1, 1, out, NULL);
        gm_tensor tw = bc_tensor(be, n, 1, 1, out, wt), tg = bc_tensor(be, n, 1, 1, out, NULL);
        gm_tensor tdx = bc_tensor(be, n, h, w, c, NULL);
        gm_activation a = d.act;
        if (bwd_first && pass == 0 && !relu) st = be->ops->dense_bwd_data(be, lw, &tw, &tdx);
        if (st == GM_OK) st = be->ops->dense_fwd(be, lw, &tx, &ty);
        if (st == GM_OK) st = be->ops->activation_bwd(be, &a, GM_RELU_BWD_PLAIN, &ty, &tw, &tg);
        if (st == GM_OK) st = be->ops->dense_bwd_data(be, lw, &tg, &tdx);
        gm_test_check(&counts, st == GM_OK, "dense %s N=%d runs (%s)", name, n, st ? gm_last_error() : "ok");
        if (st == GM_OK) {
            float *dx = bc_download(be, &tdx);
            double *ref = bc_malloc(xn * sizeof *ref);
            for (int b = 0; b < n; ++b) {
                double *g = bc_malloc((size_t)out * sizeof *g);
                for (int o = 0; o < out; ++o) {
                    double pre = bias[o];
                    for (int i = 0; i < in; ++i) pre += (double)x[(size_t)b * in + i] * k[(size_t)i * out + o];
                    g[o] = (!relu || pre > 0.0) ? wt[(size_t)b * out + o] : 0.0;
                }
                for (int i = 0; i < in; ++i) {
                    double s = 0.0;
                    for (int o = 0; o < out; ++o) s += g[o] * (double)k[(size_t)i * out + o];
                    ref[(size_t)b * in + i] = s;
                }
                free(g);
            }
            char what[200];
            snprintf(what, sizeof what, "dense %s N=%d dx (%d,%d,%d,%d) vs double reference, T=%d", name, n, n, h, w, c,
                     out);
            gm_test_check(&counts, gm_test_close_d(what, dx, ref, xn, 1e-7 * out, 1e-5), "%s", what);
            size_t *idx = bc_malloc(FD_MAX_POINTS * sizeof *idx);
            size_t m = bc_pick(&rng, xn, FD_MAX_POINTS, idx);
            double *fd = bc_malloc(m * sizeof *fd);
            float *got = bc_malloc(m * sizeof *got);
            dense_ctx ctx = {lw};
            int ok = bc_fd_gradient(be, dense_forward, &ctx, &tx, x, &ty, wt, FD_EPS, idx, m, fd);
            bc_gather(dx, idx, m, got);
            snprintf(what, sizeof what, "dense %s N=%d dx vs central differences (%zu points)", name, n, m);
            gm_test_check(&counts, ok && gm_test_close_d(what, got, fd, m, FD_ATOL, FD_RTOL), "%s", what);
            free(idx);
            free(fd);
            free(got);
            free(dx);
            free(ref);
        }
        bc_free(be, &tx);
        bc_free(be, &ty);
        bc_free(be, &tw);
        bc_free(be, &tg);
        bc_free(be, &tdx);
        free(x);
        free(wt);
    }
    if (lw) {
        long created = 0, reorders = 0;
        gm_cpu_weights_stats(lw, NULL, &created, &reorders);
        const char *bwd = gm_cpu_weights_impl_info(lw, -3, 1, 1);
        fprintf(stderr, "  dense %s: oneDNN N=3 backward-data %s; %ld primitives, %ld weight reorders\n", name,
                bwd ? bwd : "(none)", created, reorders);
        gm_test_check(&counts, created == 4 && reorders >= 1 && reorders <= 2,
                      "dense %s: 4 primitives (fwd/bwd x N=1,3), at most one reorder per format (got %ld, %ld)", name,
                      created, reorders);
        be->ops->weights_free(be, &lw);
    }
    free(k);
    free(bias);
}

/* ---------------------------------------------------------------- errors */

static void test_errors(gm_backend *be) {
    gm_conv2d_desc d = {3, 3, 2, 4, 1, 1, 1, 1, 1, 1, 1, 1, gm_activation_make(GM_ACT_LINEAR)};
    float k[3 * 3 * 2 * 4] = {0};
    gm_layer_weights *lw = NULL;
    if (be->ops->conv2d_prepare(be, &d, k, NULL, &lw) != GM_OK) return;
    gm_tensor dy = bc_tensor(be, 2, 5, 5, 4, NULL), bad = bc_tensor(be, 2, 5, 4, 4, NULL);
    gm_tensor dx = bc_tensor(be, 2, 5, 5, 2, NULL);
    gm_status st = be->ops->conv2d_bwd_data(be, lw, &bad, &dx);
    gm_test_check(&counts, st == GM_ERR_SHAPE && strstr(gm_last_error(), "conv2d_bwd_data"),
                  "conv2d_bwd_data with dy (2,5,4,4) for dx (2,5,5,2) is a shape error naming the op: %s",
                  gm_last_error());
    st = be->ops->dense_bwd_data(be, lw, &dy, &dx);
    gm_test_check(&counts, st == GM_ERR_INVALID_ARG, "dense_bwd_data on conv weights is refused: %s", gm_last_error());
    bc_free(be, &dy);
    bc_free(be, &bad);
    bc_free(be, &dx);
    be->ops->weights_free(be, &lw);
}

int main(void) {
    gm_test_rng_seed(&rng, 20240603);
    gm_backend *be = NULL;
    if (gm_cpu_backend_create(NULL, &be) != GM_OK) {
        fprintf(stderr, "cpu backend: %s\n", gm_last_error());
        return 1;
    }
    test_conv(be);
    test_dense_case(be, "rank-2 37->10", 1, 1, 37, 10, 0, 1);
    test_dense_case(be, "rank-4 (3,4,5) flatten->12 relu", 3, 4, 5, 12, 1, 0);
    test_dense_case(be, "rank-2 256->64 relu", 1, 1, 256, 64, 1, 0);
    test_errors(be);
    gm_backend_close(&be);
    return gm_test_summary(&counts);
}
