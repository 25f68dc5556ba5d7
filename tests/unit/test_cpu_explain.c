/* test_cpu_explain.c — the CPU backend's explanation kernels (host/cpu/cpu_explain.c, math in
 * kernels/cam_math.h) against naive double-precision references written here from
 * reference/methods.md §3 (pytorch-grad-cam's formulas): channel_reduce, multiply, cam_weights
 * (Grad-CAM, Grad-CAM++, XGrad-CAM), weighted_channel_sum, elementwise_cam (HiResCAM, LayerCAM)
 * and cam_multi. Shapes include N = 3, C = 1, C = 64, C = 512, H*W = 1; inputs include negative
 * activations and all-zero gradients (Grad-CAM++ must give 0, not NaN).
 * Layouts: NHWC tensors; weights N x 1 x 1 x C; dense kernel C x classes (Keras IO).
 *
 * Tolerances (|got - ref| <= atol + rtol*|ref|; a NaN always fails):
 * - abs max: a selection, no arithmetic: exact.
 * - every other kernel except cam_multi sums in double and rounds once to float, so rtol 1e-7
 *   (one float rounding is 6e-8 relative); atol 1e-9 covers double-rounding differences where
 *   the reference sums in another order (XGrad-CAM divides each term first, as pytorch-grad-cam
 *   does) and the terms cancel; it is far below any real weight (>= 1e-4 here).
 * - cam_multi: oneDNN sgemm accumulates C products (|A| <= 2, |W| <= 0.05, term s.d. ~0.03) in
 *   float; as in test_cpu_ops' conv bound the error s.d. is well under 1e-8*C, so atol 1e-7*C
 *   (about 10 s.d.) with rtol 1e-5; one wrong column (~0.03*sqrt(C)) is >100x larger. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/backend.h"
#include "host/cpu/cpu_internal.h"
#include "kernels/cam_math.h"
#include "test_support.h"

static gm_test_counts counts;
static gm_test_rng rng;
static gm_backend *be;

typedef struct shape { int n, h, w, c; } shape;

/* N = 3 everywhere it matters; C = 1, C = 64, H*W = 1 and one CAM-sized layer. */
static const shape shapes[] = {
    {3, 4, 5, 7}, {3, 1, 1, 64}, {2, 3, 3, 1}, {3, 7, 7, 64}, {1, 1, 1, 1}, {2, 14, 14, 512},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

/* Input regimes for the CAM kernels. */
enum { POSITIVE_A = 0, NEGATIVE_A, ZERO_G, N_REGIMES };
static const char *regime_name[] = {"A>=0", "A<0 allowed", "image 0 zero grads"};

/* ---------------------------------------------------------------- helpers */

static void *xmalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

static size_t count_of(shape s) { return (size_t)s.n * s.h * s.w * s.c; }

static gm_tensor dev_tensor(int n, int h, int w, int c, const float *host) {
    return gm_test_backend_tensor(be, n, h, w, c, host);
}

static float *to_host(const gm_tensor *t) { return gm_test_backend_to_host(be, t); }

static void dev_free(gm_tensor *t) {
    void *p = t->data;
    be->ops->free(be, &p);
    t->data = NULL;
}

/* Activations and gradients of one regime. */
static void make_inputs(shape s, int regime, float **A, float **G) {
    size_t n = count_of(s);
    *A = xmalloc(n * sizeof(float));
    *G = xmalloc(n * sizeof(float));
    gm_test_fill(&rng, *A, n, regime == NEGATIVE_A ? -1.0f : 0.0f, 2.0f);
    gm_test_fill(&rng, *G, n, -1.0f, 1.0f);
    if (regime == ZERO_G) memset(*G, 0, n / s.n * sizeof(float));
}

/* ---------------------------------------------------------------- references (double) */

static void ref_channel_reduce(gm_channel_reduce kind, const float *x, shape s, double *y) {
    for (size_t p = 0; p < (size_t)s.n * s.h * s.w; ++p) {
        double r = 0.0;
        for (int k = 0; k < s.c; ++k) {
            double v = x[p * s.c + k];
            if (kind == GM_REDUCE_ABS_MAX) r = fabs(v) > r ? fabs(v) : r;
            else r += v;
        }
        y[p] = r;
    }
}

/* pytorch-grad-cam's weights, element by element as its numpy code writes them. tcam != 0 gives
 * torch-cam's Grad-CAM++ variant (sum_ab A g^3 in the denominator) for the rejection check. */
static void ref_cam_weights(gm_cam_weights kind, const float *A, const float *G, shape s, int tcam, double *w) {
    size_t hw = (size_t)s.h * s.w;
    for (int b = 0; b < s.n; ++b)
        for (int k = 0; k < s.c; ++k) {
            double sum_a = 0.0, sum_ag3 = 0.0, out = 0.0;
            for (size_t i = 0; i < hw; ++i) {
                double a = A[((size_t)b * hw + i) * s.c + k], g = G[((size_t)b * hw + i) * s.c + k];
                sum_a += a;
                sum_ag3 += a * g * g * g;
            }
            for (size_t i = 0; i < hw; ++i) {
                double a = A[((size_t)b * hw + i) * s.c + k], g = G[((size_t)b * hw + i) * s.c + k];
                if (kind == GM_CAM_WEIGHTS_GRADCAM) {
                    out += g / (double)hw;
                } else if (kind == GM_CAM_WEIGHTS_GRADCAM_PP) {
                    double g2 = g * g, g3 = g2 * g;
                    double aij = g2 / (2.0 * g2 + (tcam ? sum_ag3 : sum_a * g3) + 1e-6);
                    if (g == 0.0) aij = 0.0;
                    out += (g > 0.0 ? g : 0.0) * aij;
                } else {
                    out += g * a / (sum_a + 1e-7);
                }
            }
            w[(size_t)b * s.c + k] = out;
        }
}

static void ref_weighted_sum(const float *A, const float *w, shape s, int relu, double *L) {
    size_t hw = (size_t)s.h * s.w;
    for (size_t p = 0; p < s.n * hw; ++p) {
        double r = 0.0;
        for (int k = 0; k < s.c; ++k) r += (double)A[p * s.c + k] * w[(p / hw) * s.c + k];
        L[p] = relu && r < 0.0 ? 0.0 : r;
    }
}

static void ref_elementwise(gm_elementwise_cam kind, const float *A, const float *G, shape s, double *L) {
    for (size_t p = 0; p < (size_t)s.n * s.h * s.w; ++p) {
        double r = 0.0;
        for (int k = 0; k < s.c; ++k) {
            double g = G[p * s.c + k];
            if (kind == GM_ELEMENTWISE_LAYERCAM && g < 0.0) g = 0.0;
            r += g * A[p * s.c + k];
        }
        L[p] = r > 0.0 ? r : 0.0;
    }
}

static void ref_cam_multi(const float *A, const float *W, int classes, const int *cls, int k, shape s, double *L) {
    size_t hw = (size_t)s.h * s.w;
    for (size_t p = 0; p < s.n * hw; ++p)
        for (int j = 0; j < k; ++j) {
            int cl = cls[(p / hw) * k + j];
            double r = 0.0;
            for (int c = 0; c < s.c; ++c) r += (double)A[p * s.c + c] * W[(size_t)c * classes + cl];
            L[p * k + j] = r;
        }
}

/* ---------------------------------------------------------------- tests */

static void test_channel_reduce_multiply(void) {
    for (int si = 0; si < N_SHAPES; ++si) {
        shape s = shapes[si];
        size_t n = count_of(s), px = n / s.c;
        float *x = xmalloc(n * sizeof *x), *b = xmalloc(n * sizeof *b);
        gm_test_fill(&rng, x, n, -2.0f, 2.0f);
        gm_test_fill(&rng, b, n, -2.0f, 2.0f);
        gm_tensor tx = dev_tensor(s.n, s.h, s.w, s.c, x);
        double *ref = xmalloc(n * sizeof *ref);
        char what[96];
        for (int kind = GM_REDUCE_ABS_MAX; kind <= GM_REDUCE_SUM; ++kind) {
            gm_tensor ty = dev_tensor(s.n, s.h, s.w, 1, NULL);
            gm_status st = be->ops->channel_reduce(be, (gm_channel_reduce)kind, &tx, &ty);
            float *got = to_host(&ty);
            ref_channel_reduce((gm_channel_reduce)kind, x, s, ref);
            snprintf(what, sizeof what, "channel_reduce %s (%d,%d,%d,%d)", kind ? "sum" : "abs_max", s.n, s.h, s.w,
                     s.c);
            /* abs max selects a value: exact. Sum: a double sum rounded once. */
            gm_test_check(&counts,
                          st == GM_OK && gm_test_close_d(what, got, ref, px, kind ? 1e-9 : 0.0, kind ? 1e-7 : 0.0),
                          "%s", what);
            free(got);
            dev_free(&ty);
        }
        /* multiply, out of place and in place (y aliases a): one float rounding of an exact product. */
        gm_tensor tb = dev_tensor(s.n, s.h, s.w, s.c, b), ty = dev_tensor(s.n, s.h, s.w, s.c, NULL);
        for (size_t i = 0; i < n; ++i) ref[i] = (double)x[i] * b[i];
        gm_status st = be->ops->multiply(be, &tx, &tb, &ty);
        float *got = to_host(&ty);
        snprintf(what, sizeof what, "multiply (%d,%d,%d,%d)", s.n, s.h, s.w, s.c);
        gm_test_check(&counts, st == GM_OK && gm_test_close_d(what, got, ref, n, 0.0, 1e-7), "%s", what);
        free(got);
        st = be->ops->multiply(be, &tx, &tb, &tx);
        got = to_host(&tx);
        gm_test_check(&counts, st == GM_OK && gm_test_close_d("multiply in place", got, ref, n, 0.0, 1e-7),
                      "multiply in place (%d,%d,%d,%d)", s.n, s.h, s.w, s.c);
        free(got);
        dev_free(&tb);
        dev_free(&ty);
        dev_free(&tx);
        free(ref);
        free(x);
        free(b);
    }
}

static const char *weights_name[] = {"gradcam", "gradcam++", "xgradcam"};

static void test_cam_weights_and_maps(void) {
    for (int si = 0; si < N_SHAPES; ++si)
        for (int regime = 0; regime < N_REGIMES; ++regime) {
            shape s = shapes[si];
            size_t n = count_of(s), px = n / s.c, img = n / s.n;
            float *A, *G;
            make_inputs(s, regime, &A, &G);
            gm_tensor tA = dev_tensor(s.n, s.h, s.w, s.c, A), tG = dev_tensor(s.n, s.h, s.w, s.c, G);
            double *ref = xmalloc(n * sizeof *ref);
            char what[128];
            for (int kind = GM_CAM_WEIGHTS_GRADCAM; kind <= GM_CAM_WEIGHTS_XGRADCAM; ++kind) {
                gm_tensor tw = dev_tensor(s.n, 1, 1, s.c, NULL);
                gm_status st = be->ops->cam_weights(be, (gm_cam_weights)kind, &tA, &tG, &tw);
                float *w = to_host(&tw);
                ref_cam_weights((gm_cam_weights)kind, A, G, s, 0, ref);
                snprintf(what, sizeof what, "cam_weights %s (%d,%d,%d,%d) %s", weights_name[kind], s.n, s.h, s.w, s.c,
                         regime_name[regime]);
                gm_test_check(&counts, st == GM_OK && gm_test_close_d(what, w, ref, (size_t)s.n * s.c, 1e-9, 1e-7),
                              "%s", what);
                if (regime == ZERO_G) {
                    int zero = 1;
                    for (int k = 0; k < s.c; ++k) zero &= w[k] == 0.0f;
                    gm_test_check(&counts, zero, "%s: zero gradients give weights exactly 0 (no NaN)", what);
                }
                /* The Grad-CAM-family map from these weights, with and without ReLU; the
                 * reference uses the kernel's float weights so only the sum is tested here. */
                for (int relu = 0; relu <= 1; ++relu) {
                    gm_tensor tL = dev_tensor(s.n, s.h, s.w, 1, NULL);
                    st = be->ops->weighted_channel_sum(be, &tA, &tw, relu, &tL);
                    float *L = to_host(&tL);
                    ref_weighted_sum(A, w, s, relu, ref);
                    snprintf(what, sizeof what, "weighted_channel_sum relu=%d %s (%d,%d,%d,%d) %s", relu,
                             weights_name[kind], s.n, s.h, s.w, s.c, regime_name[regime]);
                    gm_test_check(&counts, st == GM_OK && gm_test_close_d(what, L, ref, px, 1e-9, 1e-7), "%s", what);
                    free(L);
                    dev_free(&tL);
                }
                free(w);
                dev_free(&tw);
            }
            for (int kind = GM_ELEMENTWISE_HIRESCAM; kind <= GM_ELEMENTWISE_LAYERCAM; ++kind) {
                gm_tensor tL = dev_tensor(s.n, s.h, s.w, 1, NULL);
                gm_status st = be->ops->elementwise_cam(be, (gm_elementwise_cam)kind, &tA, &tG, &tL);
                float *L = to_host(&tL);
                ref_elementwise((gm_elementwise_cam)kind, A, G, s, ref);
                snprintf(what, sizeof what, "elementwise_cam %s (%d,%d,%d,%d) %s", kind ? "layercam" : "hirescam", s.n,
                         s.h, s.w, s.c, regime_name[regime]);
                gm_test_check(&counts, st == GM_OK && gm_test_close_d(what, L, ref, px, 1e-9, 1e-7), "%s", what);
                if (regime == ZERO_G) {
                    int zero = 1;
                    for (size_t p = 0; p < img / s.c; ++p) zero &= L[p] == 0.0f;
                    gm_test_check(&counts, zero, "%s: zero gradients give a zero map", what);
                }
                free(L);
                dev_free(&tL);
            }
            dev_free(&tA);
            dev_free(&tG);
            free(ref);
            free(A);
            free(G);
        }
}

/* Hand-computed Grad-CAM++ values, overflow robustness and the rejection of wrong references. */
static void test_gradcampp_values_and_rejection(void) {
    /* One pixel, one channel, A = 1: S = 1 so w = g * g^2 / (2 g^2 + g^3 + 1e-6). */
    const float a1[3] = {1.0f, 1.0f, 1.0f}, g1[3] = {1.0f, 0.0f, 1e15f};
    gm_tensor tA = dev_tensor(3, 1, 1, 1, a1), tG = dev_tensor(3, 1, 1, 1, g1), tw = dev_tensor(3, 1, 1, 1, NULL);
    gm_status st = be->ops->cam_weights(be, GM_CAM_WEIGHTS_GRADCAM_PP, &tA, &tG, &tw);
    float *w = to_host(&tw);
    /* g = 1: 1/(3 + 1e-6); g = 0: 0; g = 1e15: g^3/(2g^2 + g^3) = 1/(1 + 2e-15), about 1, where
     * float32 arithmetic (pytorch-grad-cam) overflows g^3 and returns 0. */
    const double want[3] = {1.0 / (3.0 + 1e-6), 0.0, 1.0};
    gm_test_check(&counts, st == GM_OK && gm_test_close_d("gradcam++ hand values", w, want, 3, 0.0, 1e-7),
                  "gradcam++ hand values: %.9g %.9g %.9g", w[0], w[1], w[2]);
    free(w);
    dev_free(&tA);
    dev_free(&tG);
    dev_free(&tw);

    /* torch-cam's denominator (sum A g^3) must be told apart from pytorch-grad-cam's (S g^3). */
    shape s = {3, 4, 4, 8};
    float *A, *G;
    make_inputs(s, POSITIVE_A, &A, &G);
    tA = dev_tensor(s.n, s.h, s.w, s.c, A);
    tG = dev_tensor(s.n, s.h, s.w, s.c, G);
    tw = dev_tensor(s.n, 1, 1, s.c, NULL);
    st = be->ops->cam_weights(be, GM_CAM_WEIGHTS_GRADCAM_PP, &tA, &tG, &tw);
    w = to_host(&tw);
    size_t nw = (size_t)s.n * s.c;
    double *ref = xmalloc(nw * sizeof *ref);
    ref_cam_weights(GM_CAM_WEIGHTS_GRADCAM_PP, A, G, s, 1, ref);
    fprintf(stderr, "  (two mismatches expected next: deliberately wrong references)\n");
    gm_test_check(&counts, st == GM_OK && !gm_test_close_d("gradcam++ vs torch-cam variant", w, ref, nw, 1e-9, 1e-7),
                  "deliberately wrong reference (torch-cam's Grad-CAM++ denominator) is rejected");
    ref_cam_weights(GM_CAM_WEIGHTS_GRADCAM_PP, A, G, s, 0, ref);
    ref[5] += 1e-5 * (fabs(ref[5]) + 1e-3); /* a small error in one element */
    gm_test_check(&counts, !gm_test_close_d("gradcam++ one element off", w, ref, nw, 1e-9, 1e-7),
                  "a reference off by 1e-5 relative in one element is rejected");
    ref[5] = NAN;
    int nan_rejected = !gm_test_close_d("gradcam++ NaN ref", w, ref, nw, 1e30, 1e30);
    gm_test_check(&counts, nan_rejected, "a NaN reference fails even with huge tolerances");
    free(ref);
    free(w);
    free(A);
    free(G);
    dev_free(&tA);
    dev_free(&tG);
    dev_free(&tw);
}

/* Same result with 1 and 2 threads, bit for bit (double sums in a fixed order per output). */
static void test_thread_independence(void) {
    shape s = {3, 7, 7, 64};
    float *A, *G;
    make_inputs(s, NEGATIVE_A, &A, &G);
    gm_tensor tA = dev_tensor(s.n, s.h, s.w, s.c, A), tG = dev_tensor(s.n, s.h, s.w, s.c, G);
    gm_tensor w1 = dev_tensor(s.n, 1, 1, s.c, NULL), w2 = dev_tensor(s.n, 1, 1, s.c, NULL);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    gm_status st = be->ops->cam_weights(be, GM_CAM_WEIGHTS_GRADCAM_PP, &tA, &tG, &w1);
    omp_set_num_threads(2);
    st |= be->ops->cam_weights(be, GM_CAM_WEIGHTS_GRADCAM_PP, &tA, &tG, &w2);
    omp_set_num_threads(saved);
    gm_test_check(&counts, st == GM_OK && memcmp(w1.data, w2.data, (size_t)s.n * s.c * sizeof(float)) == 0,
                  "cam_weights identical with 1 and 2 threads");
    dev_free(&w1);
    dev_free(&w2);
    dev_free(&tA);
    dev_free(&tG);
    free(A);
    free(G);
}

typedef struct multi_case {
    const char *name;
    shape s;
    int classes, k;
    int cls[16]; /* n*k entries; empty = random */
} multi_case;

static void test_cam_multi(void) {
    const multi_case cases[] = {
        {"same classes every image (one GEMM into L)", {3, 7, 7, 64}, 10, 3, {4, 1, 7, 4, 1, 7, 4, 1, 7}},
        {"all classes in order (kernel used in place)", {3, 4, 5, 64}, 10, 10, {0}}, /* filled below */
        {"overlapping lists with a duplicate (one GEMM, scatter)", {3, 7, 7, 64}, 10, 3, {4, 1, 7, 1, 4, 2, 7, 7, 1}},
        /* U > 4K: the per-image plan. */
        {"different class per image (per-image GEMMs)", {6, 7, 7, 64}, 10, 1, {0, 5, 9, 2, 7, 3}},
        {"different pairs per image (per-image GEMMs)", {5, 1, 1, 64}, 10, 2, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
        {"C = 1, H*W = 1", {2, 1, 1, 1}, 3, 2, {2, 0, 1, 1}},
        {"CAM-sized, 1000 classes, 5 random per image", {2, 14, 14, 512}, 1000, 5, {0}}, /* filled below */
        {"ResNet50 head, 1000 classes, 5 random per image", {8, 7, 7, 2048}, 1000, 5, {0}}, /* U > 4K */
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ++ci) {
        const multi_case *mc = &cases[ci];
        shape s = mc->s;
        int nk = s.n * mc->k;
        int *cls = xmalloc((size_t)nk * sizeof *cls);
        for (int i = 0; i < nk; ++i)
            cls[i] = ci == 1 ? i % mc->k : (ci >= 6 ? (int)(gm_test_rng_uniform(&rng) * mc->classes) : mc->cls[i]);
        size_t n = count_of(s), px = n / s.c, wn = (size_t)s.c * mc->classes;
        float *A = xmalloc(n * sizeof *A), *W = xmalloc(wn * sizeof *W);
        gm_test_fill(&rng, A, n, 0.0f, 2.0f);
        gm_test_fill(&rng, W, wn, -0.05f, 0.05f);
        gm_tensor tA = dev_tensor(s.n, s.h, s.w, s.c, A), tL = dev_tensor(s.n, s.h, s.w, mc->k, NULL);
        void *wmem = NULL;
        if (be->ops->alloc(be, wn * sizeof(float), &wmem) != GM_OK) exit(2);
        be->ops->upload(be, wmem, W, wn * sizeof(float));
        const float *dW = wmem;
        gm_status st = be->ops->cam_multi(be, &tA, dW, mc->classes, cls, mc->k, &tL);
        float *L = to_host(&tL);
        double *ref = xmalloc(px * mc->k * sizeof *ref);
        ref_cam_multi(A, W, mc->classes, cls, mc->k, s, ref);
        char what[160];
        snprintf(what, sizeof what, "cam_multi %s (%d,%d,%d,%d) K=%d", mc->name, s.n, s.h, s.w, s.c, mc->k);
        if (st != GM_OK) fprintf(stderr, "  %s\n", gm_last_error());
        gm_test_check(&counts, st == GM_OK && gm_test_close_d(what, L, ref, px * mc->k, 1e-7 * s.c, 1e-5), "%s", what);

        if (mc->k == 1) {
            /* CAM = Grad-CAM x H*W for a GAP -> Dense head: the logit's gradient at A is
             * W[c, cls]/(H*W) at every pixel, so Grad-CAM's weights are W[:, cls]/(H*W). */
            size_t hw = (size_t)s.h * s.w;
            float *G = xmalloc(n * sizeof *G);
            for (size_t p = 0; p < px; ++p)
                for (int c = 0; c < s.c; ++c)
                    G[p * s.c + c] = W[(size_t)c * mc->classes + cls[p / hw]] / (float)hw;
            gm_tensor tG = dev_tensor(s.n, s.h, s.w, s.c, G), tw = dev_tensor(s.n, 1, 1, s.c, NULL);
            gm_tensor tM = dev_tensor(s.n, s.h, s.w, 1, NULL);
            st = be->ops->cam_weights(be, GM_CAM_WEIGHTS_GRADCAM, &tA, &tG, &tw);
            st |= be->ops->weighted_channel_sum(be, &tA, &tw, 0, &tM);
            float *M = to_host(&tM);
            for (size_t p = 0; p < px; ++p) ref[p] = (double)L[p] / (double)hw;
            gm_test_check(&counts, st == GM_OK && gm_test_close_d("gradcam = cam / HW", M, ref, px, 1e-7 * s.c, 1e-5),
                          "Grad-CAM equals CAM / (H*W) on a GAP head (%s)", mc->name);
            free(M);
            free(G);
            dev_free(&tG);
            dev_free(&tw);
            dev_free(&tM);
        }
        free(ref);
        free(L);
        free(A);
        free(W);
        free(cls);
        be->ops->free(be, &wmem);
        dev_free(&tA);
        dev_free(&tL);
    }
}

static int msg_has(const char *needle) { return strstr(gm_last_error(), needle) != NULL; }

static void test_errors_nan_and_math(void) {
    float x[12] = {1, -3, 2, 0.5f, NAN, 1, 0, 0, 0, -1, 4, -5};
    gm_tensor tx = dev_tensor(1, 2, 2, 3, x), ty = dev_tensor(1, 2, 2, 1, NULL), bad = dev_tensor(1, 2, 2, 2, NULL);
    gm_status st = be->ops->channel_reduce(be, GM_REDUCE_ABS_MAX, &tx, &ty);
    float *y = to_host(&ty);
    gm_test_check(&counts, st == GM_OK && y[0] == 3.0f && isnan(y[1]) && y[2] == 0.0f && y[3] == 5.0f,
                  "abs max: values, a NaN propagates (%g %g %g %g)", y[0], y[1], y[2], y[3]);
    free(y);
    st = be->ops->channel_reduce(be, GM_REDUCE_SUM, &tx, &bad);
    gm_test_check(&counts, st == GM_ERR_SHAPE && msg_has("channel_reduce"), "channel_reduce wrong output: %s",
                  gm_last_error());
    st = be->ops->channel_reduce(be, (gm_channel_reduce)7, &tx, &ty);
    gm_test_check(&counts, st == GM_ERR_UNSUPPORTED, "channel_reduce unknown kind: %s", gm_last_error());
    st = be->ops->multiply(be, &tx, &bad, &tx);
    gm_test_check(&counts, st == GM_ERR_SHAPE && msg_has("multiply"), "multiply shapes differ: %s", gm_last_error());
    gm_tensor tw = dev_tensor(1, 1, 1, 2, NULL);
    st = be->ops->cam_weights(be, GM_CAM_WEIGHTS_GRADCAM, &tx, &tx, &tw);
    gm_test_check(&counts, st == GM_ERR_SHAPE && msg_has("cam_weights") && msg_has("(1,1,1,3)"),
                  "cam_weights wrong weight shape: %s", gm_last_error());
    gm_tensor tw3 = dev_tensor(1, 1, 1, 3, NULL);
    st = be->ops->cam_weights(be, (gm_cam_weights)9, &tx, &tx, &tw3);
    gm_test_check(&counts, st == GM_ERR_UNSUPPORTED, "cam_weights unknown kind: %s", gm_last_error());
    dev_free(&tw3);
    st = be->ops->weighted_channel_sum(be, &tx, &tw, 1, &ty);
    gm_test_check(&counts, st == GM_ERR_SHAPE && msg_has("weighted_channel_sum"), "weighted_channel_sum: %s",
                  gm_last_error());
    st = be->ops->elementwise_cam(be, GM_ELEMENTWISE_HIRESCAM, &tx, &bad, &ty);
    gm_test_check(&counts, st == GM_ERR_SHAPE && msg_has("elementwise_cam"), "elementwise_cam: %s", gm_last_error());
    /* A NaN gradient shows in the HiResCAM/LayerCAM map instead of being zeroed by the ReLU. */
    float ones[12];
    for (int i = 0; i < 12; ++i) ones[i] = 1.0f;
    gm_tensor tA = dev_tensor(1, 2, 2, 3, ones);
    st = be->ops->elementwise_cam(be, GM_ELEMENTWISE_LAYERCAM, &tA, &tx, &ty);
    y = to_host(&ty);
    gm_test_check(&counts, st == GM_OK && isnan(y[1]) && y[0] == 3.0f && y[3] == 4.0f,
                  "layercam: NaN propagates, values (%g %g %g %g)", y[0], y[1], y[2], y[3]);
    free(y);
    float W[6] = {1, 2, 3, 4, 5, 6};
    int cls[2] = {0, 3};
    gm_tensor tL = dev_tensor(1, 2, 2, 2, NULL), ta2 = dev_tensor(1, 2, 2, 2, ones);
    st = be->ops->cam_multi(be, &ta2, W, 3, cls, 2, &tL);
    gm_test_check(&counts, st == GM_ERR_INVALID_ARG && msg_has("class 3") && msg_has("cam_multi"),
                  "cam_multi class out of range: %s", gm_last_error());
    st = be->ops->cam_multi(be, &ta2, W, 3, cls, 3, &tL);
    gm_test_check(&counts, st == GM_ERR_SHAPE, "cam_multi K differs from L's channels: %s", gm_last_error());
    dev_free(&tx);
    dev_free(&ty);
    dev_free(&bad);
    dev_free(&tw);
    dev_free(&tA);
    dev_free(&tL);
    dev_free(&ta2);

    /* The math header directly, with a channel stride (how a CUDA thread walks one channel). */
    const float m[6] = {1, -4, 2, 3, -2, 8}; /* 3 pixels x 2 channels */
    gm_test_check(&counts,
                  gm_cam_abs_max(m + 1, 3, 2) == 8.0f && gm_cam_channel_sum(m, 3, 2) == 1.0f &&
                      gm_cam_gradcam_weight(m + 1, 3, 2) == (float)(7.0 / 3.0) && gm_cam_relu(-1.0f) == 0.0f &&
                      isnan(gm_cam_relu(NAN)) && gm_cam_xgradcam_weight(m, m, 3, 2) == (float)(9.0 / (1.0 + 1e-7)),
                  "cam_math strided helpers");
}

int main(void) {
    gm_test_rng_seed(&rng, 20240611);
    gm_backend_config cfg = {0};
    if (gm_cpu_backend_create(&cfg, &be) != GM_OK) {
        fprintf(stderr, "cannot create the CPU backend: %s\n", gm_last_error());
        return 1;
    }
    test_channel_reduce_multiply();
    test_cam_weights_and_maps();
    test_gradcampp_values_and_rejection();
    test_thread_independence();
    test_cam_multi();
    test_errors_nan_and_math();
    be->ops->destroy(&be);
    return gm_test_summary(&counts);
}
