/* test_gpu_explain_ops.c — the CUDA backend's explanation kernels (kernels/cam_kernels.cu, math in
 * kernels/cam_math.h; cam_multi on cuBLAS) against the CPU backend on identical seeded inputs:
 * channel_reduce (abs max and sum), multiply (and in place), cam_weights (Grad-CAM, Grad-CAM++,
 * XGrad-CAM), weighted_channel_sum with and without ReLU, elementwise_cam (HiResCAM, LayerCAM) and
 * cam_multi (shared and per-image class lists, duplicates, 1000 classes). Shapes include N = 3,
 * C = 1, C = 512 and 2048, H*W = 1; inputs include negative activations and an image whose
 * gradients are all zero (Grad-CAM++ must give 0 there, not NaN). A NaN in the input must come out
 * as a NaN at the same pixel on both backends.
 * The backend runs at every precision: the explanation kernels, cam_multi's GEMM included, must
 * stay fp32 (host/backend.h), so the fp32 run's CUDA results are recorded and every other
 * precision must reproduce them bit for bit, besides meeting the CPU bounds below.
 * Label "gpu": prints SKIP and exits 77 without a CUDA device or plugin. Layout NHWC; weights
 * N x 1 x 1 x C; the dense kernel C x classes (Keras IO).
 *
 * Bounds (CPU result as reference):
 * - 0 ulps for every kernel but two: the GPU thread calls the same cam_math.h function as the CPU
 *   loop on the same values, and the sums inside are sequential in double in a fixed order. nvcc
 *   contracts a*b + s into an FMA, but every product these sums add is a product of two floats,
 *   exact in double (48 significant bits), so the FMA rounds exactly as the separate add does.
 * - Grad-CAM++ weights: 1 ulp. Its term 2g^2 + S g^3 + 1e-6 has an inexact product (g^3 has 72
 *   significant bits) that the FMA leaves unrounded: the double terms may differ in their last
 *   bit, the non-negative sum by a few double ulps, and the float result by at most 1 ulp.
 * - cam_multi: cuBLAS sgemm vs oneDNN sgemm, both float32 in different orders, C products of
 *   A in [0,2] and W in [-0.05,0.05] (s.d. ~0.03): test_cpu_explain.c gives 1e-7*C for one side
 *   (about 10 s.d.), so 2e-7*C for two; rtol 1e-5. A wrong column moves a value by ~0.03*sqrt(C). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_pair.h"
#include "host/backend.h"
#include "test_support.h"

typedef struct shape {
    int n, h, w, c;
} shape;

static const shape shapes[] = {
    {3, 4, 5, 7}, {3, 1, 1, 64}, {2, 3, 3, 1}, {3, 7, 7, 64}, {1, 1, 1, 1}, {2, 14, 14, 512}, {4, 7, 7, 2048},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

enum { POSITIVE_A = 0, NEGATIVE_A, ZERO_G, N_REGIMES };
static const char *const regime_name[N_REGIMES] = {"A>=0", "A<0 allowed", "image 0 zero grads"};
static const char *const weights_name[3] = {"gradcam", "gradcam++", "xgradcam"};

static size_t count_of(shape s) { return (size_t)s.n * s.h * s.w * s.c; }

/* ---------------------------------------------------------------- channel reduce, multiply */

static void test_reduce_multiply(const gm_pair *P, shape s) {
    const size_t n = count_of(s);
    float *x = gm_pair_random(P, n, -2, 2), *b = gm_pair_random(P, n, -2, 2);
    gm_pair_tensor tx = gm_pair_tensor_make(P, s.n, s.h, s.w, s.c, x),
                   tb = gm_pair_tensor_make(P, s.n, s.h, s.w, s.c, b);
    char what[128];
    gm_pair_status st;
    for (int kind = GM_REDUCE_ABS_MAX; kind <= GM_REDUCE_SUM; ++kind) {
        gm_pair_tensor ty = gm_pair_tensor_make(P, s.n, s.h, s.w, 1, NULL);
        st.cpu =
            gm_pair_keep(P->cpu->ops->channel_reduce(P->cpu, (gm_channel_reduce)kind, &tx.cpu, &ty.cpu), st.cpu_msg);
        st.gpu =
            gm_pair_keep(P->gpu->ops->channel_reduce(P->gpu, (gm_channel_reduce)kind, &tx.gpu, &ty.gpu), st.gpu_msg);
        snprintf(what, sizeof what, "channel_reduce %s (%d,%d,%d,%d)", kind ? "sum" : "abs_max", s.n, s.h, s.w, s.c);
        gm_pair_compare(P, what, &st, &ty, gm_pair_ulps(0, 0));
        gm_pair_tensor_free(P, &ty);
    }
    gm_pair_tensor ty = gm_pair_tensor_make(P, s.n, s.h, s.w, s.c, NULL);
    st.cpu = gm_pair_keep(P->cpu->ops->multiply(P->cpu, &tx.cpu, &tb.cpu, &ty.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->multiply(P->gpu, &tx.gpu, &tb.gpu, &ty.gpu), st.gpu_msg);
    snprintf(what, sizeof what, "multiply (%d,%d,%d,%d)", s.n, s.h, s.w, s.c);
    gm_pair_compare(P, what, &st, &ty, gm_pair_ulps(0, 0));
    st.cpu = gm_pair_keep(P->cpu->ops->multiply(P->cpu, &tx.cpu, &tb.cpu, &tx.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->multiply(P->gpu, &tx.gpu, &tb.gpu, &tx.gpu), st.gpu_msg);
    snprintf(what, sizeof what, "multiply in place (%d,%d,%d,%d)", s.n, s.h, s.w, s.c);
    gm_pair_compare(P, what, &st, &tx, gm_pair_ulps(0, 0));
    gm_pair_tensor_free(P, &ty);
    gm_pair_tensor_free(P, &tx);
    gm_pair_tensor_free(P, &tb);
    free(x);
    free(b);
}

/* ---------------------------------------------------------------- CAM weights and maps */

static void test_cam_maps(const gm_pair *P, shape s, int regime) {
    const size_t n = count_of(s);
    float *A = gm_pair_random(P, n, regime == NEGATIVE_A ? -1.0f : 0.0f, 2.0f);
    float *G = gm_pair_random(P, n, -1, 1);
    if (regime == ZERO_G) memset(G, 0, n / (size_t)s.n * sizeof *G);
    gm_pair_tensor tA = gm_pair_tensor_make(P, s.n, s.h, s.w, s.c, A),
                   tG = gm_pair_tensor_make(P, s.n, s.h, s.w, s.c, G);
    char what[160];
    gm_pair_status st;
    for (int kind = GM_CAM_WEIGHTS_GRADCAM; kind <= GM_CAM_WEIGHTS_XGRADCAM; ++kind) {
        gm_pair_tensor tw = gm_pair_tensor_make(P, s.n, 1, 1, s.c, NULL);
        st.cpu =
            gm_pair_keep(P->cpu->ops->cam_weights(P->cpu, (gm_cam_weights)kind, &tA.cpu, &tG.cpu, &tw.cpu), st.cpu_msg);
        st.gpu =
            gm_pair_keep(P->gpu->ops->cam_weights(P->gpu, (gm_cam_weights)kind, &tA.gpu, &tG.gpu, &tw.gpu), st.gpu_msg);
        snprintf(what, sizeof what, "cam_weights %s (%d,%d,%d,%d) %s", weights_name[kind], s.n, s.h, s.w, s.c,
                 regime_name[regime]);
        gm_pair_compare(P, what, &st, &tw, gm_pair_ulps(kind == GM_CAM_WEIGHTS_GRADCAM_PP ? 1 : 0, 0));
        /* The map from these weights: the CPU's weights on both sides, so the sum alone is compared. */
        float *w = gm_test_backend_to_host(P->cpu, &tw.cpu);
        gm_pair_tensor tws = gm_pair_tensor_make(P, s.n, 1, 1, s.c, w);
        for (int relu = 0; relu <= 1; ++relu) {
            gm_pair_tensor tL = gm_pair_tensor_make(P, s.n, s.h, s.w, 1, NULL);
            st.cpu =
                gm_pair_keep(P->cpu->ops->weighted_channel_sum(P->cpu, &tA.cpu, &tws.cpu, relu, &tL.cpu), st.cpu_msg);
            st.gpu =
                gm_pair_keep(P->gpu->ops->weighted_channel_sum(P->gpu, &tA.gpu, &tws.gpu, relu, &tL.gpu), st.gpu_msg);
            snprintf(what, sizeof what, "weighted_channel_sum relu=%d of %s weights (%d,%d,%d,%d) %s", relu,
                     weights_name[kind], s.n, s.h, s.w, s.c, regime_name[regime]);
            gm_pair_compare(P, what, &st, &tL, gm_pair_ulps(0, 0));
            gm_pair_tensor_free(P, &tL);
        }
        gm_pair_tensor_free(P, &tws);
        gm_pair_tensor_free(P, &tw);
        free(w);
    }
    for (int kind = GM_ELEMENTWISE_HIRESCAM; kind <= GM_ELEMENTWISE_LAYERCAM; ++kind) {
        gm_pair_tensor tL = gm_pair_tensor_make(P, s.n, s.h, s.w, 1, NULL);
        st.cpu = gm_pair_keep(P->cpu->ops->elementwise_cam(P->cpu, (gm_elementwise_cam)kind, &tA.cpu, &tG.cpu, &tL.cpu),
                              st.cpu_msg);
        st.gpu = gm_pair_keep(P->gpu->ops->elementwise_cam(P->gpu, (gm_elementwise_cam)kind, &tA.gpu, &tG.gpu, &tL.gpu),
                              st.gpu_msg);
        snprintf(what, sizeof what, "elementwise_cam %s (%d,%d,%d,%d) %s", kind ? "layercam" : "hirescam", s.n, s.h,
                 s.w, s.c, regime_name[regime]);
        gm_pair_compare(P, what, &st, &tL, gm_pair_ulps(0, 0));
        gm_pair_tensor_free(P, &tL);
    }
    gm_pair_tensor_free(P, &tA);
    gm_pair_tensor_free(P, &tG);
    free(A);
    free(G);
}

/* ---------------------------------------------------------------- cam_multi */

typedef struct multi_case {
    const char *name;
    shape s;
    int classes, k;
    int cls[16]; /* n*k entries; random when random_cls */
    int random_cls;
} multi_case;

static void test_cam_multi(const gm_pair *P) {
    const multi_case cases[] = {
        {"same classes every image", {3, 7, 7, 64}, 10, 3, {4, 1, 7, 4, 1, 7, 4, 1, 7}, 0},
        {"overlapping lists with a duplicate", {3, 7, 7, 64}, 10, 3, {4, 1, 7, 1, 4, 2, 7, 7, 1}, 0},
        {"different class per image", {6, 7, 7, 64}, 10, 1, {0, 5, 9, 2, 7, 3}, 0},
        {"C = 1, H*W = 1", {2, 1, 1, 1}, 3, 2, {2, 0, 1, 1}, 0},
        {"CAM-sized, 1000 classes, 5 random per image", {2, 14, 14, 512}, 1000, 5, {0}, 1},
        {"ResNet50 head, 1000 classes, 5 random per image", {8, 7, 7, 2048}, 1000, 5, {0}, 1},
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ++ci) {
        const multi_case *mc = &cases[ci];
        const shape s = mc->s;
        const int nk = s.n * mc->k;
        int *cls = malloc((size_t)nk * sizeof *cls);
        if (!cls) exit(2);
        for (int i = 0; i < nk; ++i)
            cls[i] = mc->random_cls ? (int)(gm_test_rng_uniform(P->rng) * mc->classes) : mc->cls[i];
        const size_t wn = (size_t)s.c * mc->classes;
        float *A = gm_pair_random(P, count_of(s), 0, 2), *W = gm_pair_random(P, wn, -0.05f, 0.05f);
        gm_pair_buffer dW = gm_pair_buffer_make(P, W, wn);
        gm_pair_tensor tA = gm_pair_tensor_make(P, s.n, s.h, s.w, s.c, A);
        gm_pair_tensor tL = gm_pair_tensor_make(P, s.n, s.h, s.w, mc->k, NULL);
        gm_pair_status st;
        st.cpu =
            gm_pair_keep(P->cpu->ops->cam_multi(P->cpu, &tA.cpu, dW.cpu, mc->classes, cls, mc->k, &tL.cpu), st.cpu_msg);
        st.gpu =
            gm_pair_keep(P->gpu->ops->cam_multi(P->gpu, &tA.gpu, dW.gpu, mc->classes, cls, mc->k, &tL.gpu), st.gpu_msg);
        char what[160];
        snprintf(what, sizeof what, "cam_multi %s (%d,%d,%d,%d) K=%d", mc->name, s.n, s.h, s.w, s.c, mc->k);
        gm_pair_compare(P, what, &st, &tL, gm_pair_tol(2e-7 * s.c, 1e-5));
        gm_pair_tensor_free(P, &tA);
        gm_pair_tensor_free(P, &tL);
        gm_pair_buffer_free(P, &dW);
        free(A);
        free(W);
        free(cls);
    }
}

/* ---------------------------------------------------------------- NaN propagation */

/* A NaN gradient must show in the map (cam_math.h's NaN-preserving max and ReLU) on both backends:
 * the outputs must be NaN at the same pixels and equal elsewhere. */
static void test_nan_propagation(const gm_pair *P) {
    const float x[12] = {1, -3, 2, 0.5f, NAN, 1, 0, 0, 0, -1, 4, -5};
    const float ones[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    gm_pair_tensor tx = gm_pair_tensor_make(P, 1, 2, 2, 3, x), tA = gm_pair_tensor_make(P, 1, 2, 2, 3, ones);
    for (int op = 0; op < 2; ++op) {
        gm_pair_tensor ty = gm_pair_tensor_make(P, 1, 2, 2, 1, NULL);
        gm_status sc, sg;
        if (op == 0) {
            sc = P->cpu->ops->channel_reduce(P->cpu, GM_REDUCE_ABS_MAX, &tx.cpu, &ty.cpu);
            sg = P->gpu->ops->channel_reduce(P->gpu, GM_REDUCE_ABS_MAX, &tx.gpu, &ty.gpu);
        } else {
            sc = P->cpu->ops->elementwise_cam(P->cpu, GM_ELEMENTWISE_LAYERCAM, &tA.cpu, &tx.cpu, &ty.cpu);
            sg = P->gpu->ops->elementwise_cam(P->gpu, GM_ELEMENTWISE_LAYERCAM, &tA.gpu, &tx.gpu, &ty.gpu);
        }
        float *c = gm_test_backend_to_host(P->cpu, &ty.cpu), *g = gm_test_backend_to_host(P->gpu, &ty.gpu);
        int same = sc == GM_OK && sg == GM_OK && isnan(c[1]) && isnan(g[1]);
        for (int i = 0; i < 4; ++i) same &= i == 1 || c[i] == g[i];
        gm_test_check(P->counts, same,
                      "%s: a NaN input gives NaN at the same pixel [%s] (cpu %g %g %g %g, cuda %g %g %g %g)",
                      op ? "elementwise_cam layercam" : "channel_reduce abs_max", gm_precision_name(P->precision), c[0],
                      c[1], c[2], c[3], g[0], g[1], g[2], g[3]);
        free(c);
        free(g);
        gm_pair_tensor_free(P, &ty);
    }
    gm_pair_tensor_free(P, &tx);
    gm_pair_tensor_free(P, &tA);
}

/* ---------------------------------------------------------------- main */

int main(void) {
    gm_test_counts counts = {0};
    gm_test_rng rng;
    gm_pair_record record = {0};
    gm_backend *gpu = gm_pair_open_cuda(GM_PRECISION_FP32); /* exits 77 without a device */
    gm_backend *cpu = gm_pair_open_cpu();
    for (int p = GM_PRECISION_FP32; p <= GM_PRECISION_BF16; ++p) {
        if (p != GM_PRECISION_FP32) gpu = gm_pair_open_cuda((gm_precision)p);
        gm_pair P = {cpu, gpu, (gm_precision)p, &counts, &rng, &record};
        record.replay = p != GM_PRECISION_FP32;
        record.next = 0;
        gm_test_rng_seed(&rng, 20240703); /* the same inputs under every precision */
        for (int si = 0; si < N_SHAPES; ++si) {
            test_reduce_multiply(&P, shapes[si]);
            for (int regime = 0; regime < N_REGIMES; ++regime) test_cam_maps(&P, shapes[si], regime);
        }
        test_cam_multi(&P);
        test_nan_propagation(&P);
        gm_backend_close(&gpu);
    }
    gm_pair_record_free(&record);
    gm_backend_close(&cpu);
    return gm_test_summary(&counts);
}
