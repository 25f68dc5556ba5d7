/* activation_bwd_math.h — per-element backward of the activations, shared by the CPU loops
 * (host/cpu/cpu_elementwise_bwd.c) and the CUDA kernels. Every derivative is computed from the
 * activation's OUTPUT y (backend.h: the engine keeps outputs only), dx = act'(y) * dy.
 *
 * Gradient rules, with the forward of kernels/activation_math.h (keras.layers.ReLU):
 *   generalised ReLU, max_value M >= 0, negative_slope s >= 0, threshold t >= 0 (Keras's own
 *   constraints on the layer):
 *     y >= M          <=> x >= M              : dy/dx = 0 (the cap; M = +inf never matches)
 *     t < y < M       <=> t < x < M           : dy/dx = 1 (Keras is strict: x == t is below)
 *     otherwise y = s*(x - t) <= 0 <= t       : dy/dx = s
 *   The three regions give disjoint ranges of y, which is why y alone is enough.
 *   ReLU modes (explanation methods): plain as above; guided backprop additionally zeroes
 *   dy <= 0; deconvnet passes max(dy, 0) whatever y was.
 *   sigmoid: y (1 - y); tanh: 1 - y^2; linear: 1;
 *   softmax over a row of C: dx_c = y_c (dy_c - sum_k dy_k y_k). */
#ifndef GM_ACTIVATION_BWD_MATH_H
#define GM_ACTIVATION_BWD_MATH_H

#include "gm_hd.h"
#include "host/backend.h"

/* Local slope of the generalised ReLU at the point whose output is y. */
GM_HD static inline float gm_relu_general_slope(float y, float max_value, float negative_slope, float threshold) {
    if (y >= max_value) return 0.0f;
    if (y > threshold) return 1.0f;
    return negative_slope;
}

/* Plain gradient: dx = slope(y) * dy. */
GM_HD static inline float gm_relu_general_bwd(float y, float dy, float max_value, float negative_slope,
                                              float threshold) {
    return gm_relu_general_slope(y, max_value, negative_slope, threshold) * dy;
}

/* Guided backprop (Springenberg et al.): the plain gradient, and only where dy > 0. */
GM_HD static inline float gm_relu_general_bwd_guided(float y, float dy, float max_value, float negative_slope,
                                                     float threshold) {
    return dy > 0.0f ? gm_relu_general_slope(y, max_value, negative_slope, threshold) * dy : 0.0f;
}

/* Deconvnet (Zeiler & Fergus): the ReLU applied to the gradient, the forward value ignored. */
GM_HD static inline float gm_relu_bwd_deconvnet(float dy) { return dy > 0.0f ? dy : 0.0f; }

GM_HD static inline float gm_sigmoid_bwd(float y, float dy) { return dy * (y * (1.0f - y)); }

GM_HD static inline float gm_tanh_bwd(float y, float dy) { return dy * (1.0f - y * y); }

/* dx for one value of the element-wise activation `kind` from its output y, with the ReLU family's
 * explanation `mode` (plain, guided, deconvnet); the other kinds ignore the mode (guided backprop
 * and deconvnet change only the ReLUs). The dispatch shared by the CPU loops and the CUDA kernels.
 * Softmax is a row operation (gm_softmax_bwd_row below) and is never dispatched here; it passes dy
 * through like linear. The CPU loops call this with constant kind and mode, so the switch folds
 * away and the loops still vectorise. */
GM_HD static inline float gm_activation_bwd_value(gm_act_kind kind, gm_relu_bwd_mode mode, float y, float dy,
                                                  float max_value, float negative_slope, float threshold) {
    switch (kind) {
    case GM_ACT_RELU:
        if (mode == GM_RELU_BWD_DECONV) return gm_relu_bwd_deconvnet(dy);
        if (mode == GM_RELU_BWD_GUIDED) return gm_relu_general_bwd_guided(y, dy, max_value, negative_slope, threshold);
        return gm_relu_general_bwd(y, dy, max_value, negative_slope, threshold);
    case GM_ACT_SIGMOID: return gm_sigmoid_bwd(y, dy);
    case GM_ACT_TANH: return gm_tanh_bwd(y, dy);
    default: return dy;
    }
}

/* Softmax over one row of n values. dx may alias dy: the dot product is finished before any
 * element is written, and element c is read before it is written. */
GM_HD static inline void gm_softmax_bwd_row(const float *y, const float *dy, float *dx, int n) {
    float dot = 0.0f;
    for (int i = 0; i < n; ++i) dot += dy[i] * y[i];
    for (int i = 0; i < n; ++i) dx[i] = y[i] * (dy[i] - dot);
}

#endif
