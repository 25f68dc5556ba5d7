/* cam_kernels.cu — the CUDA kernels behind kernels/cam_kernels.h: the explanation maps (saliency's
 * channel reduction, the Grad-CAM family's channel weights, weighted channel sums, HiResCAM and
 * LayerCAM) and the gather of the dense-kernel columns that CAM's batched GEMM multiplies by.
 *
 * Every value is computed by one call of a kernels/cam_math.h function (gm_cam_abs_max,
 * gm_cam_channel_sum, gm_cam_gradcam_weight, gm_cam_gradcampp_weight, gm_cam_xgradcam_weight,
 * gm_cam_weighted_sum, gm_cam_elementwise) for one pixel or one (image, channel), exactly as the CPU
 * backend's loops call it (DESIGN §5); the kernels add only indexing. The sums inside those
 * functions are sequential in double, so a thread's result does not depend on the launch shape.
 *
 * Layouts: NHWC. A pixel is the run of C channels of one (n,h,w) (stride 1); a channel is the H*W
 * values of one (n,c) (stride C). Maps are N x H x W x 1, weights N x 1 x 1 x C.
 * Thread mapping: pixel functions take one thread per pixel. Channel functions take one thread per
 * (image, channel) with the channel fastest (i = n*C + c), so the 32 threads of a warp read 32
 * consecutive floats of the same pixel at every step (coalesced). Grid-stride loops, 64-bit indices. */
/* cuda_check.h first: it declares host/status.h's functions with C linkage before any other header
 * (backend.h) includes status.h without it. */
#include "kernels/cuda_check.h"

#include <stdint.h>

#include "kernels/cam_kernels.h"
#include "kernels/cam_math.h"

#define GM_CAM_BLOCK 256u

/* What cam_gather writes for a class index outside the kernel's columns, which the host validates
 * before upload: a NaN shows a violation in the map instead of a plausible wrong one. */
#define GM_CAM_BAD_CLASS __int_as_float(0x7fc00000)

static __device__ inline size_t gm_cam_thread(void) { return (size_t)blockIdx.x * blockDim.x + threadIdx.x; }
static __device__ inline size_t gm_cam_stride(void) { return (size_t)blockDim.x * gridDim.x; }

static __global__ void gm_channel_reduce_kernel(int sum, const float *x, float *y, int c, size_t pixels) {
    for (size_t p = gm_cam_thread(); p < pixels; p += gm_cam_stride()) {
        const float *px = x + p * (size_t)c;
        y[p] = sum ? gm_cam_channel_sum(px, c, 1) : gm_cam_abs_max(px, c, 1);
    }
}

/* i = b * c + k: the channel's hw values start at A[b, 0, 0, k] and sit c apart. */
static __global__ void gm_cam_weights_kernel(gm_cam_weights kind, const float *a, const float *g, float *w,
                                             long long hw, int c, size_t n) {
    for (size_t i = gm_cam_thread(); i < n; i += gm_cam_stride()) {
        const size_t base = (i / (size_t)c) * (size_t)hw * (size_t)c + i % (size_t)c;
        const float *a0 = a + base, *g0 = g + base;
        float r;
        if (kind == GM_CAM_WEIGHTS_GRADCAM) r = gm_cam_gradcam_weight(g0, hw, c);
        else if (kind == GM_CAM_WEIGHTS_GRADCAM_PP) r = gm_cam_gradcampp_weight(a0, g0, hw, c);
        else r = gm_cam_xgradcam_weight(a0, g0, hw, c);
        w[i] = r;
    }
}

static __global__ void gm_weighted_channel_sum_kernel(const float *a, const float *w, int relu, float *l,
                                                      long long hw, int c, size_t pixels) {
    for (size_t p = gm_cam_thread(); p < pixels; p += gm_cam_stride())
        l[p] = gm_cam_weighted_sum(a + p * (size_t)c, w + (p / (size_t)hw) * (size_t)c, c, relu);
}

static __global__ void gm_elementwise_cam_kernel(int layercam, const float *a, const float *g, float *l, int c,
                                                 size_t pixels) {
    for (size_t p = gm_cam_thread(); p < pixels; p += gm_cam_stride())
        l[p] = gm_cam_elementwise(a + p * (size_t)c, g + p * (size_t)c, c, layercam);
}

/* One thread per wsel element (i, ch, j), j fastest: wsel[(i*c + ch)*k + j]. */
static __global__ void gm_cam_gather_kernel(const float *kernel, int n_classes, const int *cls, int c, int k,
                                            float *wsel, size_t n) {
    for (size_t e = gm_cam_thread(); e < n; e += gm_cam_stride()) {
        const size_t j = e % (size_t)k, row = e / (size_t)k; /* row = i*c + ch */
        const size_t ch = row % (size_t)c, img = row / (size_t)c;
        const int cl = cls[img * (size_t)k + j];
        wsel[e] = cl >= 0 && cl < n_classes ? kernel[ch * (size_t)n_classes + (size_t)cl] : GM_CAM_BAD_CLASS;
    }
}

/* Non-negative dims, data present when non-empty; *count = elements. */
static gm_status gm_cam_tensor(const char *what, const char *name, const gm_tensor *t, size_t *count) {
    *count = 0;
    if (!t) return gm_error(GM_ERR_INVALID_ARG, "%s: %s is NULL", what, name);
    if (t->n < 0 || t->h < 0 || t->w < 0 || t->c < 0)
        return gm_error(GM_ERR_SHAPE, "%s: %s has shape (%d,%d,%d,%d)", what, name, t->n, t->h, t->w, t->c);
    *count = gm_tensor_count(t);
    if (*count && !t->data) return gm_error(GM_ERR_INVALID_ARG, "%s: %s has no data", what, name);
    return GM_OK;
}

/* The map (N,H,W,1) of x (N,H,W,C). */
static gm_status gm_cam_map_check(const char *what, const gm_tensor *x, const gm_tensor *map) {
    if (map->n != x->n || map->h != x->h || map->w != x->w || map->c != 1)
        return gm_error(GM_ERR_SHAPE, "%s: input (%d,%d,%d,%d) needs a map (%d,%d,%d,1), given (%d,%d,%d,%d)", what,
                        x->n, x->h, x->w, x->c, x->n, x->h, x->w, map->n, map->h, map->w, map->c);
    return GM_OK;
}

/* Weights (N,1,1,C) of activations A (N,H,W,C). */
static gm_status gm_cam_weights_shape(const char *what, const gm_tensor *a, const gm_tensor *w) {
    if (w->n != a->n || w->h != 1 || w->w != 1 || w->c != a->c)
        return gm_error(GM_ERR_SHAPE, "%s: activations (%d,%d,%d,%d) need weights (%d,1,1,%d), given (%d,%d,%d,%d)",
                        what, a->n, a->h, a->w, a->c, a->n, a->c, w->n, w->h, w->w, w->c);
    return GM_OK;
}

static gm_status gm_cam_same_shape(const char *what, const gm_tensor *a, const gm_tensor *b) {
    if (a->n != b->n || a->h != b->h || a->w != b->w || a->c != b->c)
        return gm_error(GM_ERR_SHAPE, "%s: shapes differ, (%d,%d,%d,%d) vs (%d,%d,%d,%d)", what, a->n, a->h, a->w,
                        a->c, b->n, b->h, b->w, b->c);
    return GM_OK;
}

extern "C" gm_status gm_launch_channel_reduce(gm_channel_reduce kind, const gm_tensor *x, gm_tensor *y,
                                              void *stream) {
    static const char what[] = "gm_launch_channel_reduce";
    if (kind != GM_REDUCE_ABS_MAX && kind != GM_REDUCE_SUM)
        return gm_error(GM_ERR_UNSUPPORTED, "%s: kind %d is not supported", what, (int)kind);
    size_t nx = 0, ny = 0;
    GM_TRY(gm_cam_tensor(what, "x", x, &nx));
    GM_TRY(gm_cam_tensor(what, "y", y, &ny));
    GM_TRY(gm_cam_map_check(what, x, y));
    if (ny == 0) return GM_OK;
    /* With C = 0 a pixel has no channels: both functions give 0 without reading x. */
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_channel_reduce_kernel<<<gm_cuda_grid(ny, GM_CAM_BLOCK), GM_CAM_BLOCK, 0, s>>>(kind == GM_REDUCE_SUM, x->data,
                                                                                    y->data, x->c, ny);
    GM_CUDA_LAUNCH_CHECK(s, "gm_channel_reduce_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_cam_weights(gm_cam_weights kind, const gm_tensor *A, const gm_tensor *G, gm_tensor *w,
                                           void *stream) {
    static const char what[] = "gm_launch_cam_weights";
    if (kind != GM_CAM_WEIGHTS_GRADCAM && kind != GM_CAM_WEIGHTS_GRADCAM_PP && kind != GM_CAM_WEIGHTS_XGRADCAM)
        return gm_error(GM_ERR_UNSUPPORTED, "%s: kind %d is not supported", what, (int)kind);
    size_t na = 0, ng = 0, nw = 0;
    GM_TRY(gm_cam_tensor(what, "A", A, &na));
    GM_TRY(gm_cam_tensor(what, "G", G, &ng));
    GM_TRY(gm_cam_tensor(what, "w", w, &nw));
    GM_TRY(gm_cam_same_shape(what, A, G));
    GM_TRY(gm_cam_weights_shape(what, A, w));
    /* An empty channel has no mean (Grad-CAM divides by H*W): nothing is defined to write. */
    if (nw == 0 || na == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_cam_weights_kernel<<<gm_cuda_grid(nw, GM_CAM_BLOCK), GM_CAM_BLOCK, 0, s>>>(
        kind, A->data, G->data, w->data, (long long)A->h * A->w, A->c, nw);
    GM_CUDA_LAUNCH_CHECK(s, "gm_cam_weights_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_weighted_channel_sum(const gm_tensor *A, const gm_tensor *w, int relu, gm_tensor *L,
                                                    void *stream) {
    static const char what[] = "gm_launch_weighted_channel_sum";
    size_t na = 0, nw = 0, nl = 0;
    GM_TRY(gm_cam_tensor(what, "A", A, &na));
    GM_TRY(gm_cam_tensor(what, "w", w, &nw));
    GM_TRY(gm_cam_tensor(what, "L", L, &nl));
    GM_TRY(gm_cam_weights_shape(what, A, w));
    GM_TRY(gm_cam_map_check(what, A, L));
    if (nl == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_weighted_channel_sum_kernel<<<gm_cuda_grid(nl, GM_CAM_BLOCK), GM_CAM_BLOCK, 0, s>>>(
        A->data, w->data, relu != 0, L->data, (long long)A->h * A->w, A->c, nl);
    GM_CUDA_LAUNCH_CHECK(s, "gm_weighted_channel_sum_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_elementwise_cam(gm_elementwise_cam kind, const gm_tensor *A, const gm_tensor *G,
                                               gm_tensor *L, void *stream) {
    static const char what[] = "gm_launch_elementwise_cam";
    if (kind != GM_ELEMENTWISE_HIRESCAM && kind != GM_ELEMENTWISE_LAYERCAM)
        return gm_error(GM_ERR_UNSUPPORTED, "%s: kind %d is not supported", what, (int)kind);
    size_t na = 0, ng = 0, nl = 0;
    GM_TRY(gm_cam_tensor(what, "A", A, &na));
    GM_TRY(gm_cam_tensor(what, "G", G, &ng));
    GM_TRY(gm_cam_tensor(what, "L", L, &nl));
    GM_TRY(gm_cam_same_shape(what, A, G));
    GM_TRY(gm_cam_map_check(what, A, L));
    if (nl == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_elementwise_cam_kernel<<<gm_cuda_grid(nl, GM_CAM_BLOCK), GM_CAM_BLOCK, 0, s>>>(
        kind == GM_ELEMENTWISE_LAYERCAM, A->data, G->data, L->data, A->c, nl);
    GM_CUDA_LAUNCH_CHECK(s, "gm_elementwise_cam_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_cam_gather(const float *kernel, int n_classes, const int *cls, int n, int c, int k,
                                          float *wsel, void *stream) {
    if (n < 0 || c < 0 || k < 0 || n_classes <= 0)
        return gm_error(GM_ERR_INVALID_ARG, "gm_launch_cam_gather: %d images, %d channels, %d maps, %d classes", n, c,
                        k, n_classes);
    if (n == 0 || c == 0 || k == 0) return GM_OK;
    if ((size_t)c * (size_t)k > SIZE_MAX / (size_t)n)
        return gm_error(GM_ERR_INVALID_ARG, "gm_launch_cam_gather: %d x %d x %d weights overflow", n, c, k);
    const size_t count = (size_t)n * (size_t)c * (size_t)k;
    if (!kernel || !cls || !wsel) return gm_error(GM_ERR_INVALID_ARG, "gm_launch_cam_gather: NULL data");
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_cam_gather_kernel<<<gm_cuda_grid(count, GM_CAM_BLOCK), GM_CAM_BLOCK, 0, s>>>(kernel, n_classes, cls, c, k,
                                                                                   wsel, count);
    GM_CUDA_LAUNCH_CHECK(s, "gm_cam_gather_kernel");
    return GM_OK;
}
