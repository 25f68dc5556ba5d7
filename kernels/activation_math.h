/* activation_math.h — per-element activation functions shared by the CPU loops and the CUDA
 * kernels. The generalised ReLU follows keras.layers.ReLU:
 *   y = max_value            if x >= max_value
 *   y = x                    if threshold < x < max_value
 *   y = negative_slope*(x - threshold) otherwise
 * A plain "relu" is max_value = +inf, negative_slope = 0, threshold = 0. */
#ifndef GM_ACTIVATION_MATH_H
#define GM_ACTIVATION_MATH_H

#include <math.h>

#include "gm_hd.h"
#include "host/backend.h"

GM_HD static inline float gm_relu(float x) { return x > 0.0f ? x : 0.0f; }

/* Every candidate is computed unconditionally and then selected: with a multiply inside a branch, the
 * compiler may not if-convert (it could trap) and leaves a scalar loop with a data-dependent branch,
 * which ran 6x slower than an Add over the same tensor on ResNet50. */
GM_HD static inline float gm_relu_general(float x, float max_value, float negative_slope, float threshold) {
    const float below = negative_slope * (x - threshold);
    const float r = x > threshold ? x : below; /* strict, as Keras: x == threshold gives 0 */
    return x >= max_value ? max_value : r;
}

/* Keras's sigmoid is 1/(1+exp(-x)); written to avoid exp overflow for large |x|. */
GM_HD static inline float gm_sigmoid(float x) {
    if (x >= 0.0f) {
        float e = expf(-x);
        return 1.0f / (1.0f + e);
    }
    float e = expf(x);
    return e / (1.0f + e);
}

GM_HD static inline float gm_tanh(float x) { return tanhf(x); }

/* One value through the element-wise activation `kind` (linear, generalised ReLU, sigmoid, tanh):
 * the one dispatch that the CPU loops and the CUDA kernels (fused bias + activation epilogue,
 * activation layers) share, so both map a kind to the same function. Softmax is a row operation
 * (gm_softmax_row below) and is never dispatched here; it passes x through like linear. The CPU
 * loops call this with a constant kind, so the switch folds away and the loops still vectorise. */
GM_HD static inline float gm_activation_value(gm_act_kind kind, float x, float max_value, float negative_slope,
                                              float threshold) {
    switch (kind) {
    case GM_ACT_RELU: return gm_relu_general(x, max_value, negative_slope, threshold);
    case GM_ACT_SIGMOID: return gm_sigmoid(x);
    case GM_ACT_TANH: return gm_tanh(x);
    default: return x;
    }
}

/* Softmax over one row of `n` values, in place, with the max subtracted first for range. */
GM_HD static inline void gm_softmax_row(float *row, int n) {
    float m = row[0];
    for (int i = 1; i < n; ++i) m = row[i] > m ? row[i] : m;
    float sum = 0.0f;
    for (int i = 0; i < n; ++i) {
        row[i] = expf(row[i] - m);
        sum += row[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; ++i) row[i] *= inv;
}

/* ReLU backward variants used by the explanation methods (issue 3): plain gradient mask,
 * guided backprop (mask by forward input and by positive gradient), deconvnet (positive
 * gradient only). `x` is the forward input of the ReLU. */
GM_HD static inline float gm_relu_bwd(float x, float dy) { return x > 0.0f ? dy : 0.0f; }
GM_HD static inline float gm_relu_bwd_guided(float x, float dy) { return (x > 0.0f && dy > 0.0f) ? dy : 0.0f; }
GM_HD static inline float gm_relu_bwd_deconv(float dy) { return dy > 0.0f ? dy : 0.0f; }

#endif
