/* activation_kernels.h — C-callable launchers of kernels/activation_kernels.cu. The stream is
 * passed as void* (a cudaStream_t) so C files need no CUDA header. Pointers are device memory. */
#ifndef GM_ACTIVATION_KERNELS_H
#define GM_ACTIVATION_KERNELS_H

#include <stddef.h>

#include "host/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = act(x) element-wise over n floats (linear, ReLU family, sigmoid, tanh); x == y allowed.
 * Softmax is a row operation and is rejected here. */
gm_status gm_cuda_activation_fwd(const gm_activation *act, const float *x, float *y, size_t n, void *stream);

/* y[i] = x[i] * scale + offset, two float32 operations (Keras Rescaling). */
gm_status gm_cuda_rescale_fwd(float scale, float offset, const float *x, float *y, size_t n, void *stream);

#ifdef __cplusplus
}
#endif

#endif
