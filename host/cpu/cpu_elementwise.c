/* cpu_elementwise.c — the CPU backend's OpenMP loops: global average / max pooling, activations
 * (linear, generalised ReLU, sigmoid, tanh, softmax over C), per-channel affine, Rescaling, Add
 * and ZeroPadding2D. The per-element math is the shared code of the kernels/ math headers, so the CUDA
 * kernels compute the same thing.
 * Layouts: plain NHWC float32; "rows" are the N*H*W pixels, each a run of C contiguous values.
 * Loops use static schedules so results do not depend on thread timing. */
#include "cpu_internal.h"

#include <math.h>
#include <string.h>

#include "kernels/activation_math.h"
#include "kernels/elementwise_math.h"
#include "kernels/pool_math.h"

/* Channels reduced together by one thread of gap/gmp: enough to keep the inner loop vectorised,
 * few enough to give both cores work when N = 1. */
#define GM_CPU_CHANNEL_BLOCK 64

/* y = act(x) over rows x cols values in one pass; y may be x. Softmax works per row of cols. */
static void gm_cpu_act_map(const gm_activation *a, const float *x, float *y, size_t rows, int cols) {
    long long count = (long long)rows * cols;
    switch (a->kind) {
    case GM_ACT_LINEAR:
        if (x != y) memmove(y, x, (size_t)count * sizeof(float));
        break;
    case GM_ACT_RELU: {
        /* Vectorised (selects, no branch) thanks to -fno-trapping-math, see CMakeLists.txt. */
        const float mx = a->max_value, slope = a->negative_slope, thr = a->threshold;
#pragma omp parallel for schedule(static)
        for (long long i = 0; i < count; ++i) y[i] = gm_activation_value(GM_ACT_RELU, x[i], mx, slope, thr);
        break;
    }
    case GM_ACT_SIGMOID:
#pragma omp parallel for schedule(static)
        for (long long i = 0; i < count; ++i) y[i] = gm_activation_value(GM_ACT_SIGMOID, x[i], 0.0f, 0.0f, 0.0f);
        break;
    case GM_ACT_TANH:
#pragma omp parallel for schedule(static)
        for (long long i = 0; i < count; ++i) y[i] = gm_activation_value(GM_ACT_TANH, x[i], 0.0f, 0.0f, 0.0f);
        break;
    case GM_ACT_SOFTMAX:
        if (x != y) memmove(y, x, (size_t)count * sizeof(float));
#pragma omp parallel for schedule(static)
        for (long long r = 0; r < (long long)rows; ++r) gm_softmax_row(y + r * cols, cols);
        break;
    }
}

void gm_cpu_act_apply(const gm_activation *a, float *y, size_t rows, int cols) { gm_cpu_act_map(a, y, y, rows, cols); }

gm_status gm_cpu_activation_fwd(gm_backend *be, const gm_activation *a, const gm_tensor *x, gm_tensor *y) {
    (void)be;
    if (!a) return gm_error(GM_ERR_INVALID_ARG, "cpu activation: descriptor is NULL");
    GM_TRY(gm_cpu_check_tensor("activation", "x", x));
    GM_TRY(gm_cpu_check_tensor("activation", "y", y));
    GM_TRY(gm_cpu_check_same_shape("activation", x, y));
    if (a->kind < GM_ACT_LINEAR || a->kind > GM_ACT_SOFTMAX)
        return gm_error(GM_ERR_UNSUPPORTED, "cpu activation: kind %d is not supported", (int)a->kind);
    size_t count = gm_tensor_count(x);
    /* In place is allowed (element i is read before it is written, by the same iteration). */
    gm_cpu_act_map(a, x->data, y->data, count / (size_t)x->c, x->c);
    return GM_OK;
}

/* Shape check shared by the global poolings: y is N x 1 x 1 x C. */
static gm_status gm_cpu_check_global_pool(const char *op, const gm_tensor *x, const gm_tensor *y) {
    GM_TRY(gm_cpu_check_tensor(op, "x", x));
    GM_TRY(gm_cpu_check_tensor(op, "y", y));
    if (y->n != x->n || y->h != 1 || y->w != 1 || y->c != x->c)
        return gm_error(GM_ERR_SHAPE, "cpu %s: input (%d,%d,%d,%d) needs output (%d,1,1,%d), given (%d,%d,%d,%d)", op,
                        x->n, x->h, x->w, x->c, x->n, x->c, y->n, y->h, y->w, y->c);
    return GM_OK;
}

gm_status gm_cpu_gap_fwd(gm_backend *be, const gm_tensor *x, gm_tensor *y) {
    (void)be;
    GM_TRY(gm_cpu_check_global_pool("gap", x, y));
    const int n = x->n, c = x->c, blocks = (c + GM_CPU_CHANNEL_BLOCK - 1) / GM_CPU_CHANNEL_BLOCK;
    const long long hw = (long long)x->h * x->w;
    const float *xd = x->data;
    float *yd = y->data;
    /* Summed in double and rounded once: the result is the correctly rounded mean, which TF's
     * float32 tree reduction approaches to within a few ulps. */
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; ++b) {
        for (int blk = 0; blk < blocks; ++blk) {
            double acc[GM_CPU_CHANNEL_BLOCK] = {0};
            const int c0 = blk * GM_CPU_CHANNEL_BLOCK;
            const int len = c - c0 < GM_CPU_CHANNEL_BLOCK ? c - c0 : GM_CPU_CHANNEL_BLOCK;
            const float *img = xd + (size_t)b * (size_t)hw * (size_t)c + c0;
            for (long long p = 0; p < hw; ++p)
                for (int k = 0; k < len; ++k) acc[k] += (double)img[(size_t)p * (size_t)c + (size_t)k];
            for (int k = 0; k < len; ++k) yd[(size_t)b * (size_t)c + (size_t)(c0 + k)] = gm_pool_mean(acc[k], hw);
        }
    }
    return GM_OK;
}

gm_status gm_cpu_gmp_fwd(gm_backend *be, const gm_tensor *x, gm_tensor *y) {
    (void)be;
    GM_TRY(gm_cpu_check_global_pool("gmp", x, y));
    const int n = x->n, c = x->c, blocks = (c + GM_CPU_CHANNEL_BLOCK - 1) / GM_CPU_CHANNEL_BLOCK;
    const long long hw = (long long)x->h * x->w;
    const float *xd = x->data;
    float *yd = y->data;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < n; ++b) {
        for (int blk = 0; blk < blocks; ++blk) {
            float best[GM_CPU_CHANNEL_BLOCK];
            const int c0 = blk * GM_CPU_CHANNEL_BLOCK;
            const int len = c - c0 < GM_CPU_CHANNEL_BLOCK ? c - c0 : GM_CPU_CHANNEL_BLOCK;
            const float *img = xd + (size_t)b * (size_t)hw * (size_t)c + c0;
            for (int k = 0; k < len; ++k) best[k] = img[k];
            for (long long p = 1; p < hw; ++p)
                for (int k = 0; k < len; ++k) best[k] = gm_pool_max(best[k], img[(size_t)p * (size_t)c + (size_t)k]);
            memcpy(yd + (size_t)b * (size_t)c + (size_t)c0, best, (size_t)len * sizeof(float));
        }
    }
    return GM_OK;
}

gm_status gm_cpu_channel_affine_fwd(gm_backend *be, const float *scale, const float *shift, const gm_tensor *x,
                                    gm_tensor *y) {
    (void)be;
    if (!scale || !shift) return gm_error(GM_ERR_INVALID_ARG, "cpu channel_affine: scale or shift is NULL");
    GM_TRY(gm_cpu_check_tensor("channel_affine", "x", x));
    GM_TRY(gm_cpu_check_tensor("channel_affine", "y", y));
    GM_TRY(gm_cpu_check_same_shape("channel_affine", x, y));
    const long long rows = (long long)x->n * x->h * x->w;
    const int c = x->c;
    const float *xd = x->data;
    float *yd = y->data;
#pragma omp parallel for schedule(static)
    for (long long r = 0; r < rows; ++r) {
        const size_t base = (size_t)r * (size_t)c;
        for (int k = 0; k < c; ++k) yd[base + (size_t)k] = gm_channel_affine(xd[base + (size_t)k], scale[k], shift[k]);
    }
    return GM_OK;
}

gm_status gm_cpu_rescale_fwd(gm_backend *be, float scale, float offset, const gm_tensor *x, gm_tensor *y) {
    (void)be;
    GM_TRY(gm_cpu_check_tensor("rescale", "x", x));
    GM_TRY(gm_cpu_check_tensor("rescale", "y", y));
    GM_TRY(gm_cpu_check_same_shape("rescale", x, y));
    const long long count = (long long)gm_tensor_count(x);
    const float *xd = x->data;
    float *yd = y->data;
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < count; ++i) yd[i] = gm_rescale(xd[i], scale, offset);
    return GM_OK;
}

gm_status gm_cpu_add(gm_backend *be, const gm_tensor *a, const gm_tensor *b, gm_tensor *y) {
    (void)be;
    GM_TRY(gm_cpu_check_tensor("add", "a", a));
    GM_TRY(gm_cpu_check_tensor("add", "b", b));
    GM_TRY(gm_cpu_check_tensor("add", "y", y));
    GM_TRY(gm_cpu_check_same_shape("add", a, b));
    GM_TRY(gm_cpu_check_same_shape("add", a, y));
    const long long count = (long long)gm_tensor_count(a);
    const float *ad = a->data, *bd = b->data;
    float *yd = y->data;
    /* Element i is read before it is written and by the same iteration, so y may alias a or b. */
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < count; ++i) yd[i] = gm_add(ad[i], bd[i]);
    return GM_OK;
}

gm_status gm_cpu_zero_pad_fwd(gm_backend *be, int top, int bottom, int left, int right, const gm_tensor *x,
                              gm_tensor *y) {
    (void)be;
    GM_TRY(gm_cpu_check_tensor("zero_pad", "x", x));
    GM_TRY(gm_cpu_check_tensor("zero_pad", "y", y));
    if (top < 0 || bottom < 0 || left < 0 || right < 0)
        return gm_error(GM_ERR_INVALID_ARG, "cpu zero_pad: negative pads (t%d,b%d,l%d,r%d)", top, bottom, left, right);
    if (y->n != x->n || y->h != x->h + top + bottom || y->w != x->w + left + right || y->c != x->c)
        return gm_error(GM_ERR_SHAPE,
                        "cpu zero_pad: pads (t%d,b%d,l%d,r%d) on input (%d,%d,%d,%d) give (%d,%d,%d,%d), output "
                        "given as (%d,%d,%d,%d)",
                        top, bottom, left, right, x->n, x->h, x->w, x->c, x->n, x->h + top + bottom,
                        x->w + left + right, x->c, y->n, y->h, y->w, y->c);
    if (x->data == y->data) return gm_error(GM_ERR_INVALID_ARG, "cpu zero_pad: x and y must not alias");
    const long long rows = (long long)y->n * y->h;
    const size_t c = (size_t)x->c, xrow = (size_t)x->w * c, yrow = (size_t)y->w * c;
    const float *xd = x->data;
    float *yd = y->data;
#pragma omp parallel for schedule(static)
    for (long long r = 0; r < rows; ++r) {
        const long long b = r / y->h;
        const int oy = (int)(r % y->h), iy = oy - top;
        float *dst = yd + (size_t)r * yrow;
        if (iy < 0 || iy >= x->h) {
            memset(dst, 0, yrow * sizeof(float));
            continue;
        }
        const float *src = xd + ((size_t)b * (size_t)x->h + (size_t)iy) * xrow;
        memset(dst, 0, (size_t)left * c * sizeof(float));
        memcpy(dst + (size_t)left * c, src, xrow * sizeof(float));
        memset(dst + (size_t)left * c + xrow, 0, (size_t)right * c * sizeof(float));
    }
    return GM_OK;
}
