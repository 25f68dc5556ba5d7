/* elementwise_math.h — per-element arithmetic of the affine-style forward layers, shared by the
 * CPU loops (host/cpu/cpu_elementwise.c) and the CUDA kernels:
 *   Rescaling            y = x * scale + offset
 *   channel affine (BN)  y = x * scale[c] + shift[c]
 *   Add                  y = a + b
 * Keras evaluates `x * scale + offset` as two float32 operations (a multiply kernel, then an add
 * kernel), each rounded. A fused multiply-add would round once and differ in the last bit, so
 * both operations are rounded separately here: the C build relies on -ffp-contract=off (set by
 * CMake for all C sources), the CUDA build uses the explicitly rounded intrinsics because nvcc
 * contracts to FMA by default. No CUDA header is included. */
#ifndef GM_ELEMENTWISE_MATH_H
#define GM_ELEMENTWISE_MATH_H

#include "gm_hd.h"

/* x * scale, rounded to float, then + offset, rounded to float. */
GM_HD static inline float gm_mul_add_rounded(float x, float scale, float offset) {
#if defined(__CUDA_ARCH__)
    return __fadd_rn(__fmul_rn(x, scale), offset);
#else
    float product = x * scale;
    return product + offset;
#endif
}

/* keras.layers.Rescaling: inputs * scale + offset. */
GM_HD static inline float gm_rescale(float x, float scale, float offset) { return gm_mul_add_rounded(x, scale, offset); }

/* Unfolded BatchNormalization as a per-channel affine map. */
GM_HD static inline float gm_channel_affine(float x, float scale, float shift) {
    return gm_mul_add_rounded(x, scale, shift);
}

GM_HD static inline float gm_add(float a, float b) { return a + b; }

#endif
