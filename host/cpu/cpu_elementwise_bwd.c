/* cpu_elementwise_bwd.c — the CPU backend's element-wise backward loops: activation_bwd (linear,
 * generalised ReLU with its plain / guided-backprop / deconvnet modes, sigmoid, tanh, softmax over
 * C), channel_scale_bwd (unfolded BatchNormalization), rescale_bwd (Rescaling), zero_pad_bwd (the
 * crop that undoes ZeroPadding2D) and one_hot (the seed gradient of the logits). The per-element
 * math is kernels/activation_bwd_math.h and elementwise_bwd_math.h, shared with the CUDA kernels.
 * Layouts: plain NHWC float32; "rows" are the N*H*W pixels, each a run of C contiguous values.
 * Gradient rules: activations are differentiated from their OUTPUT y (see activation_bwd_math.h
 * for why y determines the slope); affine layers multiply by their scale; padding's backward
 * drops the padded border. Every op OVERWRITES its output; element-wise ops allow dx to alias dy
 * (each element, or each softmax row, is read before it is written). Static schedules keep the
 * results independent of thread timing. */
#include "cpu_internal.h"

#include <math.h>
#include <string.h>

#include "kernels/activation_bwd_math.h"
#include "kernels/elementwise_bwd_math.h"

gm_status gm_cpu_activation_bwd(gm_backend *be, const gm_activation *a, gm_relu_bwd_mode mode, const gm_tensor *y,
                                const gm_tensor *dy, gm_tensor *dx) {
    if (!be || !a) return gm_error(GM_ERR_INVALID_ARG, "cpu activation_bwd: NULL backend or descriptor");
    GM_TRY(gm_cpu_check_tensor("activation_bwd", "y", y));
    GM_TRY(gm_cpu_check_tensor("activation_bwd", "dy", dy));
    GM_TRY(gm_cpu_check_tensor("activation_bwd", "dx", dx));
    GM_TRY(gm_cpu_check_same_shape("activation_bwd", y, dy));
    GM_TRY(gm_cpu_check_same_shape("activation_bwd", y, dx));
    if (mode != GM_RELU_BWD_PLAIN && mode != GM_RELU_BWD_GUIDED && mode != GM_RELU_BWD_DECONV)
        return gm_error(GM_ERR_INVALID_ARG, "cpu activation_bwd: ReLU backward mode %d is not defined", (int)mode);
    const long long count = (long long)gm_tensor_count(y);
    const float *yd = y->data, *g = dy->data;
    float *dxd = dx->data;
    switch (a->kind) {
    case GM_ACT_LINEAR:
        if (dxd != g) memmove(dxd, g, (size_t)count * sizeof(float));
        return GM_OK;
    case GM_ACT_RELU: {
        const float mx = a->max_value, slope = a->negative_slope, thr = a->threshold;
        /* Outside Keras's constraints the regions of y overlap and y no longer tells the slope. */
        if (!(mx >= 0.0f) || !(slope >= 0.0f) || !(thr >= 0.0f) || isinf(slope) || isinf(thr))
            return gm_error(GM_ERR_UNSUPPORTED,
                            "cpu activation_bwd: ReLU (max_value %g, negative_slope %g, threshold %g) cannot be "
                            "differentiated from its output; Keras requires all three >= 0",
                            (double)mx, (double)slope, (double)thr);
        if (mode == GM_RELU_BWD_DECONV) {
#pragma omp parallel for schedule(static)
            for (long long i = 0; i < count; ++i)
                dxd[i] = gm_activation_bwd_value(GM_ACT_RELU, GM_RELU_BWD_DECONV, yd[i], g[i], mx, slope, thr);
        } else if (mode == GM_RELU_BWD_GUIDED) {
#pragma omp parallel for schedule(static)
            for (long long i = 0; i < count; ++i)
                dxd[i] = gm_activation_bwd_value(GM_ACT_RELU, GM_RELU_BWD_GUIDED, yd[i], g[i], mx, slope, thr);
        } else {
#pragma omp parallel for schedule(static)
            for (long long i = 0; i < count; ++i)
                dxd[i] = gm_activation_bwd_value(GM_ACT_RELU, GM_RELU_BWD_PLAIN, yd[i], g[i], mx, slope, thr);
        }
        return GM_OK;
    }
    /* Guided backprop and deconvnet change only the ReLUs; every other activation passes its
     * ordinary gradient whatever the mode. */
    case GM_ACT_SIGMOID:
#pragma omp parallel for schedule(static)
        for (long long i = 0; i < count; ++i)
            dxd[i] = gm_activation_bwd_value(GM_ACT_SIGMOID, mode, yd[i], g[i], 0.0f, 0.0f, 0.0f);
        return GM_OK;
    case GM_ACT_TANH:
#pragma omp parallel for schedule(static)
        for (long long i = 0; i < count; ++i)
            dxd[i] = gm_activation_bwd_value(GM_ACT_TANH, mode, yd[i], g[i], 0.0f, 0.0f, 0.0f);
        return GM_OK;
    case GM_ACT_SOFTMAX: {
        const int c = y->c;
        const long long rows = count / c;
#pragma omp parallel for schedule(static)
        for (long long r = 0; r < rows; ++r) {
            const size_t base = (size_t)r * (size_t)c;
            gm_softmax_bwd_row(yd + base, g + base, dxd + base, c);
        }
        return GM_OK;
    }
    }
    return gm_error(GM_ERR_UNSUPPORTED, "cpu activation_bwd: activation kind %d is not supported", (int)a->kind);
}

gm_status gm_cpu_channel_scale_bwd(gm_backend *be, const float *scale, const gm_tensor *dy, gm_tensor *dx) {
    if (!be || !scale) return gm_error(GM_ERR_INVALID_ARG, "cpu channel_scale_bwd: NULL backend or scale");
    GM_TRY(gm_cpu_check_tensor("channel_scale_bwd", "dy", dy));
    GM_TRY(gm_cpu_check_tensor("channel_scale_bwd", "dx", dx));
    GM_TRY(gm_cpu_check_same_shape("channel_scale_bwd", dy, dx));
    const long long rows = (long long)dy->n * dy->h * dy->w;
    const int c = dy->c;
    const float *g = dy->data;
    float *dxd = dx->data;
#pragma omp parallel for schedule(static)
    for (long long r = 0; r < rows; ++r) {
        const size_t base = (size_t)r * (size_t)c;
        for (int k = 0; k < c; ++k) dxd[base + (size_t)k] = gm_scale_bwd(g[base + (size_t)k], scale[k]);
    }
    return GM_OK;
}

gm_status gm_cpu_rescale_bwd(gm_backend *be, float scale, const gm_tensor *dy, gm_tensor *dx) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cpu rescale_bwd: backend is NULL");
    GM_TRY(gm_cpu_check_tensor("rescale_bwd", "dy", dy));
    GM_TRY(gm_cpu_check_tensor("rescale_bwd", "dx", dx));
    GM_TRY(gm_cpu_check_same_shape("rescale_bwd", dy, dx));
    const long long count = (long long)gm_tensor_count(dy);
    const float *g = dy->data;
    float *dxd = dx->data;
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < count; ++i) dxd[i] = gm_scale_bwd(g[i], scale);
    return GM_OK;
}

gm_status gm_cpu_zero_pad_bwd(gm_backend *be, int top, int bottom, int left, int right, const gm_tensor *dy,
                              gm_tensor *dx) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cpu zero_pad_bwd: backend is NULL");
    GM_TRY(gm_cpu_check_tensor("zero_pad_bwd", "dy", dy));
    GM_TRY(gm_cpu_check_tensor("zero_pad_bwd", "dx", dx));
    if (top < 0 || bottom < 0 || left < 0 || right < 0)
        return gm_error(GM_ERR_INVALID_ARG, "cpu zero_pad_bwd: negative pads (t%d,b%d,l%d,r%d)", top, bottom, left,
                        right);
    if (dy->n != dx->n || dy->h != dx->h + top + bottom || dy->w != dx->w + left + right || dy->c != dx->c)
        return gm_error(GM_ERR_SHAPE,
                        "cpu zero_pad_bwd: pads (t%d,b%d,l%d,r%d): dx (%d,%d,%d,%d) needs dy (%d,%d,%d,%d), given "
                        "(%d,%d,%d,%d)",
                        top, bottom, left, right, dx->n, dx->h, dx->w, dx->c, dx->n, dx->h + top + bottom,
                        dx->w + left + right, dx->c, dy->n, dy->h, dy->w, dy->c);
    if (dx->data == dy->data) return gm_error(GM_ERR_INVALID_ARG, "cpu zero_pad_bwd: dx and dy must not alias");
    const long long rows = (long long)dx->n * dx->h;
    const size_t c = (size_t)dx->c, dxrow = (size_t)dx->w * c, dyrow = (size_t)dy->w * c;
    const float *g = dy->data;
    float *dxd = dx->data;
    /* The gradient of a padded cell has nowhere to go: it is dropped. */
#pragma omp parallel for schedule(static)
    for (long long r = 0; r < rows; ++r) {
        const size_t b = (size_t)(r / dx->h), iy = (size_t)(r % dx->h);
        const float *src = g + (b * (size_t)dy->h + iy + (size_t)top) * dyrow + (size_t)left * c;
        memcpy(dxd + (size_t)r * dxrow, src, dxrow * sizeof(float));
    }
    return GM_OK;
}

gm_status gm_cpu_one_hot(gm_backend *be, const int *cls, float seed, gm_tensor *y) {
    if (!be || !cls) return gm_error(GM_ERR_INVALID_ARG, "cpu one_hot: NULL backend or class list");
    GM_TRY(gm_cpu_check_tensor("one_hot", "y", y));
    /* The logits are N x C; a row of h*w*c values (a 1x1 logits convolution) is the same thing. */
    const long long len = (long long)y->h * y->w * y->c;
    for (int b = 0; b < y->n; ++b)
        if (cls[b] < 0 || cls[b] >= len)
            return gm_error(GM_ERR_INVALID_ARG,
                            "cpu one_hot: image %d: class %d is outside [0, %lld) for y (%d,%d,%d,%d)", b, cls[b],
                            len, y->n, y->h, y->w, y->c);
    const long long count = (long long)y->n * len;
    float *yd = y->data;
#pragma omp parallel for schedule(static)
    for (long long i = 0; i < count; ++i) yd[i] = gm_one_hot_value((int)(i % len), cls[i / len], seed);
    return GM_OK;
}
