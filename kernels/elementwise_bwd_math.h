/* elementwise_bwd_math.h — per-element backward of the affine-style layers, shared by the CPU
 * loops (host/cpu/cpu_elementwise_bwd.c) and the CUDA kernels.
 * Gradient rules (forward in kernels/elementwise_math.h):
 *   Rescaling            y = x * scale + offset   ->  dx = dy * scale
 *   channel affine (BN)  y = x * scale[c] + shift ->  dx = dy * scale[c]
 *   one-hot seed         dL/dlogit[n, k] = seed when k == cls[n], else 0
 * ZeroPadding2D's backward is a crop (pure indexing, no arithmetic), so it has no entry here. */
#ifndef GM_ELEMENTWISE_BWD_MATH_H
#define GM_ELEMENTWISE_BWD_MATH_H

#include "gm_hd.h"

GM_HD static inline float gm_scale_bwd(float dy, float scale) { return dy * scale; }

GM_HD static inline float gm_one_hot_value(int k, int cls, float seed) { return k == cls ? seed : 0.0f; }

#endif
