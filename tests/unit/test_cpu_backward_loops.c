/* test_cpu_backward_loops.c — the CPU backend's OpenMP backward loops (host/cpu/cpu_pool_bwd.c,
 * cpu_elementwise_bwd.c): maxpool/avgpool/gap/gmp backward, activation_bwd (every kind, the
 * generalised ReLU's parameters, guided and deconvnet modes), channel_scale_bwd, rescale_bwd,
 * zero_pad_bwd and one_hot; each against (a) a naive double-precision reference written here from
 * the forward's definition (ReLU slopes from the INPUT x, so the op's output-based rule is checked
 * independently) and (b) central finite differences of the backend's own fp32 forward op with
 * L = sum(w * y), w random. Also the shared math of kernels/pool_bwd_math.h and
 * activation_bwd_math.h directly. Layouts: NHWC, as in backend.h.
 *
 * Inputs stay away from non-differentiable points: ReLU inputs are redrawn while within 0.05 of
 * a kink (threshold, max_value) and max-pool / global-max planes are shuffled arithmetic sequences
 * with spacing 0.05 > 2*eps, so no FD step changes an argmax. Ties are tested separately against
 * the reference's first-maximum rule.
 *
 * Tolerances (|got - ref| <= atol + rtol*|ref|), eps = 1e-2:
 * - vs reference: copies and single products are exact or one rounding (rtol 1e-6); average
 *   pooling sums <= 9 shares (atol 1e-6); softmax's row dot product of C <= 10 terms (atol 1e-6).
 * - FD of piecewise-linear ops (max pools, ReLU family, crop, scales): no truncation term; y is a
 *   copy of x (then only L's double rounding remains) or at most two float roundings of |y| <= 2
 *   per evaluation (affine: multiply, add), i.e. <= 4 x 1.2e-7 in the difference, / (2 eps):
 *   <= 2.4e-5, so atol 3e-5.
 * - FD of average pooling / gap: each affected output carries a float rounding (~6e-8), divided
 *   by 2 eps: ~1e-5 after summing a few outputs: atol 1e-4.
 * - FD of sigmoid/tanh/softmax: truncation eps^2/6 * max|f'''| <= 3.4e-5 (tanh''' = -2 at 0) plus
 *   libm's 1-2 ulp noise / 2 eps ~ 1.2e-5 (times sqrt(C) for softmax rows): atol 2e-4.
 * A wrong element (a misrouted max, a wrong slope) is off by O(0.1), far above all of these. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backward_check.h"
#include "host/backend.h"
#include "host/cpu/cpu_internal.h"
#include "kernels/activation_bwd_math.h"
#include "kernels/pool_bwd_math.h"
#include "kernels/pool_math.h"
#include "test_support.h"

#define FD_EPS 1e-2f

static gm_test_counts counts;
static gm_test_rng rng;
static gm_backend *be;

static float *uniform(size_t n, float lo, float hi) {
    float *p = bc_malloc(n * sizeof *p);
    gm_test_fill(&rng, p, n, lo, hi);
    return p;
}

/* Each H x W plane of each (image, channel): a shuffled sequence 0.05*k - 0.025*H*W, so any two
 * values of a plane differ by >= 0.05. */
static float *distinct_planes(int n, int h, int w, int c) {
    const size_t hw = (size_t)h * w, total = (size_t)n * hw * c;
    float *x = bc_malloc(total * sizeof *x);
    size_t *perm = bc_malloc(hw * sizeof *perm);
    for (int b = 0; b < n; ++b)
        for (int k = 0; k < c; ++k) {
            bc_pick(&rng, hw + 1, hw, perm); /* a seeded permutation of hw of 0..hw */
            for (size_t p = 0; p < hw; ++p)
                x[((size_t)b * hw + p) * c + k] = 0.05f * (float)perm[p] - 0.025f * (float)hw;
        }
    free(perm);
    return x;
}

/* FD of the forward f at every element (or a sample) of x vs the analytic gradient dx. */
static void check_fd(const char *what, bc_forward_fn f, void *ctx, gm_tensor *tx, const float *x, gm_tensor *ty,
                     const float *w, const float *dx, double atol) {
    size_t xn = gm_tensor_count(tx);
    size_t *idx = bc_malloc(400 * sizeof *idx);
    size_t m = bc_pick(&rng, xn, 400, idx);
    double *fd = bc_malloc(m * sizeof *fd);
    float *got = bc_malloc(m * sizeof *got);
    int ok = bc_fd_gradient(be, f, ctx, tx, x, ty, w, FD_EPS, idx, m, fd);
    bc_gather(dx, idx, m, got);
    char label[300];
    snprintf(label, sizeof label, "%s vs central differences (%zu points)", what, m);
    gm_test_check(&counts, ok && gm_test_close_d(label, got, fd, m, atol, 1e-4), "%s", label);
    free(idx);
    free(fd);
    free(got);
}

/* ---------------------------------------------------------------- pooling */

typedef struct pool_ctx {
    gm_pool_desc p;
    int max; /* 1: max pooling, 0: average */
} pool_ctx;

static gm_status pool_forward(gm_backend *b, void *ctx, const gm_tensor *x, gm_tensor *y) {
    pool_ctx *pc = ctx;
    return pc->max ? b->ops->maxpool_fwd(b, &pc->p, x, y) : b->ops->avgpool_fwd(b, &pc->p, x, y);
}

/* Scatter reference: the window's first strict maximum over in-bounds cells (max), or an equal
 * share to each in-bounds cell (average). */
static void ref_pool_bwd(const pool_ctx *pc, const float *x, const float *g, int n, int h, int w, int c, int oh,
                         int ow, double *dx) {
    const gm_pool_desc *p = &pc->p;
    memset(dx, 0, (size_t)n * h * w * c * sizeof *dx);
    for (int b = 0; b < n; ++b)
        for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox)
                for (int k = 0; k < c; ++k) {
                    const double gv = g[(((size_t)b * oh + oy) * ow + ox) * c + k];
                    size_t cells[64];
                    int count = 0, best = -1;
                    for (int ky = 0; ky < p->ph; ++ky)
                        for (int kx = 0; kx < p->pw; ++kx) {
                            int iy = oy * p->stride_h - p->pad_top + ky, ix = ox * p->stride_w - p->pad_left + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            cells[count] = (((size_t)b * h + iy) * w + ix) * c + k;
                            if (best < 0 || x[cells[count]] > x[cells[best]]) best = count;
                            ++count;
                        }
                    if (pc->max) dx[cells[best]] += gv;
                    else
                        for (int i = 0; i < count; ++i) dx[cells[i]] += gv / count;
                }
}

static int same_lo(int in, int k, int s) {
    int out = (in + s - 1) / s, total = (out - 1) * s + k - in;
    return total < 0 ? 0 : total / 2;
}
static int same_hi(int in, int k, int s) {
    int out = (in + s - 1) / s, total = (out - 1) * s + k - in;
    return total < 0 ? 0 : total - total / 2;
}

static void test_pool_case(const char *name, int max, int n, int h, int w, int c, int k, int s, int same, int ties) {
    pool_ctx pc = {{k, k, s, s, 0, 0, 0, 0}, max};
    if (same) {
        pc.p.pad_top = same_lo(h, k, s);
        pc.p.pad_bottom = same_hi(h, k, s);
        pc.p.pad_left = same_lo(w, k, s);
        pc.p.pad_right = same_hi(w, k, s);
    }
    const int oh = gm_pool_out_dim(h, k, s, pc.p.pad_top, pc.p.pad_bottom);
    const int ow = gm_pool_out_dim(w, k, s, pc.p.pad_left, pc.p.pad_right);
    const size_t xn = (size_t)n * h * w * c, yn = (size_t)n * oh * ow * c;
    float *x = ties ? uniform(xn, 0.0f, 1.0f) : distinct_planes(n, h, w, c);
    if (ties) /* three levels only: most windows hold tied maxima */
        for (size_t i = 0; i < xn; ++i) x[i] = floorf(x[i] * 3.0f) * 0.5f;
    float *wt = uniform(yn, -1.0f, 1.0f);
    gm_tensor tx = bc_tensor(be, n, h, w, c, x), ty = bc_tensor(be, n, oh, ow, c, NULL);
    gm_tensor tw = bc_tensor(be, n, oh, ow, c, wt), tdx = bc_tensor(be, n, h, w, c, NULL);
    gm_status st = max ? be->ops->maxpool_bwd(be, &pc.p, &tx, &tw, &tdx) : be->ops->avgpool_bwd(be, &pc.p, &tw, &tdx);
    char what[200];
    snprintf(what, sizeof what, "%s %s (%d,%d,%d,%d) window %d stride %d pads (t%d,b%d,l%d,r%d)", max ? "maxpool_bwd"
             : "avgpool_bwd", name, n, h, w, c, k, s, pc.p.pad_top, pc.p.pad_bottom, pc.p.pad_left, pc.p.pad_right);
    gm_test_check(&counts, st == GM_OK, "%s runs (%s)", what, st ? gm_last_error() : "ok");
    if (st == GM_OK) {
        float *dx = bc_download(be, &tdx);
        double *ref = bc_malloc(xn * sizeof *ref);
        ref_pool_bwd(&pc, x, wt, n, h, w, c, oh, ow, ref);
        char label[300];
        snprintf(label, sizeof label, "%s vs double reference%s", what, ties ? " (tied maxima: first one wins)" : "");
        gm_test_check(&counts, gm_test_close_d(label, dx, ref, xn, 1e-6, 1e-6), "%s", label);
        if (!ties) check_fd(what, pool_forward, &pc, &tx, x, &ty, wt, dx, max ? 3e-5 : 1e-4);
        /* One thread or two: each dx element is summed by one thread in a fixed order. */
        int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        gm_tensor t1 = bc_tensor(be, n, h, w, c, NULL);
        st = max ? be->ops->maxpool_bwd(be, &pc.p, &tx, &tw, &t1) : be->ops->avgpool_bwd(be, &pc.p, &tw, &t1);
        omp_set_num_threads(threads);
        float *dx1 = bc_download(be, &t1);
        gm_test_check(&counts, st == GM_OK && memcmp(dx, dx1, xn * sizeof *dx) == 0,
                      "%s: 1 thread and %d threads give the same bits", what, threads);
        bc_free(be, &t1);
        free(dx1);
        free(dx);
        free(ref);
    }
    bc_free(be, &tx);
    bc_free(be, &ty);
    bc_free(be, &tw);
    bc_free(be, &tdx);
    free(x);
    free(wt);
}

typedef struct global_ctx {
    int max;
} global_ctx;

static gm_status global_forward(gm_backend *b, void *ctx, const gm_tensor *x, gm_tensor *y) {
    return ((global_ctx *)ctx)->max ? b->ops->gmp_fwd(b, x, y) : b->ops->gap_fwd(b, x, y);
}

static void test_global(int max, int ties) {
    const int n = 2, h = 5, w = 7, c = 19;
    const size_t xn = (size_t)n * h * w * c;
    float *x = max && !ties ? distinct_planes(n, h, w, c) : uniform(xn, -1.0f, 1.0f);
    if (ties) /* post-ReLU-like: half the cells at 0, and two channels of each image entirely 0 */
        for (size_t i = 0; i < xn; ++i) x[i] = (x[i] > 0.0f && i % c > 1) ? 1.0f : 0.0f;
    float *wt = uniform((size_t)n * c, -1.0f, 1.0f);
    gm_tensor tx = bc_tensor(be, n, h, w, c, x), ty = bc_tensor(be, n, 1, 1, c, NULL);
    gm_tensor tw = bc_tensor(be, n, 1, 1, c, wt), tdx = bc_tensor(be, n, h, w, c, NULL);
    gm_status st = max ? be->ops->gmp_bwd(be, &tx, &tw, &tdx) : be->ops->gap_bwd(be, &tw, &tdx);
    const char *what = max ? (ties ? "gmp_bwd (2,5,7,19) tied maxima (equal split)" : "gmp_bwd (2,5,7,19)")
                           : "gap_bwd (2,5,7,19)";
    gm_test_check(&counts, st == GM_OK, "%s runs (%s)", what, st ? gm_last_error() : "ok");
    if (st == GM_OK) {
        float *dx = bc_download(be, &tdx);
        double *ref = bc_malloc(xn * sizeof *ref);
        memset(ref, 0, xn * sizeof *ref);
        /* Global max: TF's reduce_max gradient, dy split equally among the tied maxima. */
        for (int b = 0; b < n; ++b)
            for (int k = 0; k < c; ++k) {
                double best = -INFINITY;
                int nmax = 0;
                for (int p = 0; p < h * w; ++p) {
                    double v = x[((size_t)b * h * w + p) * c + k];
                    nmax = v > best ? 1 : nmax + (v == best);
                    best = v > best ? v : best;
                }
                for (int p = 0; p < h * w; ++p) {
                    size_t i = ((size_t)b * h * w + p) * c + k;
                    if (max) ref[i] = x[i] == best ? wt[b * c + k] / (double)nmax : 0.0;
                    else ref[i] = wt[b * c + k] / (double)(h * w);
                }
            }
        char label[160];
        snprintf(label, sizeof label, "%s vs double reference", what);
        gm_test_check(&counts, gm_test_close_d(label, dx, ref, xn, 0.0, 1e-6), "%s", label);
        global_ctx gc = {max};
        if (!ties) check_fd(what, global_forward, &gc, &tx, x, &ty, wt, dx, max ? 3e-5 : 1e-4);
        free(dx);
        free(ref);
    }
    bc_free(be, &tx);
    bc_free(be, &ty);
    bc_free(be, &tw);
    bc_free(be, &tdx);
    free(x);
    free(wt);
}

/* ---------------------------------------------------------------- activations */

typedef struct act_ctx {
    gm_activation a;
} act_ctx;

static gm_status act_forward(gm_backend *b, void *ctx, const gm_tensor *x, gm_tensor *y) {
    return b->ops->activation_fwd(b, &((act_ctx *)ctx)->a, x, y);
}

/* Keras's derivative from the INPUT x (activation_math.h's forward, differentiated by hand). */
static double ref_relu_slope(const gm_activation *a, double x) {
    if (x >= a->max_value) return 0.0;
    if (x > a->threshold) return 1.0;
    return a->negative_slope;
}

static void test_activation(const char *name, gm_activation a, gm_relu_bwd_mode mode, float lo, float hi) {
    const int n = 2, h = 3, w = 4, c = a.kind == GM_ACT_SOFTMAX ? 10 : 6;
    const size_t count = (size_t)n * h * w * c;
    float *x = uniform(count, lo, hi), *wt = uniform(count, -1.0f, 1.0f);
    if (a.kind == GM_ACT_RELU)
        for (size_t i = 0; i < count; ++i)
            while (fabsf(x[i] - a.threshold) < 0.05f || fabsf(x[i] - a.max_value) < 0.05f)
                x[i] = gm_test_rng_range(&rng, lo, hi);
    /* Guided/deconv masks test dy's sign: keep dy away from 0 too. */
    for (size_t i = 0; i < count; ++i)
        if (fabsf(wt[i]) < 0.05f) wt[i] = wt[i] < 0.0f ? -0.5f : 0.5f;
    gm_tensor tx = bc_tensor(be, n, h, w, c, x), ty = bc_tensor(be, n, h, w, c, NULL);
    gm_tensor tw = bc_tensor(be, n, h, w, c, wt), tdx = bc_tensor(be, n, h, w, c, NULL);
    gm_status st = be->ops->activation_fwd(be, &a, &tx, &ty);
    if (st == GM_OK) st = be->ops->activation_bwd(be, &a, mode, &ty, &tw, &tdx);
    static const char *modes[] = {"plain", "guided", "deconvnet"};
    char what[200];
    snprintf(what, sizeof what, "activation_bwd %s, %s mode", name, modes[mode]);
    gm_test_check(&counts, st == GM_OK, "%s runs (%s)", what, st ? gm_last_error() : "ok");
    if (st == GM_OK) {
        float *dx = bc_download(be, &tdx);
        double *ref = bc_malloc(count * sizeof *ref);
        for (size_t r = 0; r < count / (size_t)c; ++r) {
            const float *xr = x + r * c, *gr = wt + r * c;
            double e[16], sum = 0.0, m = xr[0], dot = 0.0;
            for (int k = 1; k < c; ++k) m = xr[k] > m ? xr[k] : m;
            for (int k = 0; k < c; ++k) sum += (e[k] = exp(xr[k] - m));
            for (int k = 0; k < c; ++k) dot += gr[k] * e[k] / sum;
            for (int k = 0; k < c; ++k) {
                const double xv = xr[k], g = gr[k];
                double d = 0.0;
                switch (a.kind) {
                case GM_ACT_LINEAR: d = g; break;
                case GM_ACT_RELU:
                    if (mode == GM_RELU_BWD_DECONV) d = g > 0.0 ? g : 0.0;
                    else if (mode == GM_RELU_BWD_GUIDED) d = g > 0.0 ? ref_relu_slope(&a, xv) * g : 0.0;
                    else d = ref_relu_slope(&a, xv) * g;
                    break;
                case GM_ACT_SIGMOID: d = g * exp(-xv) / ((1.0 + exp(-xv)) * (1.0 + exp(-xv))); break;
                case GM_ACT_TANH: d = g * (1.0 - tanh(xv) * tanh(xv)); break;
                case GM_ACT_SOFTMAX: d = e[k] / sum * (g - dot); break;
                }
                ref[r * c + k] = d;
            }
        }
        char label[300];
        snprintf(label, sizeof label, "%s vs double reference (slopes from x)", what);
        gm_test_check(&counts, gm_test_close_d(label, dx, ref, count, 1e-6, 1e-5), "%s", label);
        /* dx may alias dy: in place must give the same bits (before the FD loop reuses ty). */
        gm_tensor tin = bc_tensor(be, n, h, w, c, wt);
        st = be->ops->activation_bwd(be, &a, mode, &ty, &tin, &tin);
        float *inplace = bc_download(be, &tin);
        gm_test_check(&counts, st == GM_OK && memcmp(inplace, dx, count * sizeof *dx) == 0,
                      "%s: in place (dx == dy) gives the same bits", what);
        free(inplace);
        bc_free(be, &tin);
        const int smooth = a.kind == GM_ACT_SIGMOID || a.kind == GM_ACT_TANH || a.kind == GM_ACT_SOFTMAX;
        /* Guided and deconvnet are not gradients of the forward; their reference is the definition. */
        act_ctx ac = {a};
        if (mode == GM_RELU_BWD_PLAIN || a.kind != GM_ACT_RELU)
            check_fd(what, act_forward, &ac, &tx, x, &ty, wt, dx, smooth ? 2e-4 : 3e-5);
        free(dx);
        free(ref);
    }
    bc_free(be, &tx);
    bc_free(be, &ty);
    bc_free(be, &tw);
    bc_free(be, &tdx);
    free(x);
    free(wt);
}

static gm_activation relu_p(float max_value, float slope, float threshold) {
    gm_activation a = {GM_ACT_RELU, max_value, slope, threshold};
    return a;
}

static void test_activations(void) {
    const float inf = INFINITY;
    test_activation("linear", gm_activation_make(GM_ACT_LINEAR), GM_RELU_BWD_PLAIN, -2.0f, 2.0f);
    test_activation("relu", relu_p(inf, 0, 0), GM_RELU_BWD_PLAIN, -1.0f, 1.0f);
    test_activation("relu6", relu_p(6.0f, 0, 0), GM_RELU_BWD_PLAIN, -8.0f, 8.0f);
    test_activation("leaky relu 0.2", relu_p(inf, 0.2f, 0), GM_RELU_BWD_PLAIN, -1.0f, 1.0f);
    test_activation("leaky relu capped at 0.5", relu_p(0.5f, 0.2f, 0), GM_RELU_BWD_PLAIN, -1.0f, 1.0f);
    test_activation("thresholded relu (t 0.3, slope 0.1)", relu_p(inf, 0.1f, 0.3f), GM_RELU_BWD_PLAIN, -1.0f, 1.0f);
    test_activation("relu (max 0.7, slope 0.1, t 0.3)", relu_p(0.7f, 0.1f, 0.3f), GM_RELU_BWD_PLAIN, -1.0f, 1.0f);
    test_activation("sigmoid", gm_activation_make(GM_ACT_SIGMOID), GM_RELU_BWD_PLAIN, -4.0f, 4.0f);
    test_activation("tanh", gm_activation_make(GM_ACT_TANH), GM_RELU_BWD_PLAIN, -2.0f, 2.0f);
    test_activation("softmax over C=10", gm_activation_make(GM_ACT_SOFTMAX), GM_RELU_BWD_PLAIN, -3.0f, 3.0f);
    test_activation("relu", relu_p(inf, 0, 0), GM_RELU_BWD_GUIDED, -1.0f, 1.0f);
    test_activation("relu6", relu_p(6.0f, 0, 0), GM_RELU_BWD_GUIDED, -8.0f, 8.0f);
    test_activation("relu", relu_p(inf, 0, 0), GM_RELU_BWD_DECONV, -1.0f, 1.0f);
    test_activation("sigmoid (mode ignored)", gm_activation_make(GM_ACT_SIGMOID), GM_RELU_BWD_GUIDED, -4.0f, 4.0f);

    /* Parameters outside Keras's constraints make y ambiguous: refused, naming the values. */
    gm_tensor t = bc_tensor(be, 1, 1, 1, 4, NULL);
    gm_activation bad = relu_p(inf, 0.0f, -0.5f);
    gm_status st = be->ops->activation_bwd(be, &bad, GM_RELU_BWD_PLAIN, &t, &t, &t);
    gm_test_check(&counts, st == GM_ERR_UNSUPPORTED, "activation_bwd refuses a negative threshold: %s",
                  gm_last_error());
    gm_activation plain = relu_p(inf, 0, 0);
    st = be->ops->activation_bwd(be, &plain, (gm_relu_bwd_mode)7, &t, &t, &t);
    gm_test_check(&counts, st == GM_ERR_INVALID_ARG, "activation_bwd refuses mode 7: %s", gm_last_error());
    bc_free(be, &t);
}

/* ---------------------------------------------------------------- affine, crop, one-hot */

typedef struct small_ctx {
    int kind; /* 0 zero pad, 1 channel affine, 2 rescale */
    int t, b, l, r;
    const float *scale, *shift;
    float s, o;
} small_ctx;

static gm_status small_forward(gm_backend *bk, void *ctx, const gm_tensor *x, gm_tensor *y) {
    small_ctx *sc = ctx;
    if (sc->kind == 0) return bk->ops->zero_pad_fwd(bk, sc->t, sc->b, sc->l, sc->r, x, y);
    if (sc->kind == 1) return bk->ops->channel_affine_fwd(bk, sc->scale, sc->shift, x, y);
    return bk->ops->rescale_fwd(bk, sc->s, sc->o, x, y);
}

static void test_small(int kind) {
    const int n = 2, h = 4, w = 5, c = 3;
    float scale[3] = {0.5f, -1.25f, 2.0f}, shift[3] = {0.1f, 0.2f, -0.3f};
    small_ctx sc = {kind, 1, 2, 0, 3, scale, shift, 1.0f / 127.5f, -1.0f};
    const int yh = kind == 0 ? h + 3 : h, yw = kind == 0 ? w + 3 : w;
    const size_t xn = (size_t)n * h * w * c, yn = (size_t)n * yh * yw * c;
    float *x = uniform(xn, -1.0f, 1.0f), *wt = uniform(yn, -1.0f, 1.0f);
    gm_tensor tx = bc_tensor(be, n, h, w, c, x), ty = bc_tensor(be, n, yh, yw, c, NULL);
    gm_tensor tw = bc_tensor(be, n, yh, yw, c, wt), tdx = bc_tensor(be, n, h, w, c, NULL);
    gm_status st = kind == 0   ? be->ops->zero_pad_bwd(be, 1, 2, 0, 3, &tw, &tdx)
                   : kind == 1 ? be->ops->channel_scale_bwd(be, scale, &tw, &tdx)
                               : be->ops->rescale_bwd(be, sc.s, &tw, &tdx);
    const char *what = kind == 0 ? "zero_pad_bwd pads (t1,b2,l0,r3)" : kind == 1 ? "channel_scale_bwd" : "rescale_bwd";
    gm_test_check(&counts, st == GM_OK, "%s runs (%s)", what, st ? gm_last_error() : "ok");
    if (st == GM_OK) {
        float *dx = bc_download(be, &tdx);
        double *ref = bc_malloc(xn * sizeof *ref);
        for (int b = 0; b < n; ++b)
            for (int iy = 0; iy < h; ++iy)
                for (int ix = 0; ix < w; ++ix)
                    for (int k = 0; k < c; ++k) {
                        size_t i = (((size_t)b * h + iy) * w + ix) * c + k;
                        if (kind == 0) ref[i] = wt[(((size_t)b * yh + iy + 1) * yw + ix) * c + k];
                        else ref[i] = (double)wt[i] * (kind == 1 ? scale[k] : sc.s);
                    }
        char label[160];
        snprintf(label, sizeof label, "%s vs double reference", what);
        gm_test_check(&counts, gm_test_close_d(label, dx, ref, xn, 0.0, 1e-6), "%s", label);
        check_fd(what, small_forward, &sc, &tx, x, &ty, wt, dx, 3e-5);
        free(dx);
        free(ref);
    }
    bc_free(be, &tx);
    bc_free(be, &ty);
    bc_free(be, &tw);
    bc_free(be, &tdx);
    free(x);
    free(wt);
}

static void test_one_hot(void) {
    const int cls[4] = {0, 6, 3, 3};
    gm_tensor y = bc_tensor(be, 4, 1, 1, 7, NULL);
    gm_status st = be->ops->one_hot(be, cls, 2.5f, &y);
    float *h = bc_download(be, &y);
    double ref[28];
    for (int i = 0; i < 28; ++i) ref[i] = (i % 7 == cls[i / 7]) ? 2.5 : 0.0;
    gm_test_check(&counts, st == GM_OK && gm_test_close_d("one_hot seed 2.5, classes {0,6,3,3}", h, ref, 28, 0, 0),
                  "one_hot writes the seed at each image's class and 0 elsewhere (%s)", st ? gm_last_error() : "ok");
    h[9] = 1.0f; /* self-check: one stray element is caught with the same zero tolerance */
    gm_test_check(&counts, !gm_test_close_d("one_hot with a stray 1 (must be rejected)", h, ref, 28, 0, 0),
                  "self-check: a wrong one-hot element is rejected");
    free(h);
    const int bad[4] = {0, 7, 1, 1};
    st = be->ops->one_hot(be, bad, 1.0f, &y);
    gm_test_check(&counts, st == GM_ERR_INVALID_ARG && strstr(gm_last_error(), "image 1"),
                  "one_hot refuses class 7 of 7, naming the image: %s", gm_last_error());
    bc_free(be, &y);
}

/* ---------------------------------------------------------------- shared math */

static void test_math(void) {
    /* gm_pool_covering against brute force over windows, for pads/strides/sizes around the edges. */
    int bad = 0;
    for (int k = 1; k <= 4; ++k)
        for (int s = 1; s <= 3; ++s)
            for (int pad = 0; pad < k; ++pad)
                for (int in = 1; in <= 9; ++in) {
                    int out = gm_pool_out_dim(in, k, s, pad, pad);
                    for (int i = 0; i < in && out > 0; ++i) {
                        int f, l, bf = out, bl = -1;
                        gm_pool_covering(i, k, s, pad, out, &f, &l);
                        for (int o = 0; o < out; ++o)
                            if (o * s - pad <= i && i < o * s - pad + k) {
                                if (o < bf) bf = o;
                                bl = o;
                            }
                        if (bl < 0 ? f <= l : (f != bf || l != bl)) ++bad;
                    }
                }
    gm_test_check(&counts, bad == 0, "gm_pool_covering matches brute force (%d mismatches)", bad);
    /* First maximum in row-major window order, padded cells never chosen. */
    const float plane[9] = {1, 3, 3, 0, 3, 2, 5, 5, 1}; /* 3x3, one channel */
    int a = gm_maxpool_argmax(plane, 3, 3, 1, -1, -1, 3, 3), b = gm_maxpool_argmax(plane, 3, 3, 1, 1, 0, 3, 3);
    int e = gm_maxpool_argmax(plane, 3, 3, 1, -3, 0, 2, 2);
    gm_test_check(&counts, a == 1 && b == 6 && e == -1,
                  "gm_maxpool_argmax: tie 3,3 -> first (1, got %d); tie 5,5 -> first (6, got %d); all padding -> -1 "
                  "(got %d)",
                  a, b, e);
    int ties = 0;
    float mx = gm_plane_max_count(plane, 9, 1, &ties);
    gm_test_check(&counts, mx == 5.0f && ties == 2 && gm_gmp_bwd_share(3.0f, 2) == 1.5f,
                  "gm_plane_max_count: max 5 (got %g) held by 2 cells (got %d); share 3/2 = 1.5", (double)mx, ties);
    gm_test_check(&counts,
                  gm_relu_general_slope(6.0f, 6.0f, 0.0f, 0.0f) == 0.0f &&
                      gm_relu_general_slope(0.0f, INFINITY, 0.2f, 0.0f) == 0.2f &&
                      gm_relu_general_slope(0.3f, INFINITY, 0.1f, 0.3f) == 0.1f &&
                      gm_relu_general_slope(0.31f, INFINITY, 0.1f, 0.3f) == 1.0f,
                  "gm_relu_general_slope at the region boundaries (y == max -> 0, y == threshold -> slope)");
}

int main(void) {
    gm_test_rng_seed(&rng, 77031);
    if (gm_cpu_backend_create(NULL, &be) != GM_OK) {
        fprintf(stderr, "cpu backend: %s\n", gm_last_error());
        return 1;
    }
    test_math();
    test_pool_case("2x2/2 valid", 1, 2, 8, 8, 5, 2, 2, 0, 0);
    test_pool_case("2x2/2 valid odd (last row/col dropped), 20 channels", 1, 2, 7, 9, 20, 2, 2, 0, 0);
    test_pool_case("3x3/2 same overlapping", 1, 2, 8, 9, 20, 3, 2, 1, 0);
    test_pool_case("3x3/1 same overlapping", 1, 1, 6, 6, 3, 3, 1, 1, 0);
    test_pool_case("3x3/2 same ties", 1, 2, 8, 9, 4, 3, 2, 1, 1);
    test_pool_case("2x2/2 valid ties", 1, 1, 6, 6, 3, 2, 2, 0, 1);
    test_pool_case("3x3/2 same (exclude padding)", 0, 2, 8, 9, 20, 3, 2, 1, 0);
    test_pool_case("2x2/2 valid", 0, 2, 7, 9, 5, 2, 2, 0, 0);
    test_pool_case("3x3/1 same (exclude padding)", 0, 1, 6, 7, 3, 3, 1, 1, 0);
    test_global(0, 0);
    test_global(1, 0);
    test_global(1, 1);
    test_activations();
    for (int kind = 0; kind < 3; ++kind) test_small(kind);
    test_one_hot();
    gm_backend_close(&be);
    return gm_test_summary(&counts);
}
