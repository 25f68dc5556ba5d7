/* pool_kernels.h — C-callable launchers of kernels/pool_kernels.cu: max / average / global
 * pooling forward and backward with TF's rules (padded cells ignored; max backward to the first
 * maximum of each window, computed by gathering so overlapping windows need no atomics; global
 * max splits ties equally), the semantics documented in host/backend.h and kernels/pool_*math.h.
 * Tensors are NHWC with device data; shapes are the caller's (checked by host/cuda/). */
#ifndef GM_POOL_KERNELS_H
#define GM_POOL_KERNELS_H

#include "host/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

gm_status gm_launch_maxpool_fwd(const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y, void *stream);
gm_status gm_launch_avgpool_fwd(const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y, void *stream);
gm_status gm_launch_maxpool_bwd(const gm_pool_desc *p, const gm_tensor *x, const gm_tensor *dy, gm_tensor *dx,
                                void *stream);
gm_status gm_launch_avgpool_bwd(const gm_pool_desc *p, const gm_tensor *dy, gm_tensor *dx, void *stream);
/* Global pooling: y / dy are N x 1 x 1 x C. */
gm_status gm_launch_gap_fwd(const gm_tensor *x, gm_tensor *y, void *stream);
gm_status gm_launch_gap_bwd(const gm_tensor *dy, gm_tensor *dx, void *stream);
gm_status gm_launch_gmp_fwd(const gm_tensor *x, gm_tensor *y, void *stream);
gm_status gm_launch_gmp_bwd(const gm_tensor *x, const gm_tensor *dy, gm_tensor *dx, void *stream);

#ifdef __cplusplus
}
#endif

#endif
