/* activation_kernels.h — C-callable launchers of kernels/activation_kernels.cu: activations
 * forward and backward (guided / deconvnet ReLU included), softmax rows, and the bias + activation
 * epilogue that follows a cuDNN convolution or a cuBLAS GEMM. Every launcher enqueues on `stream`
 * (a cudaStream_t passed as void*, so C files need no CUDA header), returns without waiting, and
 * reports a failed launch as GM_ERR_BACKEND. Pointers are device memory; n / rows may be 0. */
#ifndef GM_ACTIVATION_KERNELS_H
#define GM_ACTIVATION_KERNELS_H

#include <stddef.h>

#include "host/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = act(x) element-wise over n floats; x == y allowed. Softmax: use gm_launch_softmax_fwd. */
gm_status gm_launch_activation_fwd(const gm_activation *act, const float *x, float *y, size_t n, void *stream);

/* Softmax over each row of c floats (rows x c); x == y allowed. */
gm_status gm_launch_softmax_fwd(const float *x, float *y, size_t rows, int c, void *stream);

/* y[r, k] = act(y[r, k] + bias[k]) over rows x c (bias NULL: no bias). Softmax is rejected. */
gm_status gm_launch_bias_activation(const gm_activation *act, const float *bias, float *y, size_t rows, int c,
                                    void *stream);

/* dx = act'(from y) * dy over rows x c, with `mode` for the ReLU family (backend.h); softmax runs
 * per row of c. dx may alias dy. */
gm_status gm_launch_activation_bwd(const gm_activation *act, gm_relu_bwd_mode mode, const float *y, const float *dy,
                                   float *dx, size_t rows, int c, void *stream);

/* y = x * scale + offset (Keras Rescaling, two rounded float operations). */
gm_status gm_launch_rescale_fwd(float scale, float offset, const float *x, float *y, size_t n, void *stream);

#ifdef __cplusplus
}
#endif

#endif
