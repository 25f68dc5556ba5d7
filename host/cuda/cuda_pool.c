/* cuda_pool.c — the CUDA backend's pooling operations (backend.h): max / average pooling and
 * global average / max pooling, forward and backward. Each validates its arguments exactly as the
 * CPU backend does (host/cpu/cpu_pool.c, cpu_pool_bwd.c, cpu_elementwise.c: same checks, same
 * messages with "cuda" for "cpu"), then enqueues the kernel of kernels/pool_kernels.cu on the
 * backend's stream and returns without waiting.
 * Layouts: plain NHWC float32 device memory; x / dx N x H x W x C, y / dy N x OH x OW x C
 * (N x 1 x 1 x C for the global poolings). Padding follows TF: padded cells are never part of a
 * window (max ignores them, average excludes them from the count).
 * Gradient rules: those of kernels/pool_bwd_math.h (max pooling to each window's first maximum,
 * recomputed from x; global max split among the tied maxima); every backward OVERWRITES dx.
 * One addition to the CPU checks: a forward output may not alias its input, because the GPU's
 * threads would read cells that others have already overwritten. */
#include "cuda_internal.h"

#include "kernels/pool_kernels.h"
#include "kernels/pool_math.h"

/* The CPU backend's window rule: a pad as wide as the window would allow windows made only of
 * padding, which have no value under TF's rule (and divide by zero for the average). */
static gm_status gm_cuda_pool_window_check(const char *op, const gm_pool_desc *p) {
    if (p->ph <= 0 || p->pw <= 0 || p->stride_h <= 0 || p->stride_w <= 0 || p->pad_top < 0 || p->pad_bottom < 0 ||
        p->pad_left < 0 || p->pad_right < 0 || p->pad_top >= p->ph || p->pad_bottom >= p->ph ||
        p->pad_left >= p->pw || p->pad_right >= p->pw)
        return gm_error(GM_ERR_INVALID_ARG, "cuda %s: bad window (%d,%d) stride (%d,%d) pads (t%d,b%d,l%d,r%d)", op,
                        p->ph, p->pw, p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left, p->pad_right);
    return GM_OK;
}

static gm_status gm_cuda_pool_fwd(gm_backend *be, int is_max, const char *op, const gm_pool_desc *p,
                                  const gm_tensor *x, gm_tensor *y) {
    if (!be || !p) return gm_error(GM_ERR_INVALID_ARG, "cuda %s: NULL backend or descriptor", op);
    GM_TRY(gm_cuda_check_tensor(op, "x", x));
    GM_TRY(gm_cuda_check_tensor(op, "y", y));
    GM_TRY(gm_cuda_pool_window_check(op, p));
    int oh = gm_pool_out_dim(x->h, p->ph, p->stride_h, p->pad_top, p->pad_bottom);
    int ow = gm_pool_out_dim(x->w, p->pw, p->stride_w, p->pad_left, p->pad_right);
    if (oh <= 0 || ow <= 0 || y->n != x->n || y->h != oh || y->w != ow || y->c != x->c)
        return gm_error(GM_ERR_SHAPE,
                        "cuda %s: window (%d,%d) stride (%d,%d) pads (t%d,b%d,l%d,r%d): input (%d,%d,%d,%d) gives "
                        "(%d,%d,%d,%d), output given as (%d,%d,%d,%d)",
                        op, p->ph, p->pw, p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left,
                        p->pad_right, x->n, x->h, x->w, x->c, x->n, oh, ow, x->c, y->n, y->h, y->w, y->c);
    if (x->data == y->data) return gm_error(GM_ERR_INVALID_ARG, "cuda %s: x and y must not alias", op);
    void *stream = gm_cuda_stream_ptr(gm_cuda_cast(be));
    return is_max ? gm_launch_maxpool_fwd(p, x, y, stream) : gm_launch_avgpool_fwd(p, x, y, stream);
}

gm_status gm_cuda_maxpool_fwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y) {
    return gm_cuda_pool_fwd(be, 1, "maxpool", p, x, y);
}

gm_status gm_cuda_avgpool_fwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y) {
    return gm_cuda_pool_fwd(be, 0, "avgpool", p, x, y);
}

/* Shape check shared by the global poolings: y is N x 1 x 1 x C. */
static gm_status gm_cuda_check_global_pool(const char *op, const gm_tensor *x, const gm_tensor *y) {
    GM_TRY(gm_cuda_check_tensor(op, "x", x));
    GM_TRY(gm_cuda_check_tensor(op, "y", y));
    if (y->n != x->n || y->h != 1 || y->w != 1 || y->c != x->c)
        return gm_error(GM_ERR_SHAPE, "cuda %s: input (%d,%d,%d,%d) needs output (%d,1,1,%d), given (%d,%d,%d,%d)",
                        op, x->n, x->h, x->w, x->c, x->n, x->c, y->n, y->h, y->w, y->c);
    if (x->data == y->data) return gm_error(GM_ERR_INVALID_ARG, "cuda %s: x and y must not alias", op);
    return GM_OK;
}

gm_status gm_cuda_gap_fwd(gm_backend *be, const gm_tensor *x, gm_tensor *y) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda gap: backend is NULL");
    GM_TRY(gm_cuda_check_global_pool("gap", x, y));
    return gm_launch_gap_fwd(x, y, gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_gmp_fwd(gm_backend *be, const gm_tensor *x, gm_tensor *y) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda gmp: backend is NULL");
    GM_TRY(gm_cuda_check_global_pool("gmp", x, y));
    return gm_launch_gmp_fwd(x, y, gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

static gm_status gm_cuda_pool_bwd_check(const char *op, const gm_pool_desc *p, const gm_tensor *dy,
                                        const gm_tensor *dx) {
    GM_TRY(gm_cuda_check_tensor(op, "dy", dy));
    GM_TRY(gm_cuda_check_tensor(op, "dx", dx));
    GM_TRY(gm_cuda_pool_window_check(op, p));
    int oh = gm_pool_out_dim(dx->h, p->ph, p->stride_h, p->pad_top, p->pad_bottom);
    int ow = gm_pool_out_dim(dx->w, p->pw, p->stride_w, p->pad_left, p->pad_right);
    if (oh <= 0 || ow <= 0 || dy->n != dx->n || dy->h != oh || dy->w != ow || dy->c != dx->c)
        return gm_error(GM_ERR_SHAPE,
                        "cuda %s: window (%d,%d) stride (%d,%d) pads (t%d,b%d,l%d,r%d): dx (%d,%d,%d,%d) needs dy "
                        "(%d,%d,%d,%d), given (%d,%d,%d,%d)",
                        op, p->ph, p->pw, p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left,
                        p->pad_right, dx->n, dx->h, dx->w, dx->c, dx->n, oh, ow, dx->c, dy->n, dy->h, dy->w, dy->c);
    if (dx->data == dy->data) return gm_error(GM_ERR_INVALID_ARG, "cuda %s: dx and dy must not alias", op);
    return GM_OK;
}

gm_status gm_cuda_maxpool_bwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, const gm_tensor *dy,
                              gm_tensor *dx) {
    if (!be || !p) return gm_error(GM_ERR_INVALID_ARG, "cuda maxpool_bwd: NULL backend or descriptor");
    GM_TRY(gm_cuda_pool_bwd_check("maxpool_bwd", p, dy, dx));
    GM_TRY(gm_cuda_check_tensor("maxpool_bwd", "x", x));
    GM_TRY(gm_cuda_check_same_shape("maxpool_bwd", x, dx));
    if (dx->data == x->data) return gm_error(GM_ERR_INVALID_ARG, "cuda maxpool_bwd: dx and x must not alias");
    return gm_launch_maxpool_bwd(p, x, dy, dx, gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_avgpool_bwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *dy, gm_tensor *dx) {
    if (!be || !p) return gm_error(GM_ERR_INVALID_ARG, "cuda avgpool_bwd: NULL backend or descriptor");
    GM_TRY(gm_cuda_pool_bwd_check("avgpool_bwd", p, dy, dx));
    return gm_launch_avgpool_bwd(p, dy, dx, gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

/* Shape check shared by the global poolings' backward: dy is N x 1 x 1 x C for dx N x H x W x C. */
static gm_status gm_cuda_global_pool_bwd_check(const char *op, const gm_tensor *dy, const gm_tensor *dx) {
    GM_TRY(gm_cuda_check_tensor(op, "dy", dy));
    GM_TRY(gm_cuda_check_tensor(op, "dx", dx));
    if (dy->n != dx->n || dy->h != 1 || dy->w != 1 || dy->c != dx->c)
        return gm_error(GM_ERR_SHAPE, "cuda %s: dx (%d,%d,%d,%d) needs dy (%d,1,1,%d), given (%d,%d,%d,%d)", op,
                        dx->n, dx->h, dx->w, dx->c, dx->n, dx->c, dy->n, dy->h, dy->w, dy->c);
    if (dx->data == dy->data) return gm_error(GM_ERR_INVALID_ARG, "cuda %s: dx and dy must not alias", op);
    return GM_OK;
}

gm_status gm_cuda_gap_bwd(gm_backend *be, const gm_tensor *dy, gm_tensor *dx) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda gap_bwd: backend is NULL");
    GM_TRY(gm_cuda_global_pool_bwd_check("gap_bwd", dy, dx));
    return gm_launch_gap_bwd(dy, dx, gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_gmp_bwd(gm_backend *be, const gm_tensor *x, const gm_tensor *dy, gm_tensor *dx) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda gmp_bwd: backend is NULL");
    GM_TRY(gm_cuda_global_pool_bwd_check("gmp_bwd", dy, dx));
    GM_TRY(gm_cuda_check_tensor("gmp_bwd", "x", x));
    GM_TRY(gm_cuda_check_same_shape("gmp_bwd", x, dx));
    if (dx->data == x->data) return gm_error(GM_ERR_INVALID_ARG, "cuda gmp_bwd: dx and x must not alias");
    return gm_launch_gmp_bwd(x, dy, dx, gm_cuda_stream_ptr(gm_cuda_cast(be)));
}
