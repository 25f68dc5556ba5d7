/* pool_math.h — shape arithmetic and per-element reductions of the pooling layers, shared by the
 * CPU backend (host/cpu/cpu_pool.c, cpu_elementwise.c) and the CUDA kernels.
 * Padding follows TensorFlow: padded cells are not part of any window (max ignores them,
 * average excludes them from the count), so only the in-bounds cells of a window matter. */
#ifndef GM_POOL_MATH_H
#define GM_POOL_MATH_H

#include "gm_hd.h"

/* Output length of a window of `k` cells (dilation already applied) sliding with `stride` over
 * `in` cells padded by `pad_lo`/`pad_hi`; 0 when the window does not fit even once, which the
 * callers report as a shape error. */
GM_HD static inline int gm_pool_out_dim(int in, int k, int stride, int pad_lo, int pad_hi) {
    int span = in + pad_lo + pad_hi - k;
    if (in <= 0 || k <= 0 || stride <= 0 || span < 0) return 0;
    return span / stride + 1;
}

/* Output size of a convolution: a pooling window of the dilated kernel's extent (TF's rule). */
GM_HD static inline int gm_conv_out_dim(int in, int k, int dilation, int stride, int pad_lo, int pad_hi) {
    return gm_pool_out_dim(in, (k - 1) * dilation + 1, stride, pad_lo, pad_hi);
}

/* Max that keeps the running value on ties, so the first maximum wins (TF's argmax rule). */
GM_HD static inline float gm_pool_max(float running, float x) { return x > running ? x : running; }

/* Mean of `count` cells from their sum accumulated in double (global average pooling on both
 * backends, window average pooling on CUDA): divided in double and rounded to float once, so the
 * result is within float rounding of the exact mean. */
GM_HD static inline float gm_pool_mean(double sum, long long count) { return (float)(sum / (double)count); }

/* Number of in-bounds cells of window [start, start + k) over [0, in): the divisor of an
 * average pool that excludes padding. */
GM_HD static inline int gm_pool_valid_count(int start, int k, int in) {
    int lo = start < 0 ? 0 : start;
    int hi = start + k > in ? in : start + k;
    return hi > lo ? hi - lo : 0;
}

#endif
