/* elementwise_kernels.cu — the CUDA kernels behind kernels/elementwise_kernels.h: Add, the
 * input x gradient product, channel affine (unfolded BatchNormalization) and its backward,
 * Rescaling backward, ZeroPadding2D and its crop, the one-hot seed of the logits, and the float32
 * <-> fp16 / bf16 operand copies of the reduced-precision convolutions and GEMMs.
 *
 * Every value is computed by a function of kernels/elementwise_math.h, elementwise_bwd_math.h or
 * cam_math.h (gm_add, gm_cam_multiply, gm_channel_affine, gm_scale_bwd, gm_one_hot_value), the same
 * functions the CPU backend's loops call (DESIGN §5); padding and cropping are pure indexing. The
 * one exception is the precision conversion, which uses CUDA's round-to-nearest-even intrinsics
 * (__float2half_rn, __float2bfloat16_rn, __half2float, __bfloat162float): the CPU backend has no
 * reduced-precision path to share a function with, and these are the exact IEEE conversions.
 *
 * Layout: NHWC; "rows x c" is N*H*W pixels of c contiguous channels. All kernels are grid-stride
 * loops over the output with 64-bit indices, so each output element is written by one thread once
 * (outputs may alias inputs element for element where backend.h allows it). */
/* cuda_check.h first: it declares host/status.h's functions with C linkage before any other header
 * (backend.h) includes status.h without it. */
#include "kernels/cuda_check.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include "kernels/cam_math.h"
#include "kernels/elementwise_bwd_math.h"
#include "kernels/elementwise_kernels.h"
#include "kernels/elementwise_math.h"

#define GM_EW_BLOCK 256u

static __device__ inline size_t gm_ew_thread(void) { return (size_t)blockIdx.x * blockDim.x + threadIdx.x; }
static __device__ inline size_t gm_ew_stride(void) { return (size_t)blockDim.x * gridDim.x; }
/* i % c, in 32 bits whenever i fits: a 64-bit remainder is a long software sequence on the GPU. */
static __device__ inline size_t gm_ew_channel(size_t i, int c) {
    return i <= UINT32_MAX ? (size_t)((uint32_t)i % (uint32_t)c) : i % (size_t)c;
}

static __global__ void gm_add_kernel(const float *a, const float *b, float *y, size_t n) {
    for (size_t i = gm_ew_thread(); i < n; i += gm_ew_stride()) y[i] = gm_add(a[i], b[i]);
}

static __global__ void gm_multiply_kernel(const float *a, const float *b, float *y, size_t n) {
    for (size_t i = gm_ew_thread(); i < n; i += gm_ew_stride()) y[i] = gm_cam_multiply(a[i], b[i]);
}

static __global__ void gm_channel_affine_kernel(const float *scale, const float *shift, const float *x, float *y,
                                                size_t n, int c) {
    for (size_t i = gm_ew_thread(); i < n; i += gm_ew_stride()) {
        const size_t k = gm_ew_channel(i, c);
        y[i] = gm_channel_affine(x[i], scale[k], shift[k]);
    }
}

static __global__ void gm_channel_scale_bwd_kernel(const float *scale, const float *dy, float *dx, size_t n, int c) {
    for (size_t i = gm_ew_thread(); i < n; i += gm_ew_stride()) dx[i] = gm_scale_bwd(dy[i], scale[gm_ew_channel(i, c)]);
}

static __global__ void gm_rescale_bwd_kernel(float scale, const float *dy, float *dx, size_t n) {
    for (size_t i = gm_ew_thread(); i < n; i += gm_ew_stride()) dx[i] = gm_scale_bwd(dy[i], scale);
}

/* Over the padded output: a cell inside the interior copies x, any other cell is 0. */
static __global__ void gm_zero_pad_fwd_kernel(int top, int left, const float *x, int h, int w, float *y, int yh,
                                              int yw, int c, size_t n) {
    for (size_t i = gm_ew_thread(); i < n; i += gm_ew_stride()) {
        const size_t pixel = i / (size_t)c, k = i % (size_t)c;
        const int ox = (int)(pixel % (size_t)yw);
        const size_t row = pixel / (size_t)yw; /* b * yh + oy */
        const int oy = (int)(row % (size_t)yh);
        const size_t b = row / (size_t)yh;
        const int iy = oy - top, ix = ox - left;
        float v = 0.0f;
        if (iy >= 0 && iy < h && ix >= 0 && ix < w)
            v = x[((b * (size_t)h + (size_t)iy) * (size_t)w + (size_t)ix) * (size_t)c + k];
        y[i] = v;
    }
}

/* Over the cropped output: each dx cell reads its dy cell shifted by the pads. */
static __global__ void gm_zero_pad_bwd_kernel(int top, int left, const float *dy, int dyh, int dyw, float *dx, int h,
                                              int w, int c, size_t n) {
    for (size_t i = gm_ew_thread(); i < n; i += gm_ew_stride()) {
        const size_t pixel = i / (size_t)c, k = i % (size_t)c;
        const size_t ix = pixel % (size_t)w;
        const size_t row = pixel / (size_t)w; /* b * h + iy */
        const size_t iy = row % (size_t)h, b = row / (size_t)h;
        dx[i] = dy[((b * (size_t)dyh + iy + (size_t)top) * (size_t)dyw + ix + (size_t)left) * (size_t)c + k];
    }
}

static __global__ void gm_one_hot_kernel(const int *cls, float seed, float *y, size_t n, int c) {
    for (size_t i = gm_ew_thread(); i < n; i += gm_ew_stride())
        y[i] = gm_one_hot_value((int)gm_ew_channel(i, c), cls[i / (size_t)c], seed);
}

/* Exception to the shared-math rule (file comment): CUDA's IEEE round-to-nearest-even conversions. */
static __global__ void gm_to_half_kernel(const float *src, __half *dst, size_t n) {
    for (size_t i = gm_ew_thread(); i < n; i += gm_ew_stride()) dst[i] = __float2half_rn(src[i]);
}

static __global__ void gm_to_bf16_kernel(const float *src, __nv_bfloat16 *dst, size_t n) {
    for (size_t i = gm_ew_thread(); i < n; i += gm_ew_stride()) dst[i] = __float2bfloat16_rn(src[i]);
}

static __global__ void gm_from_half_kernel(const __half *src, float *dst, size_t n) {
    for (size_t i = gm_ew_thread(); i < n; i += gm_ew_stride()) dst[i] = __half2float(src[i]);
}

static __global__ void gm_from_bf16_kernel(const __nv_bfloat16 *src, float *dst, size_t n) {
    for (size_t i = gm_ew_thread(); i < n; i += gm_ew_stride()) dst[i] = __bfloat162float(src[i]);
}

/* rows * c as a count of floats (0 when either is 0), rejecting c < 0 and products beyond size_t. */
static gm_status gm_ew_count(const char *what, size_t rows, int c, size_t *n) {
    *n = 0;
    if (c < 0) return gm_error(GM_ERR_INVALID_ARG, "%s: %d channels", what, c);
    if (c == 0 || rows == 0) return GM_OK;
    if (rows > SIZE_MAX / (size_t)c) return gm_error(GM_ERR_INVALID_ARG, "%s: %zu rows of %d overflow", what, rows, c);
    *n = rows * (size_t)c;
    return GM_OK;
}

/* Element count of a tensor with non-negative dims (0 when any is 0). */
static gm_status gm_ew_tensor_count(const char *what, const char *name, const gm_tensor *t, size_t *n) {
    *n = 0;
    if (!t) return gm_error(GM_ERR_INVALID_ARG, "%s: %s is NULL", what, name);
    if (t->n < 0 || t->h < 0 || t->w < 0 || t->c < 0)
        return gm_error(GM_ERR_SHAPE, "%s: %s has shape (%d,%d,%d,%d)", what, name, t->n, t->h, t->w, t->c);
    *n = gm_tensor_count(t);
    if (*n && !t->data) return gm_error(GM_ERR_INVALID_ARG, "%s: %s has no data", what, name);
    return GM_OK;
}

extern "C" gm_status gm_launch_add(const float *a, const float *b, float *y, size_t n, void *stream) {
    if (n == 0) return GM_OK;
    if (!a || !b || !y) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_add: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_add_kernel<<<gm_cuda_grid(n, GM_EW_BLOCK), GM_EW_BLOCK, 0, s>>>(a, b, y, n);
    GM_CUDA_LAUNCH_CHECK(s, "gm_add_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_multiply(const float *a, const float *b, float *y, size_t n, void *stream) {
    if (n == 0) return GM_OK;
    if (!a || !b || !y) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_multiply: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_multiply_kernel<<<gm_cuda_grid(n, GM_EW_BLOCK), GM_EW_BLOCK, 0, s>>>(a, b, y, n);
    GM_CUDA_LAUNCH_CHECK(s, "gm_multiply_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_channel_affine(const float *scale, const float *shift, const float *x, float *y,
                                              size_t rows, int c, void *stream) {
    size_t n = 0;
    GM_TRY(gm_ew_count("gm_launch_channel_affine", rows, c, &n));
    if (n == 0) return GM_OK;
    if (!scale || !shift || !x || !y) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_channel_affine: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_channel_affine_kernel<<<gm_cuda_grid(n, GM_EW_BLOCK), GM_EW_BLOCK, 0, s>>>(scale, shift, x, y, n, c);
    GM_CUDA_LAUNCH_CHECK(s, "gm_channel_affine_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_channel_scale_bwd(const float *scale, const float *dy, float *dx, size_t rows, int c,
                                                 void *stream) {
    size_t n = 0;
    GM_TRY(gm_ew_count("gm_launch_channel_scale_bwd", rows, c, &n));
    if (n == 0) return GM_OK;
    if (!scale || !dy || !dx) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_channel_scale_bwd: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_channel_scale_bwd_kernel<<<gm_cuda_grid(n, GM_EW_BLOCK), GM_EW_BLOCK, 0, s>>>(scale, dy, dx, n, c);
    GM_CUDA_LAUNCH_CHECK(s, "gm_channel_scale_bwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_rescale_bwd(float scale, const float *dy, float *dx, size_t n, void *stream) {
    if (n == 0) return GM_OK;
    if (!dy || !dx) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_rescale_bwd: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_rescale_bwd_kernel<<<gm_cuda_grid(n, GM_EW_BLOCK), GM_EW_BLOCK, 0, s>>>(scale, dy, dx, n);
    GM_CUDA_LAUNCH_CHECK(s, "gm_rescale_bwd_kernel");
    return GM_OK;
}

/* The padded tensor's shape must be the small one's grown by the pads; checked here too because
 * the kernels index the small tensor from the padded one's coordinates. */
static gm_status gm_ew_pad_check(const char *what, int top, int bottom, int left, int right, const gm_tensor *small,
                                 const gm_tensor *big) {
    if (top < 0 || bottom < 0 || left < 0 || right < 0)
        return gm_error(GM_ERR_INVALID_ARG, "%s: negative pads (t%d,b%d,l%d,r%d)", what, top, bottom, left, right);
    if (big->n != small->n || big->c != small->c || (long long)big->h != (long long)small->h + top + bottom ||
        (long long)big->w != (long long)small->w + left + right)
        return gm_error(GM_ERR_SHAPE, "%s: pads (t%d,b%d,l%d,r%d) do not take (%d,%d,%d,%d) to (%d,%d,%d,%d)", what,
                        top, bottom, left, right, small->n, small->h, small->w, small->c, big->n, big->h, big->w,
                        big->c);
    return GM_OK;
}

extern "C" gm_status gm_launch_zero_pad_fwd(int top, int bottom, int left, int right, const gm_tensor *x,
                                            gm_tensor *y, void *stream) {
    size_t nx = 0, ny = 0;
    GM_TRY(gm_ew_tensor_count("gm_launch_zero_pad_fwd", "x", x, &nx));
    GM_TRY(gm_ew_tensor_count("gm_launch_zero_pad_fwd", "y", y, &ny));
    GM_TRY(gm_ew_pad_check("gm_launch_zero_pad_fwd", top, bottom, left, right, x, y));
    if (ny == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_zero_pad_fwd_kernel<<<gm_cuda_grid(ny, GM_EW_BLOCK), GM_EW_BLOCK, 0, s>>>(top, left, x->data, x->h, x->w,
                                                                                y->data, y->h, y->w, y->c, ny);
    GM_CUDA_LAUNCH_CHECK(s, "gm_zero_pad_fwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_zero_pad_bwd(int top, int bottom, int left, int right, const gm_tensor *dy,
                                            gm_tensor *dx, void *stream) {
    size_t ndy = 0, ndx = 0;
    GM_TRY(gm_ew_tensor_count("gm_launch_zero_pad_bwd", "dy", dy, &ndy));
    GM_TRY(gm_ew_tensor_count("gm_launch_zero_pad_bwd", "dx", dx, &ndx));
    GM_TRY(gm_ew_pad_check("gm_launch_zero_pad_bwd", top, bottom, left, right, dx, dy));
    if (ndx == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_zero_pad_bwd_kernel<<<gm_cuda_grid(ndx, GM_EW_BLOCK), GM_EW_BLOCK, 0, s>>>(top, left, dy->data, dy->h, dy->w,
                                                                                 dx->data, dx->h, dx->w, dx->c, ndx);
    GM_CUDA_LAUNCH_CHECK(s, "gm_zero_pad_bwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_one_hot(const int *cls, float seed, float *y, int n, int c, void *stream) {
    if (n < 0 || c < 0) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_one_hot: shape (%d,%d)", n, c);
    const size_t count = (size_t)n * (size_t)c;
    if (count == 0) return GM_OK;
    if (!cls || !y) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_one_hot: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_one_hot_kernel<<<gm_cuda_grid(count, GM_EW_BLOCK), GM_EW_BLOCK, 0, s>>>(cls, seed, y, count, c);
    GM_CUDA_LAUNCH_CHECK(s, "gm_one_hot_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_to_half(const float *src, void *dst, size_t n, int bf16, void *stream) {
    if (n == 0) return GM_OK;
    if (!src || !dst) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_to_half: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    if (bf16) {
        gm_to_bf16_kernel<<<gm_cuda_grid(n, GM_EW_BLOCK), GM_EW_BLOCK, 0, s>>>(src, static_cast<__nv_bfloat16 *>(dst),
                                                                              n);
        GM_CUDA_LAUNCH_CHECK(s, "gm_to_bf16_kernel");
    } else {
        gm_to_half_kernel<<<gm_cuda_grid(n, GM_EW_BLOCK), GM_EW_BLOCK, 0, s>>>(src, static_cast<__half *>(dst), n);
        GM_CUDA_LAUNCH_CHECK(s, "gm_to_half_kernel");
    }
    return GM_OK;
}

extern "C" gm_status gm_launch_from_half(const void *src, float *dst, size_t n, int bf16, void *stream) {
    if (n == 0) return GM_OK;
    if (!src || !dst) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_from_half: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    if (bf16) {
        gm_from_bf16_kernel<<<gm_cuda_grid(n, GM_EW_BLOCK), GM_EW_BLOCK, 0, s>>>(
            static_cast<const __nv_bfloat16 *>(src), dst, n);
        GM_CUDA_LAUNCH_CHECK(s, "gm_from_bf16_kernel");
    } else {
        gm_from_half_kernel<<<gm_cuda_grid(n, GM_EW_BLOCK), GM_EW_BLOCK, 0, s>>>(static_cast<const __half *>(src),
                                                                                dst, n);
        GM_CUDA_LAUNCH_CHECK(s, "gm_from_half_kernel");
    }
    return GM_OK;
}
