/* test_gpu_layer_ops.c — the CUDA backend's non-GEMM layer ops against the CPU backend on identical
 * seeded inputs, under every precision: max / average pooling forward and backward (valid and TF
 * "same" padding, asymmetric pads, overlapping windows with stride < size, all-negative inputs,
 * inputs with exact ties), global average / max pooling forward and backward (ties and a plane a
 * ReLU zeroed), activation_fwd for every activation (linear, relu, relu6, leaky, capped leaky with
 * threshold, thresholded without slope, sigmoid, tanh, softmax over C with logits that overflow exp
 * without the max shift; in place and not), activation_bwd in plain / guided / deconvnet modes
 * (from the stored output y, edges at the cap and threshold included), channel_affine, rescale,
 * add (with aliasing), zero_pad forward and its crop, channel_scale_bwd, rescale_bwd, one_hot.
 * Outputs start as NaN so an unwritten element fails. The fp32 run's CUDA results are recorded and
 * every other precision must reproduce them bit for bit: only convolutions and GEMMs may change.
 * Label "gpu": prints SKIP and exits 77 without a CUDA device or plugin. Layout NHWC.
 *
 * Bounds (gm_test_close_ulps: within U ulps of the CPU result, or within atol):
 * - 0 ulps where the GPU runs the same kernels/ math-header function on the same values in the same
 *   order as the CPU, with no multiply-add that nvcc could contract into an FMA: selections (max
 *   pooling, global max, ReLU family forward and backward, copies, padding, crops, one-hot),
 *   single IEEE operations (add, multiply by a scale, sigmoid's backward y(1-y)*dy), the explicitly
 *   rounded x*s+o of rescale / channel affine, the gathered pooling gradients (summed in the CPU
 *   scatter loop's window order) and global average pooling (summed in double in the same order).
 * - average pooling forward: the CPU runs oneDNN (a float32 sum of the K = ph*pw window cells),
 *   the GPU sums in double and rounds the mean once. oneDNN's K-1 additions each round a partial sum
 *   of at most K*max|x| by 2^-24 relative, so atol = K*K*2^-24*max|x| (~5e-6 for 3x3 over [-1,1]);
 *   a missing or extra cell moves a mean by ~0.1.
 * - sigmoid / tanh forward: the CPU's glibc expf / tanhf (< 1 and 2 ulps) vs CUDA's (2 ulps each);
 *   sigmoid's quotient e/(1+e) carries both exps' differences: 8 ulps.
 * - softmax forward: every exp off by up to 3 ulps, summed in the same order, then scaled by the
 *   reciprocal of the sum: 16 ulps.
 * - tanh backward dy*(1 - y*y): nvcc contracts 1 - y*y into an FMA (gcc builds with
 *   -ffp-contract=off), which skips one rounding of y*y (<= 2^-24): atol = 2^-23 * max|dy|.
 * - softmax backward: the dot product sum_k dy_k y_k is contracted into FMAs on the GPU; each of
 *   its C steps may differ by 2^-24 of a partial sum bounded by max|dy| (sum y = 1), so
 *   atol = 2(C+1) 2^-24 max|dy|, plus 2 ulps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_pair.h"
#include "host/backend.h"
#include "kernels/pool_math.h"
#include "test_support.h"

#define U24 (1.0 / 16777216.0) /* 2^-24, float32's unit roundoff */

static gm_activation relu_p(float max_value, float slope, float threshold) {
    gm_activation a = {GM_ACT_RELU, max_value, slope, threshold};
    return a;
}

/* ---------------------------------------------------------------- pooling */

typedef struct pool_case {
    const char *name;
    int is_max, n, h, w, c;
    gm_pool_desc p;
    float lo, hi;
    int levels; /* > 0: quantized inputs (exact ties), else uniform */
} pool_case;

static void test_pool_case(const gm_pair *P, const pool_case *pc) {
    const gm_pool_desc *p = &pc->p;
    const int oh = gm_pool_out_dim(pc->h, p->ph, p->stride_h, p->pad_top, p->pad_bottom);
    const int ow = gm_pool_out_dim(pc->w, p->pw, p->stride_w, p->pad_left, p->pad_right);
    const size_t xn = (size_t)pc->n * pc->h * pc->w * pc->c, yn = (size_t)pc->n * oh * ow * pc->c;
    float *x =
        pc->levels > 0 ? gm_pair_quantized(P, xn, pc->lo, pc->hi, pc->levels) : gm_pair_random(P, xn, pc->lo, pc->hi);
    float *dy = gm_pair_random(P, yn, -1.0f, 1.0f);
    gm_pair_tensor tx = gm_pair_tensor_make(P, pc->n, pc->h, pc->w, pc->c, x);
    gm_pair_tensor ty = gm_pair_tensor_make(P, pc->n, oh, ow, pc->c, NULL);
    gm_pair_tensor tdy = gm_pair_tensor_make(P, pc->n, oh, ow, pc->c, dy);
    gm_pair_tensor tdx = gm_pair_tensor_make(P, pc->n, pc->h, pc->w, pc->c, NULL);
    char what[200];
    gm_pair_status st;
    if (pc->is_max) {
        st.cpu = gm_pair_keep(P->cpu->ops->maxpool_fwd(P->cpu, p, &tx.cpu, &ty.cpu), st.cpu_msg);
        st.gpu = gm_pair_keep(P->gpu->ops->maxpool_fwd(P->gpu, p, &tx.gpu, &ty.gpu), st.gpu_msg);
    } else {
        st.cpu = gm_pair_keep(P->cpu->ops->avgpool_fwd(P->cpu, p, &tx.cpu, &ty.cpu), st.cpu_msg);
        st.gpu = gm_pair_keep(P->gpu->ops->avgpool_fwd(P->gpu, p, &tx.gpu, &ty.gpu), st.gpu_msg);
    }
    const double k2 = (double)p->ph * p->pw * p->ph * p->pw;
    const double max_x = fabs(pc->lo) > fabs(pc->hi) ? fabs(pc->lo) : fabs(pc->hi);
    snprintf(what, sizeof what, "%s fwd %s (%d,%d,%d,%d) -> (%d,%d)", pc->is_max ? "maxpool" : "avgpool", pc->name,
             pc->n, pc->h, pc->w, pc->c, oh, ow);
    gm_pair_compare(P, what, &st, &ty, pc->is_max ? gm_pair_ulps(0, 0) : gm_pair_ulps(0, k2 * U24 * max_x));
    if (pc->is_max) {
        st.cpu = gm_pair_keep(P->cpu->ops->maxpool_bwd(P->cpu, p, &tx.cpu, &tdy.cpu, &tdx.cpu), st.cpu_msg);
        st.gpu = gm_pair_keep(P->gpu->ops->maxpool_bwd(P->gpu, p, &tx.gpu, &tdy.gpu, &tdx.gpu), st.gpu_msg);
    } else {
        st.cpu = gm_pair_keep(P->cpu->ops->avgpool_bwd(P->cpu, p, &tdy.cpu, &tdx.cpu), st.cpu_msg);
        st.gpu = gm_pair_keep(P->gpu->ops->avgpool_bwd(P->gpu, p, &tdy.gpu, &tdx.gpu), st.gpu_msg);
    }
    snprintf(what, sizeof what, "%s bwd %s", pc->is_max ? "maxpool" : "avgpool", pc->name);
    gm_pair_compare(P, what, &st, &tdx, gm_pair_ulps(0, 0));
    gm_pair_tensor_free(P, &tx);
    gm_pair_tensor_free(P, &ty);
    gm_pair_tensor_free(P, &tdy);
    gm_pair_tensor_free(P, &tdx);
    free(x);
    free(dy);
}

static void test_pool(const gm_pair *P) {
    const gm_pool_desc p22 = {2, 2, 2, 2, 0, 0, 0, 0}, p33s2 = {3, 3, 2, 2, 0, 0, 0, 0};
    const gm_pool_desc p33s2_same_even = {3, 3, 2, 2, 0, 1, 0, 1}, p33s1_same = {3, 3, 1, 1, 1, 1, 1, 1};
    const gm_pool_desc p22s1 = {2, 2, 1, 1, 0, 0, 0, 0}, p32_asym = {3, 2, 2, 1, 1, 0, 0, 1};
    const pool_case cases[] = {
        {"2x2/2 valid", 1, 2, 8, 8, 5, p22, -1, 1, 0},
        {"2x2/2 valid odd input (leftover row/col)", 1, 3, 7, 9, 4, p22, -1, 1, 0},
        {"3x3/2 same even (pads 0/1), overlapping", 1, 2, 8, 8, 6, p33s2_same_even, -1, 1, 0},
        {"3x3/2 valid odd, overlapping", 1, 2, 9, 7, 3, p33s2, -1, 1, 0},
        {"3x3/1 same (pads 1/1), overlapping", 1, 2, 6, 7, 70, p33s1_same, -1, 1, 0},
        {"3x3/1 same all-negative (padding never wins)", 1, 2, 5, 6, 3, p33s1_same, -2.0f, -0.5f, 0},
        {"3x3/1 same, 3-level input (ties)", 1, 2, 6, 6, 8, p33s1_same, -1, 1, 3},
        {"2x2/1 valid, 2-level input (ties, overlapping)", 1, 2, 5, 5, 4, p22s1, 0, 1, 2},
        {"3x2 stride (2,1) pads (t1,b0,l0,r1)", 1, 2, 7, 6, 5, p32_asym, -1, 1, 0},
        {"2x2/2 valid", 0, 2, 8, 8, 5, p22, -1, 1, 0},
        {"3x3/2 same even (pads 0/1), overlapping", 0, 3, 8, 10, 4, p33s2_same_even, -1, 1, 0},
        {"3x3/1 same (pads 1/1), overlapping", 0, 1, 5, 6, 70, p33s1_same, -1, 1, 0},
        {"3x3/2 same on constant 1 (padding not counted)", 0, 1, 8, 8, 3, p33s2_same_even, 1, 1, 0},
        {"3x2 stride (2,1) pads (t1,b0,l0,r1)", 0, 2, 7, 6, 5, p32_asym, -1, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) test_pool_case(P, &cases[i]);
}

typedef struct global_case {
    const char *name;
    int n, h, w, c;
    int levels;     /* > 0: quantized (ties) */
    int zero_plane; /* 1: channel 0 of every image all zeros, as after a ReLU */
} global_case;

static void test_global_case(const gm_pair *P, const global_case *gc) {
    const size_t xn = (size_t)gc->n * gc->h * gc->w * gc->c, yn = (size_t)gc->n * gc->c;
    float *x = gc->levels > 0 ? gm_pair_quantized(P, xn, -1, 1, gc->levels) : gm_pair_random(P, xn, -1, 1);
    if (gc->zero_plane)
        for (size_t i = 0; i < xn; i += (size_t)gc->c) x[i] = 0.0f;
    float *dy = gm_pair_random(P, yn, -1, 1);
    gm_pair_tensor tx = gm_pair_tensor_make(P, gc->n, gc->h, gc->w, gc->c, x);
    gm_pair_tensor ty = gm_pair_tensor_make(P, gc->n, 1, 1, gc->c, NULL);
    gm_pair_tensor tdy = gm_pair_tensor_make(P, gc->n, 1, 1, gc->c, dy);
    gm_pair_tensor tdx = gm_pair_tensor_make(P, gc->n, gc->h, gc->w, gc->c, NULL);
    char what[160];
    gm_pair_status st;
    for (int is_max = 0; is_max <= 1; ++is_max) {
        const char *op = is_max ? "gmp" : "gap";
        if (is_max) {
            st.cpu = gm_pair_keep(P->cpu->ops->gmp_fwd(P->cpu, &tx.cpu, &ty.cpu), st.cpu_msg);
            st.gpu = gm_pair_keep(P->gpu->ops->gmp_fwd(P->gpu, &tx.gpu, &ty.gpu), st.gpu_msg);
        } else {
            st.cpu = gm_pair_keep(P->cpu->ops->gap_fwd(P->cpu, &tx.cpu, &ty.cpu), st.cpu_msg);
            st.gpu = gm_pair_keep(P->gpu->ops->gap_fwd(P->gpu, &tx.gpu, &ty.gpu), st.gpu_msg);
        }
        snprintf(what, sizeof what, "%s_fwd %s (%d,%d,%d,%d)", op, gc->name, gc->n, gc->h, gc->w, gc->c);
        gm_pair_compare(P, what, &st, &ty, gm_pair_ulps(0, 0));
        if (is_max) {
            st.cpu = gm_pair_keep(P->cpu->ops->gmp_bwd(P->cpu, &tx.cpu, &tdy.cpu, &tdx.cpu), st.cpu_msg);
            st.gpu = gm_pair_keep(P->gpu->ops->gmp_bwd(P->gpu, &tx.gpu, &tdy.gpu, &tdx.gpu), st.gpu_msg);
        } else {
            st.cpu = gm_pair_keep(P->cpu->ops->gap_bwd(P->cpu, &tdy.cpu, &tdx.cpu), st.cpu_msg);
            st.gpu = gm_pair_keep(P->gpu->ops->gap_bwd(P->gpu, &tdy.gpu, &tdx.gpu), st.gpu_msg);
        }
        snprintf(what, sizeof what, "%s_bwd %s", op, gc->name);
        gm_pair_compare(P, what, &st, &tdx, gm_pair_ulps(0, 0));
    }
    gm_pair_tensor_free(P, &tx);
    gm_pair_tensor_free(P, &ty);
    gm_pair_tensor_free(P, &tdy);
    gm_pair_tensor_free(P, &tdx);
    free(x);
    free(dy);
}

static void test_global(const gm_pair *P) {
    const global_case cases[] = {
        {"uniform, C crossing 64", 2, 5, 7, 70, 0, 0},
        {"H*W = 1", 3, 1, 1, 16, 0, 0},
        {"5-level input (ties) and a zeroed plane", 2, 4, 4, 8, 5, 1},
        {"CAM-sized 14x14x512", 2, 14, 14, 512, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) test_global_case(P, &cases[i]);
}

/* ---------------------------------------------------------------- activations */

/* Bound of the forward of one activation (see the file comment). */
static gm_pair_bound act_fwd_bound(const gm_activation *a) {
    if (a->kind == GM_ACT_SIGMOID || a->kind == GM_ACT_TANH) return gm_pair_ulps(8, 0);
    if (a->kind == GM_ACT_SOFTMAX) return gm_pair_ulps(16, 0);
    return gm_pair_ulps(0, 0);
}

/* Bound of the backward (dy in [-1,1], so max|dy| <= 1). */
static gm_pair_bound act_bwd_bound(const gm_activation *a, int c) {
    if (a->kind == GM_ACT_TANH) return gm_pair_ulps(0, 2.0 * U24);
    if (a->kind == GM_ACT_SOFTMAX) return gm_pair_ulps(2, 2.0 * (c + 1) * U24);
    return gm_pair_ulps(0, 0);
}

static void test_activation(const gm_pair *P, const gm_activation *a) {
    const int n = 2, h = 3, w = 4, c = 11;
    const size_t cnt = (size_t)n * h * w * c;
    float *x = gm_pair_random(P, cnt, -8, 8);
    float *dy = gm_pair_random(P, cnt, -1, 1);
    if (a->kind == GM_ACT_RELU) { /* edges: exactly at the cap and at the threshold */
        x[0] = isinf(a->max_value) ? 3.0f : a->max_value;
        x[1] = a->threshold;
    }
    if (a->kind == GM_ACT_SOFTMAX) x[0] = 500.0f; /* exp overflows without the max shift */
    char what[200], name[96];
    snprintf(name, sizeof name, "%s (max %g slope %g thr %g)", gm_activation_name(a), a->max_value, a->negative_slope,
             a->threshold);
    gm_pair_tensor tx = gm_pair_tensor_make(P, n, h, w, c, x), ty = gm_pair_tensor_make(P, n, h, w, c, NULL);
    gm_pair_status st;
    st.cpu = gm_pair_keep(P->cpu->ops->activation_fwd(P->cpu, a, &tx.cpu, &ty.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->activation_fwd(P->gpu, a, &tx.gpu, &ty.gpu), st.gpu_msg);
    snprintf(what, sizeof what, "activation_fwd %s", name);
    gm_pair_compare(P, what, &st, &ty, act_fwd_bound(a));

    /* In place (x == y allowed). */
    gm_pair_tensor tin = gm_pair_tensor_make(P, n, h, w, c, x);
    st.cpu = gm_pair_keep(P->cpu->ops->activation_fwd(P->cpu, a, &tin.cpu, &tin.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->activation_fwd(P->gpu, a, &tin.gpu, &tin.gpu), st.gpu_msg);
    snprintf(what, sizeof what, "activation_fwd in place %s", name);
    gm_pair_compare(P, what, &st, &tin, act_fwd_bound(a));

    /* Backward from the output y: the CPU's y on both sides, so only the backward is compared.
     * The ReLU family's edges y == cap and y == threshold come from x[0], x[1] above. */
    float *y = gm_test_backend_to_host(P->cpu, &ty.cpu);
    gm_pair_tensor yy = gm_pair_tensor_make(P, n, h, w, c, y), tdy = gm_pair_tensor_make(P, n, h, w, c, dy);
    const int modes = a->kind == GM_ACT_SOFTMAX ? 1 : 3;
    static const char *const mode_name[3] = {"plain", "guided", "deconvnet"};
    for (int m = 0; m < modes; ++m) {
        gm_pair_tensor tdx = gm_pair_tensor_make(P, n, h, w, c, NULL);
        gm_relu_bwd_mode mode = (gm_relu_bwd_mode)m;
        st.cpu = gm_pair_keep(P->cpu->ops->activation_bwd(P->cpu, a, mode, &yy.cpu, &tdy.cpu, &tdx.cpu), st.cpu_msg);
        st.gpu = gm_pair_keep(P->gpu->ops->activation_bwd(P->gpu, a, mode, &yy.gpu, &tdy.gpu, &tdx.gpu), st.gpu_msg);
        snprintf(what, sizeof what, "activation_bwd %s %s", mode_name[m], name);
        gm_pair_compare(P, what, &st, &tdx, act_bwd_bound(a, c));
        gm_pair_tensor_free(P, &tdx);
    }
    /* dx aliasing dy (allowed): the plain gradient in place. */
    gm_pair_tensor inplace = gm_pair_tensor_make(P, n, h, w, c, dy);
    st.cpu = gm_pair_keep(
        P->cpu->ops->activation_bwd(P->cpu, a, GM_RELU_BWD_PLAIN, &yy.cpu, &inplace.cpu, &inplace.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(
        P->gpu->ops->activation_bwd(P->gpu, a, GM_RELU_BWD_PLAIN, &yy.gpu, &inplace.gpu, &inplace.gpu), st.gpu_msg);
    snprintf(what, sizeof what, "activation_bwd plain, dx aliasing dy, %s", name);
    gm_pair_compare(P, what, &st, &inplace, act_bwd_bound(a, c));

    gm_pair_tensor_free(P, &inplace);
    gm_pair_tensor_free(P, &yy);
    gm_pair_tensor_free(P, &tdy);
    gm_pair_tensor_free(P, &tin);
    gm_pair_tensor_free(P, &tx);
    gm_pair_tensor_free(P, &ty);
    free(y);
    free(x);
    free(dy);
}

static void test_activations(const gm_pair *P) {
    const gm_activation acts[] = {
        gm_activation_make(GM_ACT_LINEAR),  relu_p(INFINITY, 0, 0),          relu_p(6.0f, 0, 0),
        relu_p(INFINITY, 0.3f, 0),          relu_p(1.5f, 0.1f, 0.5f),        relu_p(INFINITY, 0.0f, 0.5f),
        gm_activation_make(GM_ACT_SIGMOID), gm_activation_make(GM_ACT_TANH), gm_activation_make(GM_ACT_SOFTMAX),
    };
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; ++i) test_activation(P, &acts[i]);
}

/* ---------------------------------------------------------------- element-wise layers */

static void test_elementwise(const gm_pair *P) {
    const int n = 2, h = 3, w = 5, c = 6;
    const size_t cnt = (size_t)n * h * w * c;
    float *x = gm_pair_random(P, cnt, -3, 3), *b = gm_pair_random(P, cnt, -3, 3);
    float *scale = gm_pair_random(P, (size_t)c, -2.0f, 2.0f), *shift = gm_pair_random(P, (size_t)c, -1, 1);
    gm_pair_buffer sc = gm_pair_buffer_make(P, scale, (size_t)c), sh = gm_pair_buffer_make(P, shift, (size_t)c);
    gm_pair_tensor tx = gm_pair_tensor_make(P, n, h, w, c, x), tb = gm_pair_tensor_make(P, n, h, w, c, b);
    gm_pair_tensor ty = gm_pair_tensor_make(P, n, h, w, c, NULL);
    const gm_pair_bound exact = gm_pair_ulps(0, 0);
    gm_pair_status st;

    st.cpu = gm_pair_keep(P->cpu->ops->channel_affine_fwd(P->cpu, sc.cpu, sh.cpu, &tx.cpu, &ty.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->channel_affine_fwd(P->gpu, sc.gpu, sh.gpu, &tx.gpu, &ty.gpu), st.gpu_msg);
    gm_pair_compare(P, "channel_affine_fwd", &st, &ty, exact);

    /* The "tf" preprocessing as a Rescaling layer: x/127.5 - 1 rounds the product first. */
    st.cpu = gm_pair_keep(P->cpu->ops->rescale_fwd(P->cpu, 1.0f / 127.5f, -1.0f, &tx.cpu, &ty.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->rescale_fwd(P->gpu, 1.0f / 127.5f, -1.0f, &tx.gpu, &ty.gpu), st.gpu_msg);
    gm_pair_compare(P, "rescale_fwd (1/127.5, -1)", &st, &ty, exact);

    st.cpu = gm_pair_keep(P->cpu->ops->add(P->cpu, &tx.cpu, &tb.cpu, &ty.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->add(P->gpu, &tx.gpu, &tb.gpu, &ty.gpu), st.gpu_msg);
    gm_pair_compare(P, "add", &st, &ty, exact);
    st.cpu = gm_pair_keep(P->cpu->ops->add(P->cpu, &tx.cpu, &tb.cpu, &tb.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->add(P->gpu, &tx.gpu, &tb.gpu, &tb.gpu), st.gpu_msg);
    gm_pair_compare(P, "add, y aliasing b", &st, &tb, exact);
    st.cpu = gm_pair_keep(P->cpu->ops->add(P->cpu, &tb.cpu, &tx.cpu, &tb.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->add(P->gpu, &tb.gpu, &tx.gpu, &tb.gpu), st.gpu_msg);
    gm_pair_compare(P, "add, y aliasing a", &st, &tb, exact);

    st.cpu = gm_pair_keep(P->cpu->ops->channel_scale_bwd(P->cpu, sc.cpu, &tx.cpu, &ty.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->channel_scale_bwd(P->gpu, sc.gpu, &tx.gpu, &ty.gpu), st.gpu_msg);
    gm_pair_compare(P, "channel_scale_bwd", &st, &ty, exact);
    st.cpu = gm_pair_keep(P->cpu->ops->rescale_bwd(P->cpu, 1.0f / 255.0f, &tx.cpu, &ty.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->rescale_bwd(P->gpu, 1.0f / 255.0f, &tx.gpu, &ty.gpu), st.gpu_msg);
    gm_pair_compare(P, "rescale_bwd (1/255)", &st, &ty, exact);

    /* Zero padding top 1, bottom 2, left 0, right 3, and the crop that undoes it. */
    const int t = 1, bo = 2, l = 0, r = 3, ph = h + t + bo, pw = w + l + r;
    gm_pair_tensor tp = gm_pair_tensor_make(P, n, ph, pw, c, NULL), tcrop = gm_pair_tensor_make(P, n, h, w, c, NULL);
    st.cpu = gm_pair_keep(P->cpu->ops->zero_pad_fwd(P->cpu, t, bo, l, r, &tx.cpu, &tp.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->zero_pad_fwd(P->gpu, t, bo, l, r, &tx.gpu, &tp.gpu), st.gpu_msg);
    gm_pair_compare(P, "zero_pad_fwd (t1,b2,l0,r3)", &st, &tp, exact);
    float *pdy = gm_pair_random(P, (size_t)n * ph * pw * c, -1, 1);
    gm_pair_tensor tpdy = gm_pair_tensor_make(P, n, ph, pw, c, pdy);
    st.cpu = gm_pair_keep(P->cpu->ops->zero_pad_bwd(P->cpu, t, bo, l, r, &tpdy.cpu, &tcrop.cpu), st.cpu_msg);
    st.gpu = gm_pair_keep(P->gpu->ops->zero_pad_bwd(P->gpu, t, bo, l, r, &tpdy.gpu, &tcrop.gpu), st.gpu_msg);
    gm_pair_compare(P, "zero_pad_bwd (crop t1,b2,l0,r3)", &st, &tcrop, exact);

    /* One-hot seeds of the logits: classes at both ends, host memory. */
    const int cls[3] = {3, 0, 9};
    const float seeds[2] = {1.0f, -2.5f};
    for (int s = 0; s < 2; ++s) {
        gm_pair_tensor toh = gm_pair_tensor_make(P, 3, 1, 1, 10, NULL);
        st.cpu = gm_pair_keep(P->cpu->ops->one_hot(P->cpu, cls, seeds[s], &toh.cpu), st.cpu_msg);
        st.gpu = gm_pair_keep(P->gpu->ops->one_hot(P->gpu, cls, seeds[s], &toh.gpu), st.gpu_msg);
        char what[64];
        snprintf(what, sizeof what, "one_hot seed %g", seeds[s]);
        gm_pair_compare(P, what, &st, &toh, exact);
        gm_pair_tensor_free(P, &toh);
    }

    gm_pair_tensor_free(P, &tpdy);
    gm_pair_tensor_free(P, &tp);
    gm_pair_tensor_free(P, &tcrop);
    gm_pair_tensor_free(P, &tx);
    gm_pair_tensor_free(P, &tb);
    gm_pair_tensor_free(P, &ty);
    gm_pair_buffer_free(P, &sc);
    gm_pair_buffer_free(P, &sh);
    free(pdy);
    free(x);
    free(b);
    free(scale);
    free(shift);
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
        gm_test_rng_seed(&rng, 20240702); /* the same inputs under every precision */
        test_pool(&P);
        test_global(&P);
        test_activations(&P);
        test_elementwise(&P);
        gm_backend_close(&gpu);
    }
    gm_pair_record_free(&record);
    gm_backend_close(&cpu);
    return gm_test_summary(&counts);
}
