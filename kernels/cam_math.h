/* cam_math.h — the per-pixel and per-channel math of the explanation kernels (saliency channel
 * reduction, the Grad-CAM family's channel weights, weighted channel sums, HiResCAM/LayerCAM maps),
 * shared by the CPU backend's OpenMP loops (host/cpu/cpu_explain.c) and the CUDA kernels, where
 * one thread calls one function for one pixel or one (image, channel) pair.
 *
 * Layouts: NHWC. A "pixel" is the run of C channel values of one (n,h,w); a function over a pixel
 * gets its first value and the channel stride (1 in plain NHWC). A "channel" is the H*W values of
 * one (n,c); a function over a channel gets its first value and the pixel stride (C in NHWC).
 *
 * Accuracy: every sum (over C for a pixel, over H*W for a channel) is accumulated in double, and
 * products of two floats are formed in double (exactly), so each result is the exact value
 * rounded once or twice to float. The reference libraries (numpy/torch float32 pairwise sums)
 * agree to their own rounding. Double is cheap here: these maps are a few hundred thousand values
 * per image, tiny next to the convolutions, and on the GPU a thread's double accumulator costs far
 * less than the launch.
 *
 * Formulas (reference/methods.md §3; A = target activations, g = dy_c/dA, S = sum_ab A_ab of the
 * channel; library differences noted at each function). No CUDA header is included. */
#ifndef GM_CAM_MATH_H
#define GM_CAM_MATH_H

#include "gm_hd.h"

/* ReLU written so that a NaN passes through (as numpy's maximum does): a broken gradient shows up
 * in the map instead of being silently zeroed. */
GM_HD static inline float gm_cam_relu(float x) { return x < 0.0f ? 0.0f : x; }

GM_HD static inline double gm_cam_relu_d(double x) { return x < 0.0 ? 0.0 : x; }

/* Saliency: max_c |x_c| over one pixel — the seed recipe's tf.reduce_max(tf.abs(grads), axis=-1)
 * (tf-keras-vis and xplique reduce the same way; captum's visualiser and PAIR sum |x| instead).
 * A NaN anywhere propagates, so a broken gradient is visible rather than hidden by the max. */
GM_HD static inline float gm_cam_abs_max(const float *x, int c, long long stride) {
    float m = 0.0f;
    for (int k = 0; k < c; ++k) {
        float v = x[(long long)k * stride];
        v = v < 0.0f ? -v : v;
        if (v > m || v != v) m = v;
        if (m != m) break;
    }
    return m;
}

/* sum_c x_c over one pixel (input x gradient's reduction), accumulated in double. */
GM_HD static inline float gm_cam_channel_sum(const float *x, int c, long long stride) {
    double s = 0.0;
    for (int k = 0; k < c; ++k) s += (double)x[(long long)k * stride];
    return (float)s;
}

/* Element-wise product (input x gradient, guided Grad-CAM). */
GM_HD static inline float gm_cam_multiply(float a, float b) { return a * b; }

/* Grad-CAM: alpha_k = mean_ij g_ij over one channel of hw values.
 * pytorch-grad-cam and tf-keras-vis take the mean; the official Torch code sums (a constant factor
 * H*W that the final normalisation removes). */
GM_HD static inline float gm_cam_gradcam_weight(const float *g, long long hw, long long stride) {
    double s = 0.0;
    for (long long i = 0; i < hw; ++i) s += (double)g[i * stride];
    return (float)(s / (double)hw);
}

/* sum_ab A_ab over one channel, in double: S of Grad-CAM++ and XGrad-CAM. */
GM_HD static inline double gm_cam_channel_total(const float *a, long long hw, long long stride) {
    double s = 0.0;
    for (long long i = 0; i < hw; ++i) s += (double)a[i * stride];
    return s;
}

/* One (i,j) term of the Grad-CAM++ weight, relu(g) * alpha with pytorch-grad-cam's closed form
 *   alpha = g^2 / (2 g^2 + S g^3 + 1e-6),  alpha = 0 where g == 0.
 * Where the libraries differ: the official code and tf-keras-vis also divide alpha by its
 * per-channel sum (not in the paper); torch-cam puts sum_ab A_ab g_ab^3 in the denominator
 * instead of S g^3. We follow pytorch-grad-cam.
 * Computed in double: pytorch-grad-cam works in float32, where g^3 overflows for |g| above ~1e12
 * and then gives 0 or NaN; in double no finite float input overflows, and otherwise the two agree
 * to float rounding. Terms with g <= 0 are 0 outright (relu(g) = 0), which also avoids numpy's
 * 0 * inf = NaN when the denominator vanishes; a denominator of exactly 0 with g > 0 (possible
 * only with negative activations, S g = -2 - 1e-6/g^2) gives 0 instead of infinity. */
GM_HD static inline double gm_cam_gradcampp_term(float g, double s) {
    if (g <= 0.0f) return 0.0; /* a NaN g falls through and propagates */
    double g1 = (double)g, g2 = g1 * g1, g3 = g2 * g1;
    double den = 2.0 * g2 + s * g3 + 1e-6;
    if (den == 0.0) return 0.0;
    return g1 * (g2 / den);
}

/* Grad-CAM++ weight of one channel: sum_ij relu(g_ij) * alpha_ij, S computed first (two passes). */
GM_HD static inline float gm_cam_gradcampp_weight(const float *a, const float *g, long long hw, long long stride) {
    double s = gm_cam_channel_total(a, hw, stride);
    double w = 0.0;
    for (long long i = 0; i < hw; ++i) w += gm_cam_gradcampp_term(g[i * stride], s);
    return (float)w;
}

/* XGrad-CAM weight of one channel: sum_ij A_ij g_ij / (S + 1e-7), pytorch-grad-cam's formula
 * (it divides each term by S + 1e-7 before summing; dividing the exact sum once is the same value
 * with less rounding). A denominator of exactly 0 (activations summing to -1e-7) gives 0 instead
 * of infinity. */
GM_HD static inline float gm_cam_xgradcam_weight(const float *a, const float *g, long long hw, long long stride) {
    double s = 0.0, num = 0.0;
    for (long long i = 0; i < hw; ++i) {
        double av = (double)a[i * stride];
        s += av;
        num += av * (double)g[i * stride];
    }
    double den = s + 1e-7;
    return den == 0.0 ? 0.0f : (float)(num / den);
}

/* sum_k w_k A_k over one pixel (A stride 1 between channels, w contiguous), then ReLU when relu:
 * the Grad-CAM-family map from channel weights. captum leaves out the ReLU unless asked
 * (relu_attributions); the others apply it. */
GM_HD static inline float gm_cam_weighted_sum(const float *a, const float *w, int c, int relu) {
    double s = 0.0;
    for (int k = 0; k < c; ++k) s += (double)a[k] * (double)w[k];
    return relu ? (float)gm_cam_relu_d(s) : (float)s;
}

/* Element-wise CAMs over one pixel, then ReLU:
 *   HiResCAM  relu(sum_k g_k A_k)
 *   LayerCAM  relu(sum_k relu(g_k) A_k)
 * pytorch-grad-cam, tf-keras-vis and torch-cam agree on the single-layer map; they differ only
 * when fusing several layers (torch-cam tanh(2 cam), pytorch-grad-cam a mean of min-max maps),
 * which is post-processing, not this kernel. */
GM_HD static inline float gm_cam_elementwise(const float *a, const float *g, int c, int layercam) {
    double s = 0.0;
    for (int k = 0; k < c; ++k) {
        double gv = (double)g[k];
        if (layercam) gv = gm_cam_relu_d(gv);
        s += gv * (double)a[k];
    }
    return (float)gm_cam_relu_d(s);
}

#endif
