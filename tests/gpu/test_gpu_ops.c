/* test_gpu_ops.c — the CUDA backend's convolutions and dense layers (cuDNN, cuBLAS) against the CPU
 * backend (oneDNN) on identical seeded random inputs, under every precision: conv2d_fwd (bias and
 * every fused activation: linear, relu, relu6-style cap, leaky, thresholded, sigmoid, tanh, softmax
 * over C) and conv2d_bwd_data with symmetric and asymmetric padding, stride 2 (with input rows no
 * window reaches, whose dx must still be written as 0), dilation and non-square kernels; dense_fwd
 * and dense_bwd_data from 2-D and 4-D inputs up to a ResNet50-sized head. Each layer runs at batch
 * 1, 3, then 1 again, so a per-batch-size algorithm cache that returns a stale plan fails.
 * Outputs start as NaN, so an element an op leaves unwritten fails. Label "gpu": without a CUDA
 * device (or without the plugin) the program prints SKIP and exits 77.
 * Layouts: NHWC activations, HWIO conv kernels, IO dense kernels (Keras's), as in host/backend.h.
 *
 * Tolerances: gm_pair_gemm_bound() in gpu_pair.c, per precision (fp32: 1e-5 + 2e-7*K absolute and
 * 1e-4 relative, from the two summation orders over K products; tf32 / fp16 / bf16: 8-10 unit
 * roundoffs of the output scale, from the rounded operands). `scale` is the r.m.s. of the exact
 * outputs: a forward output sums K products of x in [-1,1] (variance 1/3) and w in [-0.5,0.5]
 * (variance 1/12) plus a bias in [-0.5,0.5], so scale = sqrt(K/36 + 1/12); a backward output sums
 * at most kh*kw*cout (dense: out) products of dy in [-1,1] and w, so scale <= sqrt(T/36). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_pair.h"
#include "host/backend.h"
#include "kernels/pool_math.h"
#include "test_support.h"

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

/* Prepares the same layer on both backends; 0 (and one failed check) when either refuses. */
typedef struct pair_weights {
    gm_layer_weights *cpu, *gpu;
} pair_weights;

static int prepare_checked(const gm_pair *P, const char *what, gm_status sc, const char *mc, gm_status sg,
                           const char *mg) {
    if (sc == GM_OK && sg == GM_OK) return 1;
    gm_test_check(P->counts, 0, "%s [%s] prepare: cpu %s %s, cuda %s %s", what, gm_precision_name(P->precision),
                  gm_status_name(sc), mc, gm_status_name(sg), mg);
    return 0;
}

static void weights_free(const gm_pair *P, pair_weights *w) {
    if (w->cpu) P->cpu->ops->weights_free(P->cpu, &w->cpu);
    if (w->gpu) P->gpu->ops->weights_free(P->gpu, &w->gpu);
    gm_test_check(P->counts, w->cpu == NULL && w->gpu == NULL, "weights_free nulls the pointers [%s]",
                  gm_precision_name(P->precision));
}

/* ---------------------------------------------------------------- conv2d */

typedef struct conv_case {
    const char *name;
    int h, w, cin, cout, kh, kw, sh, sw, dh, dw;
    int same; /* 1: TF same padding computed here; 0: the explicit pads below */
    int pt, pb, pl, pr;
    int use_bias;
    gm_activation act;
    int fp32_only; /* a discontinuous activation: see test_conv */
} conv_case;

static void conv_batch(const gm_pair *P, const conv_case *cc, const gm_conv2d_desc *d, pair_weights *lw, int n) {
    const int oh = gm_pool_out_dim(cc->h, (d->kh - 1) * d->dilation_h + 1, d->stride_h, d->pad_top, d->pad_bottom);
    const int ow = gm_pool_out_dim(cc->w, (d->kw - 1) * d->dilation_w + 1, d->stride_w, d->pad_left, d->pad_right);
    const int K = d->kh * d->kw * d->cin, T = d->kh * d->kw * d->cout;
    float *x = gm_pair_random(P, (size_t)n * cc->h * cc->w * cc->cin, -1.0f, 1.0f);
    float *dy = gm_pair_random(P, (size_t)n * oh * ow * cc->cout, -1.0f, 1.0f);
    gm_pair_tensor tx = gm_pair_tensor_make(P, n, cc->h, cc->w, cc->cin, x);
    gm_pair_tensor ty = gm_pair_tensor_make(P, n, oh, ow, cc->cout, NULL);
    gm_pair_tensor tdy = gm_pair_tensor_make(P, n, oh, ow, cc->cout, dy);
    gm_pair_tensor tdx = gm_pair_tensor_make(P, n, cc->h, cc->w, cc->cin, NULL);
    char what[192];
    gm_pair_status st;

    st.cpu = gm_pair_keep(P->cpu->ops->conv2d_fwd(P->cpu, lw->cpu, &tx.cpu, &ty.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->conv2d_fwd(P->gpu, lw->gpu, &tx.gpu, &ty.gpu), st.gpu_msg);
    snprintf(what, sizeof what, "conv2d_fwd %s N=%d -> (%d,%d,%d,%d) K=%d", cc->name, n, n, oh, ow, cc->cout, K);
    gm_pair_compare(P, what, &st, &ty, gm_pair_gemm_bound(P->precision, K, sqrt(K / 36.0 + 1.0 / 12.0)));

    st.cpu = gm_pair_keep(P->cpu->ops->conv2d_bwd_data(P->cpu, lw->cpu, &tdy.cpu, &tdx.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->conv2d_bwd_data(P->gpu, lw->gpu, &tdy.gpu, &tdx.gpu), st.gpu_msg);
    snprintf(what, sizeof what, "conv2d_bwd_data %s N=%d -> (%d,%d,%d,%d) T=%d", cc->name, n, n, cc->h, cc->w, cc->cin,
             T);
    gm_pair_compare(P, what, &st, &tdx, gm_pair_gemm_bound(P->precision, T, sqrt(T / 36.0)));

    gm_pair_tensor_free(P, &tx);
    gm_pair_tensor_free(P, &ty);
    gm_pair_tensor_free(P, &tdy);
    gm_pair_tensor_free(P, &tdx);
    free(x);
    free(dy);
}

static void test_conv_case(const gm_pair *P, const conv_case *cc) {
    gm_conv2d_desc d = {cc->kh, cc->kw, cc->cin, cc->cout, cc->sh, cc->sw, cc->dh,
                        cc->dw, cc->pt, cc->pb,  cc->pl,   cc->pr, cc->act};
    if (cc->same) {
        same_pads(cc->h, (cc->kh - 1) * cc->dh + 1, cc->sh, &d.pad_top, &d.pad_bottom);
        same_pads(cc->w, (cc->kw - 1) * cc->dw + 1, cc->sw, &d.pad_left, &d.pad_right);
    }
    fprintf(stderr, "  conv %s: pads (t%d,b%d,l%d,r%d)\n", cc->name, d.pad_top, d.pad_bottom, d.pad_left, d.pad_right);
    size_t kn = (size_t)cc->kh * cc->kw * cc->cin * cc->cout;
    float *k = gm_pair_random(P, kn, -0.5f, 0.5f);
    float *bias = cc->use_bias ? gm_pair_random(P, (size_t)cc->cout, -0.5f, 0.5f) : NULL;
    pair_weights lw = {NULL, NULL};
    char mc[256] = "", mg[256] = "";
    gm_status sc = gm_pair_keep(P->cpu->ops->conv2d_prepare(P->cpu, &d, k, bias, &lw.cpu), mc);
    gm_status sg = gm_pair_keep(P->gpu->ops->conv2d_prepare(P->gpu, &d, k, bias, &lw.gpu), mg);
    if (prepare_checked(P, cc->name, sc, mc, sg, mg)) {
        /* 1, 3, then 1 again: the second N=1 must reuse (or rebuild) its own plan, not N=3's. */
        conv_batch(P, cc, &d, &lw, 1);
        conv_batch(P, cc, &d, &lw, 3);
        conv_batch(P, cc, &d, &lw, 1);
    }
    weights_free(P, &lw);
    free(k);
    free(bias);
}

static void test_conv(const gm_pair *P) {
    const float inf = INFINITY;
    const gm_activation lin = gm_activation_make(GM_ACT_LINEAR);
    const conv_case cases[] = {
        {"3x3 s1 same relu (pads 1/1)", 8, 8, 5, 7, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, relu_p(inf, 0, 0), 0},
        {"3x3 s2 same even input (pads 0/1)", 8, 8, 4, 6, 3, 3, 2, 2, 1, 1, 1, 0, 0, 0, 0, 1, lin, 0},
        /* Rows/cols 7 are in no window: dx must be 0 there (bwd_data overwrites). */
        {"3x3 s2 valid, last row/col unreached", 8, 8, 4, 6, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 0, 1, lin, 0},
        {"7x7 s2 same (pads 2/3) rgb", 16, 16, 3, 8, 7, 7, 2, 2, 1, 1, 1, 0, 0, 0, 0, 1, relu_p(inf, 0, 0), 0},
        {"5x3 explicit asym pads (1,3,2,0) stride (1,2)", 9, 8, 4, 5, 5, 3, 1, 2, 1, 1, 0, 1, 3, 2, 0, 1, lin, 0},
        {"3x3 s2 explicit pads (2,0,0,2)", 9, 9, 3, 4, 3, 3, 2, 2, 1, 1, 0, 2, 0, 0, 2, 1, lin, 0},
        {"3x3 dilation 2 same sigmoid", 9, 10, 3, 5, 3, 3, 1, 1, 2, 2, 1, 0, 0, 0, 0, 1,
         gm_activation_make(GM_ACT_SIGMOID), 0},
        {"3x5 valid tanh no bias", 7, 9, 6, 4, 3, 5, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, gm_activation_make(GM_ACT_TANH), 0},
        {"1x1 s2 projection no bias", 8, 8, 16, 32, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0, lin, 0},
        /* K = 288 gives outputs of s.d. ~2.8, so the cap at 6 clips a few percent of them. */
        {"3x3 relu6 (max_value 6)", 6, 6, 32, 16, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, relu_p(6.0f, 0, 0), 0},
        {"3x3 leaky relu 0.2 capped at 0.5", 6, 6, 8, 8, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, relu_p(0.5f, 0.2f, 0), 0},
        {"3x3 thresholded relu (thr 0.3, slope 0.1)", 6, 6, 8, 8, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
         relu_p(inf, 0.1f, 0.3f), 1},
        {"1x1 softmax over C", 5, 6, 12, 10, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, gm_activation_make(GM_ACT_SOFTMAX), 0},
        {"3x3 s1 same 32->64 (tensor-core shapes)", 14, 14, 32, 64, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
         relu_p(inf, 0, 0), 0},
    };
    /* A thresholded ReLU jumps from ~0 to thr at x = thr: a pre-activation that the two backends put
     * on opposite sides moves the output by 0.3. In fp32 they differ by ~1e-6, so among ~1500
     * outputs of density ~0.3 near thr a split is a 1e-3 event; with rounded operands (~1e-2) it
     * is expected, so that case runs at fp32 only. Every continuous activation runs everywhere. */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        if (!cases[i].fp32_only || P->precision == GM_PRECISION_FP32) test_conv_case(P, &cases[i]);
}

/* ---------------------------------------------------------------- dense */

static void dense_batch(const gm_pair *P, const char *name, int h, int w, int c, int out, pair_weights *lw, int n) {
    const int in = h * w * c;
    float *x = gm_pair_random(P, (size_t)n * in, -1.0f, 1.0f);
    float *dy = gm_pair_random(P, (size_t)n * out, -1.0f, 1.0f);
    gm_pair_tensor tx = gm_pair_tensor_make(P, n, h, w, c, x), ty = gm_pair_tensor_make(P, n, 1, 1, out, NULL);
    gm_pair_tensor tdy = gm_pair_tensor_make(P, n, 1, 1, out, dy), tdx = gm_pair_tensor_make(P, n, h, w, c, NULL);
    char what[160];
    gm_pair_status st;
    st.cpu = gm_pair_keep(P->cpu->ops->dense_fwd(P->cpu, lw->cpu, &tx.cpu, &ty.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->dense_fwd(P->gpu, lw->gpu, &tx.gpu, &ty.gpu), st.gpu_msg);
    snprintf(what, sizeof what, "dense_fwd %s N=%d in=%d out=%d", name, n, in, out);
    gm_pair_compare(P, what, &st, &ty, gm_pair_gemm_bound(P->precision, in, sqrt(in / 36.0 + 1.0 / 12.0)));
    st.cpu = gm_pair_keep(P->cpu->ops->dense_bwd_data(P->cpu, lw->cpu, &tdy.cpu, &tdx.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->dense_bwd_data(P->gpu, lw->gpu, &tdy.gpu, &tdx.gpu), st.gpu_msg);
    snprintf(what, sizeof what, "dense_bwd_data %s N=%d -> (%d,%d,%d,%d)", name, n, n, h, w, c);
    gm_pair_compare(P, what, &st, &tdx, gm_pair_gemm_bound(P->precision, out, sqrt(out / 36.0)));
    gm_pair_tensor_free(P, &tx);
    gm_pair_tensor_free(P, &ty);
    gm_pair_tensor_free(P, &tdy);
    gm_pair_tensor_free(P, &tdx);
    free(x);
    free(dy);
}

static void test_dense_case(const gm_pair *P, const char *name, int h, int w, int c, int out, int use_bias,
                            gm_activation act) {
    const int in = h * w * c;
    gm_dense_desc d = {in, out, act};
    float *k = gm_pair_random(P, (size_t)in * out, -0.5f, 0.5f);
    float *bias = use_bias ? gm_pair_random(P, (size_t)out, -0.5f, 0.5f) : NULL;
    pair_weights lw = {NULL, NULL};
    char mc[256] = "", mg[256] = "";
    gm_status sc = gm_pair_keep(P->cpu->ops->dense_prepare(P->cpu, &d, k, bias, &lw.cpu), mc);
    gm_status sg = gm_pair_keep(P->gpu->ops->dense_prepare(P->gpu, &d, k, bias, &lw.gpu), mg);
    if (prepare_checked(P, name, sc, mc, sg, mg)) {
        dense_batch(P, name, h, w, c, out, &lw, 1);
        dense_batch(P, name, h, w, c, out, &lw, 3);
        dense_batch(P, name, h, w, c, out, &lw, 1);
    }
    weights_free(P, &lw);
    free(k);
    free(bias);
}

static void test_dense(const gm_pair *P) {
    test_dense_case(P, "4-D input 3x4x5 relu", 3, 4, 5, 7, 1, relu_p(INFINITY, 0, 0));
    test_dense_case(P, "linear no bias", 1, 1, 64, 10, 0, gm_activation_make(GM_ACT_LINEAR));
    test_dense_case(P, "odd sizes sigmoid", 1, 1, 33, 17, 1, gm_activation_make(GM_ACT_SIGMOID));
    test_dense_case(P, "tanh", 1, 1, 40, 24, 1, gm_activation_make(GM_ACT_TANH));
    test_dense_case(P, "leaky 0.2 capped at 0.5", 1, 1, 32, 16, 1, relu_p(0.5f, 0.2f, 0));
    test_dense_case(P, "ResNet50 head 2048 -> 1000", 1, 1, 2048, 1000, 1, gm_activation_make(GM_ACT_LINEAR));
}

/* ---------------------------------------------------------------- main */

int main(void) {
    gm_test_counts counts = {0};
    gm_test_rng rng;
    gm_backend *gpu = gm_pair_open_cuda(GM_PRECISION_FP32); /* exits 77 without a device */
    gm_backend *cpu = gm_pair_open_cpu();
    for (int p = GM_PRECISION_FP32; p <= GM_PRECISION_BF16; ++p) {
        if (p != GM_PRECISION_FP32) gpu = gm_pair_open_cuda((gm_precision)p);
        gm_pair P = {cpu, gpu, (gm_precision)p, &counts, &rng, NULL};
        gm_test_rng_seed(&rng, 20240701); /* the same inputs under every precision */
        test_conv(&P);
        test_dense(&P);
        gm_backend_close(&P.gpu);
        gm_test_check(&counts, P.gpu == NULL, "cuda backend (%s) closes", gm_precision_name((gm_precision)p));
    }
    gm_backend_close(&cpu);
    return gm_test_summary(&counts);
}
