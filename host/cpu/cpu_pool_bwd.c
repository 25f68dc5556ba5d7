/* cpu_pool_bwd.c — backward of the pooling layers on the CPU backend as OpenMP loops: max and
 * average pooling (windows with TF's padding rule: padded cells are never part of a window),
 * global max and global average pooling. The per-window math (first-maximum search, covering
 * windows, shares) is kernels/pool_bwd_math.h, the same code the CUDA kernels run.
 * Layouts: plain NHWC float32; x and dx are N x H x W x C, dy is N x OH x OW x C (N x 1 x 1 x C
 * for the global poolings).
 * Gradient rules (see kernels/pool_bwd_math.h): max pooling routes each window's dy to the first
 * maximum of the window, recomputed from the forward input x (no argmax is stored), accumulating
 * where windows overlap; average pooling spreads dy / (in-bounds count) over the window; global
 * max splits dy equally among the cells equal to the plane's maximum (TF's reduce_max gradient,
 * which Keras's GlobalMaxPooling2D gets; max pooling instead follows TF's MaxPoolGrad, one argmax);
 * global average gives dy / (H*W) to every cell.
 * Every op OVERWRITES dx. Determinism: each dx element is written by one thread in a fixed order,
 * so results do not depend on the thread count. */
#include "cpu_internal.h"

#include <string.h>

#include "kernels/pool_bwd_math.h"

/* Channels handled together by one thread of the max-pooling and global-max loops: a cache line
 * of floats (neighbouring channels' strided scans share lines), and enough blocks to give both
 * cores work when N = 1. */
#define GM_CPU_POOL_BWD_BLOCK 16

static gm_status gm_cpu_pool_bwd_check(const char *op, const gm_pool_desc *p, const gm_tensor *dy,
                                       const gm_tensor *dx) {
    GM_TRY(gm_cpu_check_tensor(op, "dy", dy));
    GM_TRY(gm_cpu_check_tensor(op, "dx", dx));
    /* Same window rules as the forward (cpu_pool.c): a pad as wide as the window would allow
     * windows made only of padding. */
    if (p->ph <= 0 || p->pw <= 0 || p->stride_h <= 0 || p->stride_w <= 0 || p->pad_top < 0 || p->pad_bottom < 0 ||
        p->pad_left < 0 || p->pad_right < 0 || p->pad_top >= p->ph || p->pad_bottom >= p->ph ||
        p->pad_left >= p->pw || p->pad_right >= p->pw)
        return gm_error(GM_ERR_INVALID_ARG, "cpu %s: bad window (%d,%d) stride (%d,%d) pads (t%d,b%d,l%d,r%d)", op,
                        p->ph, p->pw, p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left, p->pad_right);
    int oh = gm_pool_out_dim(dx->h, p->ph, p->stride_h, p->pad_top, p->pad_bottom);
    int ow = gm_pool_out_dim(dx->w, p->pw, p->stride_w, p->pad_left, p->pad_right);
    if (oh <= 0 || ow <= 0 || dy->n != dx->n || dy->h != oh || dy->w != ow || dy->c != dx->c)
        return gm_error(GM_ERR_SHAPE,
                        "cpu %s: window (%d,%d) stride (%d,%d) pads (t%d,b%d,l%d,r%d): dx (%d,%d,%d,%d) needs dy "
                        "(%d,%d,%d,%d), given (%d,%d,%d,%d)",
                        op, p->ph, p->pw, p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left,
                        p->pad_right, dx->n, dx->h, dx->w, dx->c, dx->n, oh, ow, dx->c, dy->n, dy->h, dy->w, dy->c);
    if (dx->data == dy->data) return gm_error(GM_ERR_INVALID_ARG, "cpu %s: dx and dy must not alias", op);
    return GM_OK;
}

gm_status gm_cpu_maxpool_bwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, const gm_tensor *dy,
                             gm_tensor *dx) {
    if (!be || !p) return gm_error(GM_ERR_INVALID_ARG, "cpu maxpool_bwd: NULL backend or descriptor");
    GM_TRY(gm_cpu_pool_bwd_check("maxpool_bwd", p, dy, dx));
    GM_TRY(gm_cpu_check_tensor("maxpool_bwd", "x", x));
    GM_TRY(gm_cpu_check_same_shape("maxpool_bwd", x, dx));
    if (dx->data == x->data) return gm_error(GM_ERR_INVALID_ARG, "cpu maxpool_bwd: dx and x must not alias");
    const int n = dx->n, h = dx->h, w = dx->w, c = dx->c, oh = dy->h, ow = dy->w;
    const int blocks = (c + GM_CPU_POOL_BWD_BLOCK - 1) / GM_CPU_POOL_BWD_BLOCK;
    const size_t img = (size_t)h * (size_t)w * (size_t)c, oimg = (size_t)oh * (size_t)ow * (size_t)c;
    const float *xd = x->data, *dyd = dy->data;
    float *dxd = dx->data;
    /* Scatter form: a thread owns the channels [c0, c1) of one image, so overlapping windows
     * accumulate into dx without races, in output row-major order. */
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; ++b) {
        for (int blk = 0; blk < blocks; ++blk) {
            const int c0 = blk * GM_CPU_POOL_BWD_BLOCK;
            const int c1 = c0 + GM_CPU_POOL_BWD_BLOCK < c ? c0 + GM_CPU_POOL_BWD_BLOCK : c;
            const float *ximg = xd + (size_t)b * img;
            const float *dyimg = dyd + (size_t)b * oimg;
            float *dximg = dxd + (size_t)b * img;
            for (size_t cell = 0; cell < (size_t)h * (size_t)w; ++cell)
                memset(dximg + cell * (size_t)c + (size_t)c0, 0, (size_t)(c1 - c0) * sizeof(float));
            for (int oy = 0; oy < oh; ++oy) {
                const int y0 = oy * p->stride_h - p->pad_top;
                for (int ox = 0; ox < ow; ++ox) {
                    const int x0 = ox * p->stride_w - p->pad_left;
                    const float *g = dyimg + ((size_t)oy * (size_t)ow + (size_t)ox) * (size_t)c;
                    for (int k = c0; k < c1; ++k) {
                        /* The window's cells for neighbouring k share cache lines, so the
                         * per-channel search stays in L1. */
                        int cell = gm_maxpool_argmax(ximg + k, h, w, c, y0, x0, p->ph, p->pw);
                        if (cell >= 0) dximg[(size_t)cell * (size_t)c + (size_t)k] += g[k];
                    }
                }
            }
        }
    }
    return GM_OK;
}

gm_status gm_cpu_avgpool_bwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *dy, gm_tensor *dx) {
    if (!be || !p) return gm_error(GM_ERR_INVALID_ARG, "cpu avgpool_bwd: NULL backend or descriptor");
    GM_TRY(gm_cpu_pool_bwd_check("avgpool_bwd", p, dy, dx));
    const int n = dx->n, h = dx->h, w = dx->w, c = dx->c, oh = dy->h, ow = dy->w;
    const float *dyd = dy->data;
    float *dxd = dx->data;
    /* Gather form: each dx pixel sums the shares of the windows covering it, so every element is
     * written exactly once and rows parallelise freely. */
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; ++b) {
        for (int iy = 0; iy < h; ++iy) {
            int fy, ly;
            gm_pool_covering(iy, p->ph, p->stride_h, p->pad_top, oh, &fy, &ly);
            for (int ix = 0; ix < w; ++ix) {
                int fx, lx;
                gm_pool_covering(ix, p->pw, p->stride_w, p->pad_left, ow, &fx, &lx);
                float *dst = dxd + (((size_t)b * (size_t)h + (size_t)iy) * (size_t)w + (size_t)ix) * (size_t)c;
                for (int k = 0; k < c; ++k) dst[k] = 0.0f;
                for (int oy = fy; oy <= ly; ++oy) {
                    const int cy = gm_pool_valid_count(oy * p->stride_h - p->pad_top, p->ph, h);
                    for (int ox = fx; ox <= lx; ++ox) {
                        const int count = cy * gm_pool_valid_count(ox * p->stride_w - p->pad_left, p->pw, w);
                        const float *g =
                            dyd + (((size_t)b * (size_t)oh + (size_t)oy) * (size_t)ow + (size_t)ox) * (size_t)c;
                        for (int k = 0; k < c; ++k) dst[k] += gm_avgpool_bwd_share(g[k], count);
                    }
                }
            }
        }
    }
    return GM_OK;
}

/* Shape check shared by the global poolings' backward: dy is N x 1 x 1 x C for dx N x H x W x C. */
static gm_status gm_cpu_global_pool_bwd_check(const char *op, const gm_tensor *dy, const gm_tensor *dx) {
    GM_TRY(gm_cpu_check_tensor(op, "dy", dy));
    GM_TRY(gm_cpu_check_tensor(op, "dx", dx));
    if (dy->n != dx->n || dy->h != 1 || dy->w != 1 || dy->c != dx->c)
        return gm_error(GM_ERR_SHAPE, "cpu %s: dx (%d,%d,%d,%d) needs dy (%d,1,1,%d), given (%d,%d,%d,%d)", op,
                        dx->n, dx->h, dx->w, dx->c, dx->n, dx->c, dy->n, dy->h, dy->w, dy->c);
    if (dx->data == dy->data) return gm_error(GM_ERR_INVALID_ARG, "cpu %s: dx and dy must not alias", op);
    return GM_OK;
}

gm_status gm_cpu_gap_bwd(gm_backend *be, const gm_tensor *dy, gm_tensor *dx) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cpu gap_bwd: backend is NULL");
    GM_TRY(gm_cpu_global_pool_bwd_check("gap_bwd", dy, dx));
    const int c = dx->c;
    const long hw = (long)dx->h * dx->w;
    const long long rows = (long long)dx->n * hw;
    const float *dyd = dy->data;
    float *dxd = dx->data;
#pragma omp parallel for schedule(static)
    for (long long r = 0; r < rows; ++r) {
        const float *g = dyd + (size_t)(r / hw) * (size_t)c;
        float *dst = dxd + (size_t)r * (size_t)c;
        for (int k = 0; k < c; ++k) dst[k] = gm_gap_bwd(g[k], hw);
    }
    return GM_OK;
}

gm_status gm_cpu_gmp_bwd(gm_backend *be, const gm_tensor *x, const gm_tensor *dy, gm_tensor *dx) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cpu gmp_bwd: backend is NULL");
    GM_TRY(gm_cpu_global_pool_bwd_check("gmp_bwd", dy, dx));
    GM_TRY(gm_cpu_check_tensor("gmp_bwd", "x", x));
    GM_TRY(gm_cpu_check_same_shape("gmp_bwd", x, dx));
    if (dx->data == x->data) return gm_error(GM_ERR_INVALID_ARG, "cpu gmp_bwd: dx and x must not alias");
    const int n = dx->n, h = dx->h, w = dx->w, c = dx->c;
    const int blocks = (c + GM_CPU_POOL_BWD_BLOCK - 1) / GM_CPU_POOL_BWD_BLOCK;
    const size_t img = (size_t)h * (size_t)w * (size_t)c;
    const float *xd = x->data, *dyd = dy->data;
    float *dxd = dx->data;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; ++b) {
        for (int blk = 0; blk < blocks; ++blk) {
            const int c0 = blk * GM_CPU_POOL_BWD_BLOCK;
            const int c1 = c0 + GM_CPU_POOL_BWD_BLOCK < c ? c0 + GM_CPU_POOL_BWD_BLOCK : c;
            const float *ximg = xd + (size_t)b * img;
            float *dximg = dxd + (size_t)b * img;
            for (int k = c0; k < c1; ++k) {
                int count = 0;
                const float best = gm_plane_max_count(ximg + k, (long)h * w, c, &count);
                const float share = gm_gmp_bwd_share(dyd[(size_t)b * (size_t)c + (size_t)k], count);
                for (size_t cell = 0; cell < (size_t)h * (size_t)w; ++cell) {
                    const size_t i = cell * (size_t)c + (size_t)k;
                    dximg[i] = ximg[i] == best ? share : 0.0f;
                }
            }
        }
    }
    return GM_OK;
}
