/* test_cpu_ops.c — the CPU backend's forward operations (host/cpu/) against naive
 * double-precision references written here, on small seeded random shapes, plus the shared
 * per-element math of kernels/activation_math.h, elementwise_math.h and pool_math.h.
 * Layouts: NHWC activations, HWIO conv kernels, IO dense kernels (Keras's), as in backend.h.
 *
 * Tolerances (|got - ref| <= atol + rtol*|ref|):
 * - conv / dense: each output is a sum of K = kh*kw*cin (or `in`) products of x in [-1,1] and
 *   w in [-0.5,0.5] (term s.d. 0.17) accumulated in float32. Rounding errors of ~2^-24 times the
 *   running sum (s.d. 0.17*sqrt(j) after j terms) add like a random walk, giving an error s.d.
 *   near 7e-9*K; atol = 1e-7*K is over 10 s.d. and still 1000x smaller than one missing or
 *   misplaced term (~0.1), so any indexing or padding mistake fails. rtol 1e-5 covers the
 *   activation post-ops (oneDNN's own exp/tanh approximations are within a few ulps).
 * - pooling, gmp, zero padding, add, rescale, affine: no accumulation (max, copies, one or two
 *   roundings) so they are compared exactly or to 1 ulp; average pooling sums <= 9 values: 1e-6.
 * - gap: mean of up to 35 values summed in double: 1e-6.
 * - sigmoid/tanh/softmax loops: libm expf/tanhf are within 1-2 ulps: atol 1e-6, rtol 1e-5. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/backend.h"
#include "host/cpu/cpu_internal.h"
#include "kernels/activation_math.h"
#include "kernels/elementwise_math.h"
#include "kernels/pool_math.h"
#include "test_support.h"

static gm_test_counts counts;
static gm_test_rng rng;
static gm_backend *be;

/* ---------------------------------------------------------------- helpers */

static float *rand_floats(size_t n, float lo, float hi) {
    float *p = malloc((n ? n : 1) * sizeof *p);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    gm_test_fill(&rng, p, n, lo, hi);
    return p;
}

/* A backend tensor holding a copy of host data (or uninitialised when host == NULL). */
static gm_tensor dev_tensor(int n, int h, int w, int c, const float *host) {
    return gm_test_backend_tensor(be, n, h, w, c, host);
}

static float *to_host(const gm_tensor *t) { return gm_test_backend_to_host(be, t); }

static void dev_free(gm_tensor *t) {
    void *p = t->data;
    be->ops->free(be, &p);
    t->data = NULL;
}

/* Keras's activations in double, written independently of kernels/activation_math.h. */
static double ref_act(const gm_activation *a, double x) {
    switch (a->kind) {
    case GM_ACT_LINEAR: return x;
    case GM_ACT_RELU:
        if (x >= a->max_value) return a->max_value;
        if (x > a->threshold) return x; /* strict, as Keras: x == threshold gives 0 */
        return a->negative_slope * (x - a->threshold);
    case GM_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case GM_ACT_TANH: return tanh(x);
    case GM_ACT_SOFTMAX: break;
    }
    return NAN;
}

static gm_activation relu_p(float max_value, float slope, float threshold) {
    gm_activation a = {GM_ACT_RELU, max_value, slope, threshold};
    return a;
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

static void ref_conv(const gm_conv2d_desc *d, const float *x, int n, int h, int w, const float *k, const float *bias,
                     int oh, int ow, double *y) {
    for (int b = 0; b < n; ++b)
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
                for (int co = 0; co < d->cout; ++co) {
                    double s = bias ? bias[co] : 0.0;
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
                    y[((size_t)(b * oh + oy) * ow + ox) * d->cout + co] = ref_act(&d->act, s);
                }
}

typedef struct conv_case {
    const char *name;
    int h, w, cin, cout, kh, kw, sh, sw, dh, dw;
    int same; /* 1: TF same padding computed here; 0: the explicit pads below */
    int pt, pb, pl, pr;
    int use_bias;
    gm_activation act;
} conv_case;

/* Runs one prepared conv at batch n against the reference; returns the output (host) for
 * self-checks when keep != NULL. */
static void run_conv_batch(const conv_case *cc, const gm_conv2d_desc *d, gm_layer_weights *lw, const float *k,
                           const float *bias, int n, float **keep) {
    int oh = gm_pool_out_dim(cc->h, (d->kh - 1) * d->dilation_h + 1, d->stride_h, d->pad_top, d->pad_bottom);
    int ow = gm_pool_out_dim(cc->w, (d->kw - 1) * d->dilation_w + 1, d->stride_w, d->pad_left, d->pad_right);
    size_t xn = (size_t)n * cc->h * cc->w * cc->cin, yn = (size_t)n * oh * ow * cc->cout;
    float *x = rand_floats(xn, -1.0f, 1.0f);
    double *ref = malloc(yn * sizeof *ref);
    ref_conv(d, x, n, cc->h, cc->w, k, bias, oh, ow, ref);
    gm_tensor tx = dev_tensor(n, cc->h, cc->w, cc->cin, x), ty = dev_tensor(n, oh, ow, cc->cout, NULL);
    gm_status st = be->ops->conv2d_fwd(be, lw, &tx, &ty);
    gm_test_check(&counts, st == GM_OK, "conv %s N=%d runs (%s)", cc->name, n, st ? gm_last_error() : "ok");
    if (st == GM_OK) {
        float *y = to_host(&ty);
        double K = (double)d->kh * d->kw * d->cin;
        char what[160];
        snprintf(what, sizeof what, "conv %s N=%d out (%d,%d,%d,%d) K=%g", cc->name, n, n, oh, ow, cc->cout, K);
        gm_test_check(&counts, gm_test_close_d(what, y, ref, yn, 1e-7 * K, 1e-5), "%s", what);
        if (keep) {
            /* Self-check: the comparison must reject a single perturbed output. */
            float saved = y[yn / 2];
            y[yn / 2] += (float)(1e-4 * K) + 1e-3f;
            gm_test_check(&counts, !gm_test_close_d("perturbed conv (must be rejected)", y, ref, yn, 1e-7 * K, 1e-5),
                          "self-check: a perturbed conv output is rejected");
            y[yn / 2] = NAN;
            gm_test_check(&counts, !gm_test_close_d("NaN conv (must be rejected)", y, ref, yn, 1e6, 1e6),
                          "self-check: a NaN conv output is rejected whatever the tolerance");
            y[yn / 2] = saved;
        }
        free(y);
    }
    dev_free(&tx);
    dev_free(&ty);
    free(x);
    free(ref);
}

static void test_conv_case(const conv_case *cc, int self_check) {
    gm_conv2d_desc d = {cc->kh, cc->kw, cc->cin, cc->cout, cc->sh, cc->sw, cc->dh, cc->dw,
                        cc->pt, cc->pb, cc->pl, cc->pr, cc->act};
    if (cc->same) {
        same_pads(cc->h, (cc->kh - 1) * cc->dh + 1, cc->sh, &d.pad_top, &d.pad_bottom);
        same_pads(cc->w, (cc->kw - 1) * cc->dw + 1, cc->sw, &d.pad_left, &d.pad_right);
    }
    size_t kn = (size_t)cc->kh * cc->kw * cc->cin * cc->cout;
    float *k = rand_floats(kn, -0.5f, 0.5f);
    float *bias = cc->use_bias ? rand_floats((size_t)cc->cout, -0.5f, 0.5f) : NULL;
    gm_layer_weights *lw = NULL;
    gm_status st = be->ops->conv2d_prepare(be, &d, k, bias, &lw);
    gm_test_check(&counts, st == GM_OK && lw, "conv %s prepare (%s)", cc->name, st ? gm_last_error() : "ok");
    if (st == GM_OK) {
        float *keep = NULL;
        /* Batch 1, then 3, then 1 again: the same prepared weights serve both batch sizes and
         * the second N=1 call must reuse its cached primitive. */
        run_conv_batch(cc, &d, lw, k, bias, 1, NULL);
        run_conv_batch(cc, &d, lw, k, bias, 3, self_check ? &keep : NULL);
        run_conv_batch(cc, &d, lw, k, bias, 1, NULL);
        int cached = 0;
        long created = 0, reorders = 0;
        gm_cpu_weights_stats(lw, &cached, &created, &reorders);
        const char *impl = gm_cpu_weights_impl_info(lw, 3, cc->h, cc->w);
        fprintf(stderr, "  conv %s: pads (t%d,b%d,l%d,r%d), oneDNN impl for N=3: %s; primitives %ld, reorders %ld\n",
                cc->name, d.pad_top, d.pad_bottom, d.pad_left, d.pad_right, impl ? impl : "(none)", created,
                reorders);
        gm_test_check(&counts, cached == 2 && created == 2 && reorders >= 1 && reorders <= 2,
                      "conv %s: 2 primitives for batch sizes 1 and 3, weights reordered once per format "
                      "(got %d cached, %ld created, %ld reorders)",
                      cc->name, cached, created, reorders);
        be->ops->weights_free(be, &lw);
        gm_test_check(&counts, lw == NULL, "conv %s: weights_free nulls the pointer", cc->name);
    }
    free(k);
    free(bias);
}

static void test_conv(void) {
    const float inf = INFINITY;
    const conv_case cases[] = {
        {"3x3 s1 same relu", 8, 8, 5, 7, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, relu_p(inf, 0, 0)},
        {"3x3 s2 same even (pads 0/1)", 8, 8, 4, 6, 3, 3, 2, 2, 1, 1, 1, 0, 0, 0, 0, 1, gm_activation_make(GM_ACT_LINEAR)},
        {"3x3 dilation 2 same sigmoid", 9, 10, 3, 5, 3, 3, 1, 1, 2, 2, 1, 0, 0, 0, 0, 1, gm_activation_make(GM_ACT_SIGMOID)},
        {"3x3 valid tanh non-square", 7, 9, 6, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, gm_activation_make(GM_ACT_TANH)},
        {"1x1 no bias relu6", 5, 6, 16, 8, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, relu_p(6.0f, 0, 0)},
        {"1x1 s2 projection", 8, 8, 16, 32, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, gm_activation_make(GM_ACT_LINEAR)},
        {"7x7 s2 same (pads 2/3) rgb", 16, 16, 3, 8, 7, 7, 2, 2, 1, 1, 1, 0, 0, 0, 0, 1, relu_p(inf, 0, 0)},
        {"5x3 explicit asym pads", 9, 8, 4, 5, 5, 3, 1, 2, 1, 1, 0, 1, 3, 2, 0, 1, gm_activation_make(GM_ACT_LINEAR)},
        {"3x3 leaky relu capped", 6, 6, 8, 8, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, relu_p(0.5f, 0.2f, 0)},
        {"3x3 thresholded relu (loop)", 6, 6, 8, 8, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, relu_p(inf, 0.1f, 0.3f)},
        {"3x3 s1 same 32->64 blocked", 14, 14, 32, 64, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, relu_p(inf, 0, 0)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) test_conv_case(&cases[i], i == 0);
}

/* More batch sizes than cache slots: every result still right, the cache stays bounded and an
 * evicted batch size is rebuilt. */
static void test_conv_cache_eviction(void) {
    conv_case cc = {"eviction 3x3", 6, 6, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, relu_p(INFINITY, 0, 0)};
    gm_conv2d_desc d = {3, 3, 8, 16, 1, 1, 1, 1, 1, 1, 1, 1, cc.act};
    float *k = rand_floats(3 * 3 * 8 * 16, -0.5f, 0.5f), *bias = rand_floats(16, -0.5f, 0.5f);
    gm_layer_weights *lw = NULL;
    if (be->ops->conv2d_prepare(be, &d, k, bias, &lw) != GM_OK) {
        gm_test_check(&counts, 0, "eviction prepare: %s", gm_last_error());
        return;
    }
    for (int n = 1; n <= GM_CPU_PRIM_SLOTS + 2; ++n) run_conv_batch(&cc, &d, lw, k, bias, n, NULL);
    run_conv_batch(&cc, &d, lw, k, bias, 1, NULL);
    int cached = 0;
    long created = 0, reorders = 0;
    gm_cpu_weights_stats(lw, &cached, &created, &reorders);
    fprintf(stderr, "  eviction: %d cached, %ld created, %ld reorders\n", cached, created, reorders);
    gm_test_check(&counts, cached == GM_CPU_PRIM_SLOTS && created == GM_CPU_PRIM_SLOTS + 3,
                  "conv cache bounded at %d and rebuilds the evicted N=1 (%d cached, %ld created)", GM_CPU_PRIM_SLOTS,
                  cached, created);
    be->ops->weights_free(be, &lw);
    free(k);
    free(bias);
}

static void test_conv_errors(void) {
    gm_conv2d_desc d = {3, 3, 4, 4, 1, 1, 1, 1, 0, 0, 0, 0, gm_activation_make(GM_ACT_LINEAR)};
    float *k = rand_floats(3 * 3 * 4 * 4, -0.5f, 0.5f);
    gm_layer_weights *lw = NULL;
    gm_status st = be->ops->conv2d_prepare(be, &d, k, NULL, &lw);
    gm_tensor x = dev_tensor(1, 6, 6, 4, k), y = dev_tensor(1, 6, 6, 4, NULL);
    st = be->ops->conv2d_fwd(be, lw, &x, &y); /* valid 3x3 on 6x6 gives 4x4, not 6x6 */
    gm_test_check(&counts, st == GM_ERR_SHAPE && strstr(gm_last_error(), "(1,4,4,4)"),
                  "conv with a wrong output shape fails with a message naming the shapes: %s", gm_last_error());
    gm_conv2d_desc bad = d;
    bad.stride_h = 0;
    gm_layer_weights *lw2 = NULL;
    st = be->ops->conv2d_prepare(be, &bad, k, NULL, &lw2);
    gm_test_check(&counts, st == GM_ERR_INVALID_ARG && lw2 == NULL, "conv prepare rejects stride 0: %s",
                  gm_last_error());
    dev_free(&x);
    dev_free(&y);
    be->ops->weights_free(be, &lw);
    free(k);
}

/* ---------------------------------------------------------------- dense */

static void test_dense_case(const char *name, int h, int w, int c, int out, int use_bias, gm_activation act) {
    int in = h * w * c;
    gm_dense_desc d = {in, out, act};
    float *k = rand_floats((size_t)in * out, -0.5f, 0.5f);
    float *bias = use_bias ? rand_floats((size_t)out, -0.5f, 0.5f) : NULL;
    gm_layer_weights *lw = NULL;
    gm_status st = be->ops->dense_prepare(be, &d, k, bias, &lw);
    gm_test_check(&counts, st == GM_OK, "dense %s prepare (%s)", name, st ? gm_last_error() : "ok");
    if (st != GM_OK) return;
    const int batches[3] = {1, 3, 1};
    for (int bi = 0; bi < 3; ++bi) {
        int n = batches[bi];
        float *x = rand_floats((size_t)n * in, -1.0f, 1.0f);
        double *ref = malloc((size_t)n * out * sizeof *ref);
        for (int b = 0; b < n; ++b)
            for (int o = 0; o < out; ++o) {
                double s = bias ? bias[o] : 0.0;
                for (int i = 0; i < in; ++i) s += (double)x[(size_t)b * in + i] * (double)k[(size_t)i * out + o];
                ref[(size_t)b * out + o] = ref_act(&act, s);
            }
        gm_tensor tx = dev_tensor(n, h, w, c, x), ty = dev_tensor(n, 1, 1, out, NULL);
        st = be->ops->dense_fwd(be, lw, &tx, &ty);
        gm_test_check(&counts, st == GM_OK, "dense %s N=%d runs (%s)", name, n, st ? gm_last_error() : "ok");
        if (st == GM_OK) {
            float *y = to_host(&ty);
            char what[128];
            snprintf(what, sizeof what, "dense %s N=%d in=%d out=%d", name, n, in, out);
            gm_test_check(&counts, gm_test_close_d(what, y, ref, (size_t)n * out, 1e-7 * in, 1e-5), "%s", what);
            free(y);
        }
        dev_free(&tx);
        dev_free(&ty);
        free(x);
        free(ref);
    }
    int cached = 0;
    long created = 0, reorders = 0;
    gm_cpu_weights_stats(lw, &cached, &created, &reorders);
    fprintf(stderr, "  dense %s: oneDNN impl for N=3: %s; primitives %ld, reorders %ld\n", name,
            gm_cpu_weights_impl_info(lw, 3, 1, 1) ? gm_cpu_weights_impl_info(lw, 3, 1, 1) : "(none)", created,
            reorders);
    gm_test_check(&counts, created == 2, "dense %s: one primitive per batch size (%ld)", name, created);
    be->ops->weights_free(be, &lw);
    free(k);
    free(bias);
}

static void test_dense(void) {
    test_dense_case("bias relu", 1, 1, 40, 10, 1, relu_p(INFINITY, 0, 0));
    test_dense_case("no bias linear", 1, 1, 33, 7, 0, gm_activation_make(GM_ACT_LINEAR));
    test_dense_case("rank-4 input 3x4x5 sigmoid", 3, 4, 5, 9, 1, gm_activation_make(GM_ACT_SIGMOID));
    test_dense_case("leaky relu6", 1, 1, 64, 16, 1, relu_p(6.0f, 0.2f, 0));
    test_dense_case("thresholded relu (loop)", 1, 1, 20, 12, 1, relu_p(1.0f, 0.0f, 0.25f));
    test_dense_case("tanh 512->100", 1, 1, 512, 100, 1, gm_activation_make(GM_ACT_TANH));
}

/* ---------------------------------------------------------------- pooling */

static void ref_pool(int is_max, const gm_pool_desc *p, const float *x, int n, int h, int w, int c, int oh, int ow,
                     double *y) {
    for (int b = 0; b < n; ++b)
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
                for (int ch = 0; ch < c; ++ch) {
                    double acc = is_max ? -INFINITY : 0.0;
                    int count = 0;
                    for (int ky = 0; ky < p->ph; ++ky)
                        for (int kx = 0; kx < p->pw; ++kx) {
                            int iy = oy * p->stride_h - p->pad_top + ky, ix = ox * p->stride_w - p->pad_left + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue; /* TF: padding is not data */
                            double v = x[((size_t)(b * h + iy) * w + ix) * c + ch];
                            acc = is_max ? (v > acc ? v : acc) : acc + v;
                            ++count;
                        }
                    y[((size_t)(b * oh + oy) * ow + ox) * c + ch] = is_max ? acc : acc / count;
                }
}

static void test_pool_case(const char *name, int is_max, int n, int h, int w, int c, gm_pool_desc p, int same,
                           float lo, float hi) {
    if (same) {
        same_pads(h, p.ph, p.stride_h, &p.pad_top, &p.pad_bottom);
        same_pads(w, p.pw, p.stride_w, &p.pad_left, &p.pad_right);
    }
    int oh = gm_pool_out_dim(h, p.ph, p.stride_h, p.pad_top, p.pad_bottom);
    int ow = gm_pool_out_dim(w, p.pw, p.stride_w, p.pad_left, p.pad_right);
    size_t xn = (size_t)n * h * w * c, yn = (size_t)n * oh * ow * c;
    float *x = rand_floats(xn, lo, hi);
    double *ref = malloc(yn * sizeof *ref);
    ref_pool(is_max, &p, x, n, h, w, c, oh, ow, ref);
    gm_tensor tx = dev_tensor(n, h, w, c, x), ty = dev_tensor(n, oh, ow, c, NULL);
    gm_status st = is_max ? be->ops->maxpool_fwd(be, &p, &tx, &ty) : be->ops->avgpool_fwd(be, &p, &tx, &ty);
    gm_test_check(&counts, st == GM_OK, "%s runs (%s)", name, st ? gm_last_error() : "ok");
    if (st == GM_OK) {
        long before = gm_cpu_cast(be)->pool_primitives_created;
        st = is_max ? be->ops->maxpool_fwd(be, &p, &tx, &ty) : be->ops->avgpool_fwd(be, &p, &tx, &ty);
        gm_test_check(&counts, st == GM_OK && gm_cpu_cast(be)->pool_primitives_created == before,
                      "%s: a second call with the same shape reuses the cached primitive", name);
        float *y = to_host(&ty);
        char what[160];
        snprintf(what, sizeof what, "%s pads (t%d,b%d,l%d,r%d) out (%d,%d,%d,%d)", name, p.pad_top, p.pad_bottom,
                 p.pad_left, p.pad_right, n, oh, ow, c);
        /* Max is a selection: exact. Average sums <= 9 values of |x| <= 1 then divides. */
        gm_test_check(&counts, gm_test_close_d(what, y, ref, yn, is_max ? 0.0 : 1e-6, 0.0), "%s", what);
        free(y);
    }
    dev_free(&tx);
    dev_free(&ty);
    free(x);
    free(ref);
}

static void test_pool(void) {
    gm_pool_desc p22 = {2, 2, 2, 2, 0, 0, 0, 0}, p33 = {3, 3, 2, 2, 0, 0, 0, 0}, p33s1 = {3, 3, 1, 1, 1, 1, 1, 1};
    test_pool_case("maxpool 2x2/2 valid", 1, 2, 8, 8, 5, p22, 0, -1, 1);
    test_pool_case("maxpool 2x2/2 valid odd input", 1, 3, 7, 9, 4, p22, 0, -1, 1);
    test_pool_case("maxpool 3x3/2 same even (pads 0/1)", 1, 2, 8, 8, 6, p33, 1, -1, 1);
    test_pool_case("maxpool 3x3/2 same odd (pads 1/1)", 1, 1, 7, 7, 3, p33, 1, -1, 1);
    /* All inputs negative: a padded zero must never win the max. */
    test_pool_case("maxpool 3x3/1 same all-negative", 1, 2, 5, 6, 3, p33s1, 0, -2.0f, -0.5f);
    test_pool_case("maxpool 3x3/2 same even all-negative", 1, 1, 8, 6, 4, p33, 1, -2.0f, -0.5f);
    test_pool_case("avgpool 2x2/2 valid", 0, 2, 8, 8, 5, p22, 0, -1, 1);
    test_pool_case("avgpool 3x3/2 same even (pads 0/1)", 0, 3, 8, 10, 4, p33, 1, -1, 1);
    test_pool_case("avgpool 3x3/1 same", 0, 1, 5, 6, 7, p33s1, 0, -1, 1);
    /* A constant input: any padded cell counted in the divisor would lower the border values. */
    test_pool_case("avgpool 3x3/2 same on constant 1", 0, 1, 8, 8, 3, p33, 1, 1.0f, 1.0f);
    test_pool_case("avgpool 3x3/1 same all-positive", 0, 2, 4, 5, 3, p33s1, 0, 0.5f, 2.0f);

    gm_tensor x = dev_tensor(1, 8, 8, 2, NULL), y = dev_tensor(1, 3, 3, 2, NULL);
    gm_status st = be->ops->maxpool_fwd(be, &p22, &x, &y);
    gm_test_check(&counts, st == GM_ERR_SHAPE, "maxpool with a wrong output shape fails: %s", gm_last_error());
    dev_free(&x);
    dev_free(&y);
}

/* ---------------------------------------------------------------- loops */

static void test_gap_gmp(void) {
    const int n = 2, h = 5, w = 7, c = 70; /* c crosses the 64-channel block of the loops */
    size_t xn = (size_t)n * h * w * c;
    float *x = rand_floats(xn, -1, 1);
    double *rmean = calloc((size_t)n * c, sizeof *rmean), *rmax = malloc((size_t)n * c * sizeof *rmax);
    for (int b = 0; b < n; ++b)
        for (int ch = 0; ch < c; ++ch) {
            double s = 0, m = -INFINITY;
            for (int p = 0; p < h * w; ++p) {
                double v = x[((size_t)b * h * w + p) * c + ch];
                s += v;
                m = v > m ? v : m;
            }
            rmean[b * c + ch] = s / (h * w);
            rmax[b * c + ch] = m;
        }
    gm_tensor tx = dev_tensor(n, h, w, c, x), ty = dev_tensor(n, 1, 1, c, NULL);
    gm_status st = be->ops->gap_fwd(be, &tx, &ty);
    float *y = to_host(&ty);
    gm_test_check(&counts, st == GM_OK && gm_test_close_d("gap", y, rmean, (size_t)n * c, 1e-6, 1e-6), "gap");
    free(y);
    st = be->ops->gmp_fwd(be, &tx, &ty);
    y = to_host(&ty);
    gm_test_check(&counts, st == GM_OK && gm_test_close_d("gmp", y, rmax, (size_t)n * c, 0, 0), "gmp (exact)");
    free(y);
    dev_free(&tx);
    dev_free(&ty);
    free(x);
    free(rmean);
    free(rmax);
}

static void test_activations(void) {
    const int n = 2, h = 3, w = 4, c = 11;
    size_t cnt = (size_t)n * h * w * c;
    const gm_activation acts[] = {
        gm_activation_make(GM_ACT_LINEAR),  relu_p(INFINITY, 0, 0), relu_p(6.0f, 0, 0),
        relu_p(INFINITY, 0.3f, 0),          relu_p(1.5f, 0.1f, 0.5f), relu_p(INFINITY, 0.0f, -0.5f),
        gm_activation_make(GM_ACT_SIGMOID), gm_activation_make(GM_ACT_TANH),
    };
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; ++a) {
        float *x = rand_floats(cnt, -8, 8);
        x[0] = acts[a].max_value; /* edges: exactly at the cap and at the threshold */
        x[1] = acts[a].threshold;
        double *ref = malloc(cnt * sizeof *ref);
        for (size_t i = 0; i < cnt; ++i) ref[i] = ref_act(&acts[a], x[i]);
        if (isinf(x[0])) x[0] = 3.0f, ref[0] = ref_act(&acts[a], 3.0);
        gm_tensor tx = dev_tensor(n, h, w, c, x), ty = dev_tensor(n, h, w, c, NULL);
        char what[128];
        snprintf(what, sizeof what, "activation %s (max %g slope %g thr %g)", gm_activation_name(&acts[a]),
                 acts[a].max_value, acts[a].negative_slope, acts[a].threshold);
        gm_status st = be->ops->activation_fwd(be, &acts[a], &tx, &ty);
        float *y = to_host(&ty);
        gm_test_check(&counts, st == GM_OK && gm_test_close_d(what, y, ref, cnt, 1e-6, 1e-5), "%s", what);
        free(y);
        st = be->ops->activation_fwd(be, &acts[a], &tx, &tx); /* in place */
        y = to_host(&tx);
        gm_test_check(&counts, st == GM_OK && gm_test_close_d("in place", y, ref, cnt, 1e-6, 1e-5), "%s in place", what);
        free(y);
        dev_free(&tx);
        dev_free(&ty);
        free(x);
        free(ref);
    }

    /* Softmax over C, with logits large enough that exp would overflow without the max shift. */
    float *x = rand_floats(cnt, -20, 20);
    x[0] = 500.0f;
    double *ref = malloc(cnt * sizeof *ref);
    for (size_t r = 0; r < cnt / c; ++r) {
        double m = -INFINITY, s = 0;
        for (int k = 0; k < c; ++k) m = x[r * c + k] > m ? x[r * c + k] : m;
        for (int k = 0; k < c; ++k) s += exp(x[r * c + k] - m);
        for (int k = 0; k < c; ++k) ref[r * c + k] = exp(x[r * c + k] - m) / s;
    }
    gm_tensor tx = dev_tensor(n, h, w, c, x);
    gm_activation sm = gm_activation_make(GM_ACT_SOFTMAX);
    gm_status st = be->ops->activation_fwd(be, &sm, &tx, &tx);
    float *y = to_host(&tx);
    gm_test_check(&counts, st == GM_OK && gm_test_close_d("softmax", y, ref, cnt, 1e-6, 1e-5), "softmax over C");
    double worst = 0;
    for (size_t r = 0; r < cnt / c; ++r) {
        double s = 0;
        for (int k = 0; k < c; ++k) s += y[r * c + k];
        worst = fabs(s - 1.0) > worst ? fabs(s - 1.0) : worst;
    }
    /* c float values each within ~2 ulps of their share of 1. */
    gm_test_check(&counts, worst <= 1e-6, "softmax rows sum to 1 (worst |sum-1| = %.3g)", worst);
    free(y);
    dev_free(&tx);
    free(x);
    free(ref);
}

static void test_affine_rescale_add_pad(void) {
    const int n = 2, h = 3, w = 5, c = 6;
    size_t cnt = (size_t)n * h * w * c;
    float *x = rand_floats(cnt, -3, 3), *b = rand_floats(cnt, -3, 3);
    float *scale = rand_floats((size_t)c, 0.5f, 2.0f), *shift = rand_floats((size_t)c, -1, 1);
    float *ref = malloc(cnt * sizeof *ref);
    gm_tensor tx = dev_tensor(n, h, w, c, x), tb = dev_tensor(n, h, w, c, b), ty = dev_tensor(n, h, w, c, NULL);

    /* Keras evaluates x*s + o as two rounded float32 operations: the reference does the same,
     * so the result must match bit for bit. */
    for (size_t i = 0; i < cnt; ++i) {
        volatile float prod = x[i] * scale[i % c];
        ref[i] = prod + shift[i % c];
    }
    gm_status st = be->ops->channel_affine_fwd(be, scale, shift, &tx, &ty);
    float *y = to_host(&ty);
    gm_test_check(&counts, st == GM_OK && gm_test_close("channel_affine", y, ref, cnt, 0, 0), "channel_affine exact");
    free(y);

    const float rs = 1.0f / 127.5f, ro = -1.0f; /* the "tf" preprocessing as a Rescaling layer */
    for (size_t i = 0; i < cnt; ++i) {
        volatile float prod = x[i] * rs;
        ref[i] = prod + ro;
    }
    st = be->ops->rescale_fwd(be, rs, ro, &tx, &ty);
    y = to_host(&ty);
    gm_test_check(&counts, st == GM_OK && gm_test_close("rescale", y, ref, cnt, 0, 0), "rescale exact");
    free(y);

    for (size_t i = 0; i < cnt; ++i) ref[i] = x[i] + b[i];
    st = be->ops->add(be, &tx, &tb, &tb); /* y aliases b */
    y = to_host(&tb);
    gm_test_check(&counts, st == GM_OK && gm_test_close("add (y aliases b)", y, ref, cnt, 0, 0), "add exact, aliasing");
    free(y);
    st = be->ops->add(be, &tx, &ty, &ty);
    gm_test_check(&counts, st == GM_OK, "add with y aliasing the second operand");

    /* Zero padding (top 1, bottom 2, left 0, right 3): copies and zeros, exact. */
    const int t = 1, bo = 2, l = 0, r = 3, oh = h + t + bo, ow = w + l + r;
    size_t on = (size_t)n * oh * ow * c;
    float *pref = calloc(on, sizeof *pref);
    for (int bb = 0; bb < n; ++bb)
        for (int yy = 0; yy < h; ++yy)
            for (int xx = 0; xx < w; ++xx)
                for (int k = 0; k < c; ++k)
                    pref[((size_t)(bb * oh + yy + t) * ow + xx + l) * c + k] = x[((size_t)(bb * h + yy) * w + xx) * c + k];
    gm_tensor tp = dev_tensor(n, oh, ow, c, NULL);
    st = be->ops->zero_pad_fwd(be, t, bo, l, r, &tx, &tp);
    y = to_host(&tp);
    gm_test_check(&counts, st == GM_OK && gm_test_close("zero_pad", y, pref, on, 0, 0), "zero_pad exact");
    free(y);
    st = be->ops->zero_pad_fwd(be, 1, 1, 1, 1, &tx, &tp);
    gm_test_check(&counts, st == GM_ERR_SHAPE, "zero_pad with a mismatched output fails: %s", gm_last_error());

    dev_free(&tx);
    dev_free(&tb);
    dev_free(&ty);
    dev_free(&tp);
    free(x);
    free(b);
    free(scale);
    free(shift);
    free(ref);
    free(pref);
}

/* ---------------------------------------------------------------- math headers, memory */

static void test_math_headers(void) {
    float s_hi = gm_sigmoid(100.0f), s_lo = gm_sigmoid(-100.0f), s_far = gm_sigmoid(-1000.0f);
    gm_test_check(&counts, isfinite(s_hi) && isfinite(s_lo) && isfinite(s_far) && s_hi == 1.0f && s_lo >= 0.0f &&
                               s_lo < 1e-40f && s_far == 0.0f,
                  "sigmoid(+-100), sigmoid(-1000) finite: %g %g %g", s_hi, s_lo, s_far);
    gm_test_check(&counts, gm_sigmoid(0.0f) == 0.5f && fabs(gm_sigmoid(2.0f) - 1.0 / (1.0 + exp(-2.0))) < 1e-7,
                  "sigmoid(0) = 0.5, sigmoid(2) matches");
    gm_test_check(&counts, gm_relu(-1.0f) == 0.0f && gm_relu(2.5f) == 2.5f && gm_relu(0.0f) == 0.0f, "relu");
    gm_test_check(&counts,
                  gm_relu_general(6.0f, 6.0f, 0.1f, 0.0f) == 6.0f && gm_relu_general(7.0f, 6.0f, 0.1f, 0.0f) == 6.0f &&
                      gm_relu_general(5.5f, 6.0f, 0.1f, 0.0f) == 5.5f &&
                      gm_relu_general(-2.0f, 6.0f, 0.1f, 0.0f) == 0.1f * -2.0f &&
                      gm_relu_general(0.5f, INFINITY, 0.2f, 0.5f) == 0.0f && gm_relu_general(0.51f, INFINITY, 0.2f, 0.5f) == 0.51f &&
                      gm_relu_general(0.25f, INFINITY, 0.2f, 0.5f) == 0.2f * (0.25f - 0.5f) &&
                      gm_relu_general(1e30f, INFINITY, 0.0f, 0.0f) == 1e30f &&
                      gm_relu_general(-3.0f, INFINITY, 0.0f, 0.0f) == 0.0f,
                  "relu_general: at/above the cap, at the threshold, below it, unbounded");
    float row[3] = {1000.0f, 1001.0f, -1000.0f};
    gm_softmax_row(row, 3);
    gm_test_check(&counts, isfinite(row[0]) && fabs(row[1] - 1.0 / (1.0 + exp(-1.0))) < 1e-6 && row[2] == 0.0f,
                  "softmax_row with huge logits is finite and right: %g %g %g", row[0], row[1], row[2]);

    /* gm_rescale must round the product before adding; find inputs where a fused multiply-add
     * differs, proving the test could tell them apart. */
    int differs = 0, ok = 1;
    for (int i = 0; i < 1000; ++i) {
        float x = gm_test_rng_range(&rng, 0, 255), s = 1.0f / 127.5f, o = -1.0f;
        volatile float prod = x * s;
        float two = prod + o;
        ok &= gm_rescale(x, s, o) == two && gm_channel_affine(x, s, o) == two;
        differs |= fmaf(x, s, o) != two;
    }
    gm_test_check(&counts, ok && differs, "rescale/affine round the product first (differs from fma somewhere: %d)",
                  differs);
    gm_test_check(&counts, gm_add(1.5f, -0.25f) == 1.25f, "add");

    gm_test_check(&counts,
                  gm_pool_out_dim(8, 3, 2, 0, 1) == 4 && gm_pool_out_dim(7, 3, 2, 1, 1) == 4 &&
                      gm_pool_out_dim(8, 2, 2, 0, 0) == 4 && gm_pool_out_dim(2, 3, 1, 0, 0) == 0 &&
                      gm_pool_out_dim(224, 7, 2, 2, 3) == 112,
                  "pool_out_dim");
    gm_test_check(&counts,
                  gm_pool_valid_count(-1, 3, 8) == 2 && gm_pool_valid_count(6, 3, 8) == 2 &&
                      gm_pool_valid_count(2, 3, 8) == 3 && gm_pool_max(1.0f, 1.0f) == 1.0f &&
                      gm_pool_max(-2.0f, -1.0f) == -1.0f,
                  "pool_valid_count / pool_max");

    gm_activation a = gm_activation_make(GM_ACT_RELU);
    gm_activation leaky = relu_p(INFINITY, 0.1f, 0.0f);
    gm_test_check(&counts,
                  gm_activation_is_plain_relu(&a) && !gm_activation_is_plain_relu(&leaky) &&
                      strcmp(gm_activation_name(&a), "relu") == 0,
                  "activation helpers");
}

static void test_memory(void) {
    void *p = NULL;
    gm_status st = be->ops->alloc(be, 0, &p);
    gm_test_check(&counts, st == GM_OK && p != NULL, "alloc(0) gives a freeable pointer");
    be->ops->free(be, &p);
    gm_test_check(&counts, p == NULL, "free nulls the pointer");
    st = be->ops->alloc(be, 1000, &p);
    gm_test_check(&counts, st == GM_OK && ((uintptr_t)p % 64) == 0, "alloc is 64-byte aligned");
    be->ops->free(be, &p);
    be->ops->free(be, &p); /* freeing NULL is harmless */
    gm_test_check(&counts, be->ops->sync(be) == GM_OK, "sync");
}

int main(void) {
    gm_test_rng_seed(&rng, 20240601);
    gm_backend_config cfg = {0};
    if (gm_cpu_backend_create(&cfg, &be) != GM_OK) {
        fprintf(stderr, "cannot create the CPU backend: %s\n", gm_last_error());
        return 1;
    }
    test_math_headers();
    test_memory();
    test_conv();
    test_conv_cache_eviction();
    test_conv_errors();
    test_dense();
    test_pool();
    test_gap_gmp();
    test_activations();
    test_affine_rescale_add_pad();
    be->ops->destroy(&be);
    gm_test_check(&counts, be == NULL, "destroy nulls the backend");
    return gm_test_summary(&counts);
}
