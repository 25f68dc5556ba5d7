/* activation_kernels.cu — CUDA kernels for per-element activations and rescaling. Each kernel is
 * a grid-stride loop around the shared math of kernels/activation_math.h (the same functions the
 * CPU backend runs, which is how this math is tested on machines without a GPU); launchers check
 * the launch and honour GRADMAP_CUDA_SYNC. */
#include "kernels/activation_kernels.h"
#include "kernels/activation_math.h"
#include "kernels/cuda_check.h"

static __global__ void gm_activation_fwd_kernel(gm_activation act, const float *x, float *y, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)blockDim.x * gridDim.x) {
        float v = x[i];
        switch (act.kind) {
        case GM_ACT_RELU: v = gm_relu_general(v, act.max_value, act.negative_slope, act.threshold); break;
        case GM_ACT_SIGMOID: v = gm_sigmoid(v); break;
        case GM_ACT_TANH: v = gm_tanh(v); break;
        default: break;
        }
        y[i] = v;
    }
}

static __global__ void gm_rescale_fwd_kernel(float scale, float offset, const float *x, float *y, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)blockDim.x * gridDim.x) {
        /* Two rounded operations, as Keras computes x * scale + offset (no fused multiply-add). */
        float scaled = __fmul_rn(x[i], scale);
        y[i] = __fadd_rn(scaled, offset);
    }
}

extern "C" gm_status gm_cuda_activation_fwd(const gm_activation *act, const float *x, float *y, size_t n,
                                            void *stream) {
    if (act->kind == GM_ACT_SOFTMAX)
        return gm_error(GM_ERR_UNSUPPORTED, "gm_cuda_activation_fwd: softmax is a row operation");
    if (n == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    const unsigned int block = 256;
    gm_activation_fwd_kernel<<<gm_cuda_grid(n, block), block, 0, s>>>(*act, x, y, n);
    GM_CUDA_LAUNCH_CHECK(s, "gm_activation_fwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_cuda_rescale_fwd(float scale, float offset, const float *x, float *y, size_t n, void *stream) {
    if (n == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    const unsigned int block = 256;
    gm_rescale_fwd_kernel<<<gm_cuda_grid(n, block), block, 0, s>>>(scale, offset, x, y, n);
    GM_CUDA_LAUNCH_CHECK(s, "gm_rescale_fwd_kernel");
    return GM_OK;
}
