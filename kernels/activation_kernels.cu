/* activation_kernels.cu — the CUDA kernels behind kernels/activation_kernels.h: activation layers
 * forward and backward (the ReLU family's guided / deconvnet modes included), softmax rows, the
 * bias + activation epilogue of cuDNN convolutions and cuBLAS GEMMs, and Rescaling forward.
 *
 * Every value is computed by a function of kernels/activation_math.h, activation_bwd_math.h or
 * elementwise_math.h (gm_activation_value, gm_activation_bwd_value, gm_softmax_row,
 * gm_softmax_bwd_row, gm_add, gm_rescale), the same functions the CPU backend's loops call, which
 * is how this math is tested on machines without a GPU (DESIGN §5). The kernels add indexing only.
 *
 * Layout: "rows x c" is NHWC seen as N*H*W pixels of c contiguous channels. Element-wise kernels
 * are grid-stride loops with 64-bit indices. Softmax runs one row per thread, in the CPU's order,
 * because its rows are the logits (N rows of the class count): too few for anything cleverer to
 * pay, and a sequential row is what makes the sums the CPU's. */
/* cuda_check.h first: it declares host/status.h's functions with C linkage before any other header
 * (backend.h through the math headers) includes status.h without it. */
#include "kernels/cuda_check.h"

#include <stdint.h>

#include "kernels/activation_bwd_math.h"
#include "kernels/activation_kernels.h"
#include "kernels/activation_math.h"
#include "kernels/elementwise_math.h"

#define GM_ACT_BLOCK 256u

static __device__ inline size_t gm_act_thread(void) { return (size_t)blockIdx.x * blockDim.x + threadIdx.x; }
static __device__ inline size_t gm_act_stride(void) { return (size_t)blockDim.x * gridDim.x; }
/* i % c, in 32 bits whenever i fits: a 64-bit remainder is a long software sequence on the GPU, and
 * this one runs for every element of every convolution's output. */
static __device__ inline size_t gm_act_channel(size_t i, int c) {
    return i <= UINT32_MAX ? (size_t)((uint32_t)i % (uint32_t)c) : i % (size_t)c;
}

static __global__ void gm_activation_fwd_kernel(gm_activation act, const float *x, float *y, size_t n) {
    for (size_t i = gm_act_thread(); i < n; i += gm_act_stride())
        y[i] = gm_activation_value(act.kind, x[i], act.max_value, act.negative_slope, act.threshold);
}

/* bias == NULL: activation only. The bias is added with gm_add, Add's own function. */
static __global__ void gm_bias_activation_kernel(gm_activation act, const float *bias, float *y, size_t n, int c) {
    for (size_t i = gm_act_thread(); i < n; i += gm_act_stride()) {
        float v = y[i];
        if (bias) v = gm_add(v, bias[gm_act_channel(i, c)]);
        y[i] = gm_activation_value(act.kind, v, act.max_value, act.negative_slope, act.threshold);
    }
}

/* One row per thread: copy when not in place, then the shared in-place row softmax. */
static __global__ void gm_softmax_fwd_kernel(const float *x, float *y, size_t rows, int c) {
    for (size_t r = gm_act_thread(); r < rows; r += gm_act_stride()) {
        const size_t base = r * (size_t)c;
        if (x != y)
            for (int k = 0; k < c; ++k) y[base + (size_t)k] = x[base + (size_t)k];
        gm_softmax_row(y + base, c);
    }
}

static __global__ void gm_activation_bwd_kernel(gm_activation act, gm_relu_bwd_mode mode, const float *y,
                                                const float *dy, float *dx, size_t n) {
    for (size_t i = gm_act_thread(); i < n; i += gm_act_stride())
        dx[i] = gm_activation_bwd_value(act.kind, mode, y[i], dy[i], act.max_value, act.negative_slope,
                                        act.threshold);
}

/* gm_softmax_bwd_row allows dx == dy (the dot product is finished before any write). */
static __global__ void gm_softmax_bwd_kernel(const float *y, const float *dy, float *dx, size_t rows, int c) {
    for (size_t r = gm_act_thread(); r < rows; r += gm_act_stride()) {
        const size_t base = r * (size_t)c;
        gm_softmax_bwd_row(y + base, dy + base, dx + base, c);
    }
}

static __global__ void gm_rescale_fwd_kernel(float scale, float offset, const float *x, float *y, size_t n) {
    for (size_t i = gm_act_thread(); i < n; i += gm_act_stride()) y[i] = gm_rescale(x[i], scale, offset);
}

static int gm_act_kind_valid(gm_act_kind kind) { return kind >= GM_ACT_LINEAR && kind <= GM_ACT_SOFTMAX; }

/* rows * c as a count of floats (0 when either is 0), rejecting c < 0 and products beyond size_t. */
static gm_status gm_act_count(const char *what, size_t rows, int c, size_t *n) {
    *n = 0;
    if (c < 0) return gm_error(GM_ERR_INVALID_ARG, "%s: %d channels", what, c);
    if (c == 0 || rows == 0) return GM_OK;
    if (rows > SIZE_MAX / (size_t)c) return gm_error(GM_ERR_INVALID_ARG, "%s: %zu rows of %d overflow", what, rows, c);
    *n = rows * (size_t)c;
    return GM_OK;
}

extern "C" gm_status gm_launch_activation_fwd(const gm_activation *act, const float *x, float *y, size_t n,
                                              void *stream) {
    if (!act) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_activation_fwd: descriptor is NULL");
    if (!gm_act_kind_valid(act->kind))
        return gm_error(GM_ERR_UNSUPPORTED, "gm_launch_activation_fwd: activation kind %d is not supported",
                        (int)act->kind);
    if (act->kind == GM_ACT_SOFTMAX)
        return gm_error(GM_ERR_UNSUPPORTED, "gm_launch_activation_fwd: softmax is a row operation "
                                            "(gm_launch_softmax_fwd)");
    /* Linear in place has nothing to do; out of place it is a copy through the same kernel. */
    if (n == 0 || (act->kind == GM_ACT_LINEAR && x == y)) return GM_OK;
    if (!x || !y) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_activation_fwd: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_activation_fwd_kernel<<<gm_cuda_grid(n, GM_ACT_BLOCK), GM_ACT_BLOCK, 0, s>>>(*act, x, y, n);
    GM_CUDA_LAUNCH_CHECK(s, "gm_activation_fwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_softmax_fwd(const float *x, float *y, size_t rows, int c, void *stream) {
    size_t n = 0;
    GM_TRY(gm_act_count("gm_launch_softmax_fwd", rows, c, &n));
    if (n == 0) return GM_OK;
    if (!x || !y) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_softmax_fwd: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_softmax_fwd_kernel<<<gm_cuda_grid(rows, GM_ACT_BLOCK), GM_ACT_BLOCK, 0, s>>>(x, y, rows, c);
    GM_CUDA_LAUNCH_CHECK(s, "gm_softmax_fwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_bias_activation(const gm_activation *act, const float *bias, float *y, size_t rows,
                                               int c, void *stream) {
    if (!act) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_bias_activation: descriptor is NULL");
    if (!gm_act_kind_valid(act->kind) || act->kind == GM_ACT_SOFTMAX)
        return gm_error(GM_ERR_UNSUPPORTED, "gm_launch_bias_activation: activation kind %d cannot be fused after a "
                        "convolution or GEMM", (int)act->kind);
    size_t n = 0;
    GM_TRY(gm_act_count("gm_launch_bias_activation", rows, c, &n));
    if (n == 0 || (!bias && act->kind == GM_ACT_LINEAR)) return GM_OK;
    if (!y) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_bias_activation: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_bias_activation_kernel<<<gm_cuda_grid(n, GM_ACT_BLOCK), GM_ACT_BLOCK, 0, s>>>(*act, bias, y, n, c);
    GM_CUDA_LAUNCH_CHECK(s, "gm_bias_activation_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_activation_bwd(const gm_activation *act, gm_relu_bwd_mode mode, const float *y,
                                              const float *dy, float *dx, size_t rows, int c, void *stream) {
    if (!act) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_activation_bwd: descriptor is NULL");
    if (!gm_act_kind_valid(act->kind))
        return gm_error(GM_ERR_UNSUPPORTED, "gm_launch_activation_bwd: activation kind %d is not supported",
                        (int)act->kind);
    if (mode != GM_RELU_BWD_PLAIN && mode != GM_RELU_BWD_GUIDED && mode != GM_RELU_BWD_DECONV)
        return gm_error(GM_ERR_INVALID_ARG, "gm_launch_activation_bwd: ReLU backward mode %d is not defined",
                        (int)mode);
    size_t n = 0;
    GM_TRY(gm_act_count("gm_launch_activation_bwd", rows, c, &n));
    if (n == 0 || (act->kind == GM_ACT_LINEAR && dx == dy)) return GM_OK;
    if (!y || !dy || !dx) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_activation_bwd: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    if (act->kind == GM_ACT_SOFTMAX) {
        gm_softmax_bwd_kernel<<<gm_cuda_grid(rows, GM_ACT_BLOCK), GM_ACT_BLOCK, 0, s>>>(y, dy, dx, rows, c);
        GM_CUDA_LAUNCH_CHECK(s, "gm_softmax_bwd_kernel");
    } else {
        gm_activation_bwd_kernel<<<gm_cuda_grid(n, GM_ACT_BLOCK), GM_ACT_BLOCK, 0, s>>>(*act, mode, y, dy, dx, n);
        GM_CUDA_LAUNCH_CHECK(s, "gm_activation_bwd_kernel");
    }
    return GM_OK;
}

extern "C" gm_status gm_launch_rescale_fwd(float scale, float offset, const float *x, float *y, size_t n,
                                           void *stream) {
    if (n == 0) return GM_OK;
    if (!x || !y) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_rescale_fwd: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_rescale_fwd_kernel<<<gm_cuda_grid(n, GM_ACT_BLOCK), GM_ACT_BLOCK, 0, s>>>(scale, offset, x, y, n);
    GM_CUDA_LAUNCH_CHECK(s, "gm_rescale_fwd_kernel");
    return GM_OK;
}
