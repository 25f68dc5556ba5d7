/* elementwise_kernels.h — C-callable launchers of kernels/elementwise_kernels.cu: the per-element
 * layers and their backward (Add, channel affine, Rescaling backward, ZeroPadding and its crop),
 * the one-hot seed, and the float32 <-> fp16/bf16 conversions of the reduced-precision paths.
 * Conventions as in activation_kernels.h: enqueue on `stream`, device pointers, no waiting. */
#ifndef GM_ELEMENTWISE_KERNELS_H
#define GM_ELEMENTWISE_KERNELS_H

#include <stddef.h>

#include "host/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = a + b over n floats; y may alias a or b. */
gm_status gm_launch_add(const float *a, const float *b, float *y, size_t n, void *stream);
/* y = a * b over n floats (input x gradient); y may alias. */
gm_status gm_launch_multiply(const float *a, const float *b, float *y, size_t n, void *stream);
/* y[r, k] = x[r, k] * scale[k] + shift[k] over rows x c; x == y allowed. */
gm_status gm_launch_channel_affine(const float *scale, const float *shift, const float *x, float *y, size_t rows,
                                   int c, void *stream);
/* dx[r, k] = dy[r, k] * scale[k]. */
gm_status gm_launch_channel_scale_bwd(const float *scale, const float *dy, float *dx, size_t rows, int c,
                                      void *stream);
/* dx = dy * scale over n floats. */
gm_status gm_launch_rescale_bwd(float scale, const float *dy, float *dx, size_t n, void *stream);
/* y (n, h+top+bottom, w+left+right, c) = x (n,h,w,c) surrounded by zeros. */
gm_status gm_launch_zero_pad_fwd(int top, int bottom, int left, int right, const gm_tensor *x, gm_tensor *y,
                                 void *stream);
/* dx (n,h,w,c) = the interior of dy (n, h+top+bottom, w+left+right, c). */
gm_status gm_launch_zero_pad_bwd(int top, int bottom, int left, int right, const gm_tensor *dy, gm_tensor *dx,
                                 void *stream);
/* y (n x c) = seed at (i, cls[i]) and 0 elsewhere; cls is DEVICE memory, n ints. */
gm_status gm_launch_one_hot(const int *cls, float seed, float *y, int n, int c, void *stream);

/* Reduced-precision operand copies: dst[i] = round-to-nearest-even(src[i]) as IEEE half (bf16 = 0)
 * or bfloat16 (bf16 = 1), 2 bytes each; and back to float32. */
gm_status gm_launch_to_half(const float *src, void *dst, size_t n, int bf16, void *stream);
gm_status gm_launch_from_half(const void *src, float *dst, size_t n, int bf16, void *stream);

#ifdef __cplusplus
}
#endif

#endif
