/* cam_kernels.h — C-callable launchers of kernels/cam_kernels.cu: the explanation maps. One
 * thread computes one pixel or one (image, channel) pair by calling the functions of
 * kernels/cam_math.h, the same functions the CPU backend calls, so CPU and GPU maps agree to the
 * last bit except where cuBLAS sums (cam_multi). Semantics as in host/backend.h. */
#ifndef GM_CAM_KERNELS_H
#define GM_CAM_KERNELS_H

#include "host/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y (N,H,W,1) = max_c |x| or sum_c x over each pixel of x (N,H,W,C). */
gm_status gm_launch_channel_reduce(gm_channel_reduce kind, const gm_tensor *x, gm_tensor *y, void *stream);
/* w (N,1,1,C) = the Grad-CAM / Grad-CAM++ / XGrad-CAM channel weights of A and G (N,H,W,C). */
gm_status gm_launch_cam_weights(gm_cam_weights kind, const gm_tensor *A, const gm_tensor *G, gm_tensor *w,
                                void *stream);
/* L (N,H,W,1) = sum_k w[n,k] A[n,h,w,k], ReLU when relu != 0. */
gm_status gm_launch_weighted_channel_sum(const gm_tensor *A, const gm_tensor *w, int relu, gm_tensor *L,
                                         void *stream);
/* L (N,H,W,1) = HiResCAM or LayerCAM map of A and G. */
gm_status gm_launch_elementwise_cam(gm_elementwise_cam kind, const gm_tensor *A, const gm_tensor *G, gm_tensor *L,
                                    void *stream);
/* Gathers the dense-kernel columns of each image's classes for CAM's batched GEMM:
 * wsel[(i*c + ch)*k + j] = kernel[ch*n_classes + cls[i*k + j]] for i < n, ch < c, j < k.
 * kernel is the Dense kernel (c x n_classes), cls DEVICE memory (n*k ints, each < n_classes). */
gm_status gm_launch_cam_gather(const float *kernel, int n_classes, const int *cls, int n, int c, int k, float *wsel,
                               void *stream);

#ifdef __cplusplus
}
#endif

#endif
