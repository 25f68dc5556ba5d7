/* pool_kernels.cu — the CUDA kernels behind kernels/pool_kernels.h: max / average pooling forward
 * and backward, global average / max pooling forward and backward, with TF's rules (padded cells
 * are never part of a window: max ignores them, average leaves them out of the count).
 *
 * Every value is computed by a function of kernels/pool_math.h or pool_bwd_math.h, the same ones
 * the CPU backend calls (DESIGN §5): gm_maxpool_argmax (max pooling forward takes the value at the
 * window's first maximum, the cell the backward routes to), gm_pool_covering, gm_pool_valid_count,
 * gm_pool_mean, gm_pool_max, gm_plane_max_count and the backward shares. The kernels add indexing
 * and the reductions (window sums in double, as the CPU's global average; gradient sums in float,
 * in the CPU loops' order).
 *
 * Layouts: NHWC, x / dx N x H x W x C, y / dy N x OH x OW x C (N x 1 x 1 x C for the global ones).
 * Thread mapping: one thread per output element, channel fastest, so a warp reads consecutive
 * channels of the same cells (coalesced); the global poolings take one thread per (image, channel).
 * Gradient rules (kernels/pool_bwd_math.h): every dx element is computed by gathering over the
 * windows that cover it, in the CPU scatter loops' order (window rows, then columns), so overlapping
 * windows need no atomics and the result is deterministic and equal to the CPU's. dx is overwritten. */
/* cuda_check.h first: it declares host/status.h's functions with C linkage before any other header
 * (backend.h) includes status.h without it. */
#include "kernels/cuda_check.h"

#include <limits.h>
#include <stdint.h>

#include "kernels/pool_bwd_math.h"
#include "kernels/pool_kernels.h"
#include "kernels/pool_math.h"

#define GM_POOL_BLOCK 256u

/* Written where a window has no in-bounds cell, which the descriptor checks (pads smaller than the
 * window) make impossible; a NaN would make a violation visible instead of plausible. */
#define GM_POOL_NO_CELL __int_as_float(0x7fc00000)

static __device__ inline size_t gm_pool_thread(void) { return (size_t)blockIdx.x * blockDim.x + threadIdx.x; }
static __device__ inline size_t gm_pool_stride(void) { return (size_t)blockDim.x * gridDim.x; }

/* Coordinates of element i of an NHWC tensor of h x w x c per image. */
typedef struct gm_pool_coord {
    size_t b;
    int y, x, k;
} gm_pool_coord;

static __device__ inline gm_pool_coord gm_pool_split(size_t i, int h, int w, int c) {
    gm_pool_coord o;
    const size_t pixel = i / (size_t)c;
    const size_t row = pixel / (size_t)w;
    o.k = (int)(i % (size_t)c);
    o.x = (int)(pixel % (size_t)w);
    o.y = (int)(row % (size_t)h);
    o.b = row / (size_t)h;
    return o;
}

/* One thread per y element: the value at the window's first maximum. */
static __global__ void gm_maxpool_fwd_kernel(gm_pool_desc p, const float *x, int h, int w, float *y, int oh, int ow,
                                             int c, size_t n) {
    for (size_t i = gm_pool_thread(); i < n; i += gm_pool_stride()) {
        const gm_pool_coord o = gm_pool_split(i, oh, ow, c);
        const float *plane = x + o.b * (size_t)h * (size_t)w * (size_t)c + (size_t)o.k;
        const int cell = gm_maxpool_argmax(plane, h, w, c, o.y * p.stride_h - p.pad_top, o.x * p.stride_w - p.pad_left,
                                           p.ph, p.pw);
        y[i] = cell >= 0 ? plane[(size_t)cell * (size_t)c] : GM_POOL_NO_CELL;
    }
}

/* One thread per y element: the in-bounds cells summed in double, divided by their count. */
static __global__ void gm_avgpool_fwd_kernel(gm_pool_desc p, const float *x, int h, int w, float *y, int oh, int ow,
                                             int c, size_t n) {
    for (size_t i = gm_pool_thread(); i < n; i += gm_pool_stride()) {
        const gm_pool_coord o = gm_pool_split(i, oh, ow, c);
        const float *plane = x + o.b * (size_t)h * (size_t)w * (size_t)c + (size_t)o.k;
        const int y0 = o.y * p.stride_h - p.pad_top, x0 = o.x * p.stride_w - p.pad_left;
        const int ylo = y0 < 0 ? 0 : y0, yhi = y0 + p.ph < h ? y0 + p.ph : h;
        const int xlo = x0 < 0 ? 0 : x0, xhi = x0 + p.pw < w ? x0 + p.pw : w;
        double sum = 0.0;
        for (int iy = ylo; iy < yhi; ++iy)
            for (int ix = xlo; ix < xhi; ++ix) sum += (double)plane[((size_t)iy * (size_t)w + (size_t)ix) * (size_t)c];
        const int count = gm_pool_valid_count(y0, p.ph, h) * gm_pool_valid_count(x0, p.pw, w);
        y[i] = count > 0 ? gm_pool_mean(sum, count) : GM_POOL_NO_CELL;
    }
}

/* One thread per dx element: the dy of every covering window whose first maximum is this cell. */
static __global__ void gm_maxpool_bwd_kernel(gm_pool_desc p, const float *x, const float *dy, float *dx, int h, int w,
                                             int oh, int ow, int c, size_t n) {
    for (size_t i = gm_pool_thread(); i < n; i += gm_pool_stride()) {
        const gm_pool_coord o = gm_pool_split(i, h, w, c);
        const float *plane = x + o.b * (size_t)h * (size_t)w * (size_t)c + (size_t)o.k;
        const float *g = dy + o.b * (size_t)oh * (size_t)ow * (size_t)c + (size_t)o.k;
        const int self = o.y * w + o.x;
        int fy, ly, fx, lx;
        gm_pool_covering(o.y, p.ph, p.stride_h, p.pad_top, oh, &fy, &ly);
        gm_pool_covering(o.x, p.pw, p.stride_w, p.pad_left, ow, &fx, &lx);
        float acc = 0.0f;
        for (int oy = fy; oy <= ly; ++oy)
            for (int ox = fx; ox <= lx; ++ox) {
                const int cell = gm_maxpool_argmax(plane, h, w, c, oy * p.stride_h - p.pad_top,
                                                   ox * p.stride_w - p.pad_left, p.ph, p.pw);
                if (cell == self) acc += g[((size_t)oy * (size_t)ow + (size_t)ox) * (size_t)c];
            }
        dx[i] = acc;
    }
}

/* One thread per dx element: the shares of the covering windows. */
static __global__ void gm_avgpool_bwd_kernel(gm_pool_desc p, const float *dy, float *dx, int h, int w, int oh, int ow,
                                             int c, size_t n) {
    for (size_t i = gm_pool_thread(); i < n; i += gm_pool_stride()) {
        const gm_pool_coord o = gm_pool_split(i, h, w, c);
        const float *g = dy + o.b * (size_t)oh * (size_t)ow * (size_t)c + (size_t)o.k;
        int fy, ly, fx, lx;
        gm_pool_covering(o.y, p.ph, p.stride_h, p.pad_top, oh, &fy, &ly);
        gm_pool_covering(o.x, p.pw, p.stride_w, p.pad_left, ow, &fx, &lx);
        float acc = 0.0f;
        for (int oy = fy; oy <= ly; ++oy) {
            const int cy = gm_pool_valid_count(oy * p.stride_h - p.pad_top, p.ph, h);
            for (int ox = fx; ox <= lx; ++ox) {
                const int count = cy * gm_pool_valid_count(ox * p.stride_w - p.pad_left, p.pw, w);
                acc += gm_avgpool_bwd_share(g[((size_t)oy * (size_t)ow + (size_t)ox) * (size_t)c], count);
            }
        }
        dx[i] = acc;
    }
}

/* One thread per (image, channel) i = b * c + k: its plane summed in double, p ascending. */
static __global__ void gm_gap_fwd_kernel(const float *x, float *y, long long hw, int c, size_t n) {
    for (size_t i = gm_pool_thread(); i < n; i += gm_pool_stride()) {
        const float *plane = x + (i / (size_t)c) * (size_t)hw * (size_t)c + i % (size_t)c;
        double sum = 0.0;
        for (long long q = 0; q < hw; ++q) sum += (double)plane[(size_t)q * (size_t)c];
        y[i] = gm_pool_mean(sum, hw);
    }
}

static __global__ void gm_gap_bwd_kernel(const float *dy, float *dx, long long hw, int c, size_t n) {
    for (size_t i = gm_pool_thread(); i < n; i += gm_pool_stride()) {
        const size_t pixel = i / (size_t)c, k = i % (size_t)c;
        dx[i] = gm_gap_bwd(dy[(pixel / (size_t)hw) * (size_t)c + k], hw);
    }
}

/* One thread per (image, channel): the running max from the first cell, as the CPU loop. */
static __global__ void gm_gmp_fwd_kernel(const float *x, float *y, long long hw, int c, size_t n) {
    for (size_t i = gm_pool_thread(); i < n; i += gm_pool_stride()) {
        const float *plane = x + (i / (size_t)c) * (size_t)hw * (size_t)c + i % (size_t)c;
        float best = plane[0];
        for (long long q = 1; q < hw; ++q) best = gm_pool_max(best, plane[(size_t)q * (size_t)c]);
        y[i] = best;
    }
}

/* One thread per (image, channel): maximum and tie count, then the plane's dx. */
static __global__ void gm_gmp_bwd_kernel(const float *x, const float *dy, float *dx, long long hw, int c, size_t n) {
    for (size_t i = gm_pool_thread(); i < n; i += gm_pool_stride()) {
        const size_t base = (i / (size_t)c) * (size_t)hw * (size_t)c + i % (size_t)c;
        int count = 0;
        const float best = gm_plane_max_count(x + base, hw, c, &count);
        const float share = gm_gmp_bwd_share(dy[i], count);
        for (long long q = 0; q < hw; ++q) {
            const size_t j = base + (size_t)q * (size_t)c;
            dx[j] = x[j] == best ? share : 0.0f;
        }
    }
}

/* Non-negative dims, data present when non-empty; *count = elements. */
static gm_status gm_pool_tensor(const char *what, const char *name, const gm_tensor *t, size_t *count) {
    *count = 0;
    if (!t) return gm_error(GM_ERR_INVALID_ARG, "%s: %s is NULL", what, name);
    if (t->n < 0 || t->h < 0 || t->w < 0 || t->c < 0)
        return gm_error(GM_ERR_SHAPE, "%s: %s has shape (%d,%d,%d,%d)", what, name, t->n, t->h, t->w, t->c);
    /* Cell indices of a plane (gm_maxpool_argmax, the tie counts) are ints. */
    if ((long long)t->h * t->w > INT_MAX)
        return gm_error(GM_ERR_UNSUPPORTED, "%s: %s has %d x %d cells per channel, more than %d", what, name, t->h, t->w,
                        INT_MAX);
    *count = gm_tensor_count(t);
    if (*count && !t->data) return gm_error(GM_ERR_INVALID_ARG, "%s: %s has no data", what, name);
    return GM_OK;
}

/* The CPU backend's window rules, and `small` (y or dy) the pooled shape of `big` (x or dx). The
 * kernels index one tensor from the other's coordinates, so the launchers check this themselves. */
static gm_status gm_pool_check(const char *what, const gm_pool_desc *p, const gm_tensor *big, const gm_tensor *small,
                               size_t *n_big, size_t *n_small) {
    if (!p) return gm_error(GM_ERR_INVALID_ARG, "%s: descriptor is NULL", what);
    GM_TRY(gm_pool_tensor(what, "input", big, n_big));
    GM_TRY(gm_pool_tensor(what, "pooled", small, n_small));
    if (p->ph <= 0 || p->pw <= 0 || p->stride_h <= 0 || p->stride_w <= 0 || p->pad_top < 0 || p->pad_bottom < 0 ||
        p->pad_left < 0 || p->pad_right < 0 || p->pad_top >= p->ph || p->pad_bottom >= p->ph ||
        p->pad_left >= p->pw || p->pad_right >= p->pw)
        return gm_error(GM_ERR_INVALID_ARG, "%s: bad window (%d,%d) stride (%d,%d) pads (t%d,b%d,l%d,r%d)", what,
                        p->ph, p->pw, p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left, p->pad_right);
    const int oh = gm_pool_out_dim(big->h, p->ph, p->stride_h, p->pad_top, p->pad_bottom);
    const int ow = gm_pool_out_dim(big->w, p->pw, p->stride_w, p->pad_left, p->pad_right);
    if (small->n != big->n || small->c != big->c || small->h != oh || small->w != ow)
        return gm_error(GM_ERR_SHAPE, "%s: (%d,%d,%d,%d) pools to (%d,%d,%d,%d), given (%d,%d,%d,%d)", what, big->n,
                        big->h, big->w, big->c, big->n, oh, ow, big->c, small->n, small->h, small->w, small->c);
    return GM_OK;
}

/* `small` is N x 1 x 1 x C for `big` N x H x W x C. */
static gm_status gm_pool_global_check(const char *what, const gm_tensor *big, const gm_tensor *small, size_t *n_big,
                                      size_t *n_small) {
    GM_TRY(gm_pool_tensor(what, "input", big, n_big));
    GM_TRY(gm_pool_tensor(what, "pooled", small, n_small));
    if (small->n != big->n || small->c != big->c || small->h != 1 || small->w != 1)
        return gm_error(GM_ERR_SHAPE, "%s: (%d,%d,%d,%d) pools to (%d,1,1,%d), given (%d,%d,%d,%d)", what, big->n,
                        big->h, big->w, big->c, big->n, big->c, small->n, small->h, small->w, small->c);
    return GM_OK;
}

extern "C" gm_status gm_launch_maxpool_fwd(const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y, void *stream) {
    size_t nx = 0, ny = 0;
    GM_TRY(gm_pool_check("gm_launch_maxpool_fwd", p, x, y, &nx, &ny));
    if (ny == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_maxpool_fwd_kernel<<<gm_cuda_grid(ny, GM_POOL_BLOCK), GM_POOL_BLOCK, 0, s>>>(*p, x->data, x->h, x->w, y->data,
                                                                                   y->h, y->w, y->c, ny);
    GM_CUDA_LAUNCH_CHECK(s, "gm_maxpool_fwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_avgpool_fwd(const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y, void *stream) {
    size_t nx = 0, ny = 0;
    GM_TRY(gm_pool_check("gm_launch_avgpool_fwd", p, x, y, &nx, &ny));
    if (ny == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_avgpool_fwd_kernel<<<gm_cuda_grid(ny, GM_POOL_BLOCK), GM_POOL_BLOCK, 0, s>>>(*p, x->data, x->h, x->w, y->data,
                                                                                   y->h, y->w, y->c, ny);
    GM_CUDA_LAUNCH_CHECK(s, "gm_avgpool_fwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_maxpool_bwd(const gm_pool_desc *p, const gm_tensor *x, const gm_tensor *dy,
                                           gm_tensor *dx, void *stream) {
    size_t ndx = 0, ndy = 0, nx = 0;
    GM_TRY(gm_pool_check("gm_launch_maxpool_bwd", p, dx, dy, &ndx, &ndy));
    GM_TRY(gm_pool_tensor("gm_launch_maxpool_bwd", "x", x, &nx));
    if (x->n != dx->n || x->h != dx->h || x->w != dx->w || x->c != dx->c)
        return gm_error(GM_ERR_SHAPE, "gm_launch_maxpool_bwd: x (%d,%d,%d,%d) and dx (%d,%d,%d,%d) differ", x->n,
                        x->h, x->w, x->c, dx->n, dx->h, dx->w, dx->c);
    if (ndx == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_maxpool_bwd_kernel<<<gm_cuda_grid(ndx, GM_POOL_BLOCK), GM_POOL_BLOCK, 0, s>>>(
        *p, x->data, dy->data, dx->data, dx->h, dx->w, dy->h, dy->w, dx->c, ndx);
    GM_CUDA_LAUNCH_CHECK(s, "gm_maxpool_bwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_avgpool_bwd(const gm_pool_desc *p, const gm_tensor *dy, gm_tensor *dx, void *stream) {
    size_t ndx = 0, ndy = 0;
    GM_TRY(gm_pool_check("gm_launch_avgpool_bwd", p, dx, dy, &ndx, &ndy));
    if (ndx == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_avgpool_bwd_kernel<<<gm_cuda_grid(ndx, GM_POOL_BLOCK), GM_POOL_BLOCK, 0, s>>>(
        *p, dy->data, dx->data, dx->h, dx->w, dy->h, dy->w, dx->c, ndx);
    GM_CUDA_LAUNCH_CHECK(s, "gm_avgpool_bwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_gap_fwd(const gm_tensor *x, gm_tensor *y, void *stream) {
    size_t nx = 0, ny = 0;
    GM_TRY(gm_pool_global_check("gm_launch_gap_fwd", x, y, &nx, &ny));
    /* An empty plane has no mean: nothing to launch when x is empty (y then has no elements or
     * the caller's shape checks already failed). */
    if (nx == 0 || ny == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_gap_fwd_kernel<<<gm_cuda_grid(ny, GM_POOL_BLOCK), GM_POOL_BLOCK, 0, s>>>(
        x->data, y->data, (long long)x->h * x->w, x->c, ny);
    GM_CUDA_LAUNCH_CHECK(s, "gm_gap_fwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_gap_bwd(const gm_tensor *dy, gm_tensor *dx, void *stream) {
    size_t ndx = 0, ndy = 0;
    GM_TRY(gm_pool_global_check("gm_launch_gap_bwd", dx, dy, &ndx, &ndy));
    if (ndx == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_gap_bwd_kernel<<<gm_cuda_grid(ndx, GM_POOL_BLOCK), GM_POOL_BLOCK, 0, s>>>(
        dy->data, dx->data, (long long)dx->h * dx->w, dx->c, ndx);
    GM_CUDA_LAUNCH_CHECK(s, "gm_gap_bwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_gmp_fwd(const gm_tensor *x, gm_tensor *y, void *stream) {
    size_t nx = 0, ny = 0;
    GM_TRY(gm_pool_global_check("gm_launch_gmp_fwd", x, y, &nx, &ny));
    if (nx == 0 || ny == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_gmp_fwd_kernel<<<gm_cuda_grid(ny, GM_POOL_BLOCK), GM_POOL_BLOCK, 0, s>>>(
        x->data, y->data, (long long)x->h * x->w, x->c, ny);
    GM_CUDA_LAUNCH_CHECK(s, "gm_gmp_fwd_kernel");
    return GM_OK;
}

extern "C" gm_status gm_launch_gmp_bwd(const gm_tensor *x, const gm_tensor *dy, gm_tensor *dx, void *stream) {
    size_t ndx = 0, ndy = 0, nx = 0;
    GM_TRY(gm_pool_global_check("gm_launch_gmp_bwd", dx, dy, &ndx, &ndy));
    GM_TRY(gm_pool_tensor("gm_launch_gmp_bwd", "x", x, &nx));
    if (x->n != dx->n || x->h != dx->h || x->w != dx->w || x->c != dx->c)
        return gm_error(GM_ERR_SHAPE, "gm_launch_gmp_bwd: x (%d,%d,%d,%d) and dx (%d,%d,%d,%d) differ", x->n, x->h,
                        x->w, x->c, dx->n, dx->h, dx->w, dx->c);
    if (ndx == 0) return GM_OK;
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    gm_gmp_bwd_kernel<<<gm_cuda_grid(ndy, GM_POOL_BLOCK), GM_POOL_BLOCK, 0, s>>>(
        x->data, dy->data, dx->data, (long long)dx->h * dx->w, dx->c, ndy);
    GM_CUDA_LAUNCH_CHECK(s, "gm_gmp_bwd_kernel");
    return GM_OK;
}
