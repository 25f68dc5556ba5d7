/* cuda_elementwise.c — the CUDA backend's per-element operations (backend.h): activations forward
 * and backward (linear, generalised ReLU with its plain / guided / deconvnet modes, sigmoid, tanh,
 * softmax over C), channel affine (unfolded BatchNormalization) and its backward, Rescaling forward
 * and backward, Add, ZeroPadding2D and its crop, and the one-hot seed of the logits.
 * Each validates its arguments exactly as the CPU backend does (host/cpu/cpu_elementwise.c,
 * cpu_elementwise_bwd.c: same checks, same messages with "cuda" for "cpu"), then enqueues a kernel
 * of kernels/activation_kernels.cu or elementwise_kernels.cu on the backend's stream.
 * Layouts: plain NHWC float32 device memory; "rows" are the N*H*W pixels of C channels.
 * Gradient rules: activations are differentiated from their OUTPUT y (kernels/activation_bwd_math.h);
 * affine layers multiply by their scale; padding's backward drops the padded border. Every backward
 * OVERWRITES its output; element-wise ops allow their output to alias an input element for element. */
#include "cuda_internal.h"

#include <limits.h>
#include <math.h>

#include "kernels/activation_kernels.h"
#include "kernels/elementwise_kernels.h"

static size_t gm_cuda_rows(const gm_tensor *t) { return (size_t)t->n * (size_t)t->h * (size_t)t->w; }

gm_status gm_cuda_activation_fwd(gm_backend *be, const gm_activation *a, const gm_tensor *x, gm_tensor *y) {
    if (!be || !a) return gm_error(GM_ERR_INVALID_ARG, "cuda activation: NULL backend or descriptor");
    GM_TRY(gm_cuda_check_tensor("activation", "x", x));
    GM_TRY(gm_cuda_check_tensor("activation", "y", y));
    GM_TRY(gm_cuda_check_same_shape("activation", x, y));
    if (a->kind < GM_ACT_LINEAR || a->kind > GM_ACT_SOFTMAX)
        return gm_error(GM_ERR_UNSUPPORTED, "cuda activation: kind %d is not supported", (int)a->kind);
    void *stream = gm_cuda_stream_ptr(gm_cuda_cast(be));
    if (a->kind == GM_ACT_SOFTMAX) return gm_launch_softmax_fwd(x->data, y->data, gm_cuda_rows(x), x->c, stream);
    return gm_launch_activation_fwd(a, x->data, y->data, gm_tensor_count(x), stream);
}

gm_status gm_cuda_channel_affine_fwd(gm_backend *be, const float *scale, const float *shift, const gm_tensor *x,
                                     gm_tensor *y) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda channel_affine: backend is NULL");
    if (!scale || !shift) return gm_error(GM_ERR_INVALID_ARG, "cuda channel_affine: scale or shift is NULL");
    GM_TRY(gm_cuda_check_tensor("channel_affine", "x", x));
    GM_TRY(gm_cuda_check_tensor("channel_affine", "y", y));
    GM_TRY(gm_cuda_check_same_shape("channel_affine", x, y));
    return gm_launch_channel_affine(scale, shift, x->data, y->data, gm_cuda_rows(x), x->c,
                                    gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_rescale_fwd(gm_backend *be, float scale, float offset, const gm_tensor *x, gm_tensor *y) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda rescale: backend is NULL");
    GM_TRY(gm_cuda_check_tensor("rescale", "x", x));
    GM_TRY(gm_cuda_check_tensor("rescale", "y", y));
    GM_TRY(gm_cuda_check_same_shape("rescale", x, y));
    return gm_launch_rescale_fwd(scale, offset, x->data, y->data, gm_tensor_count(x),
                                 gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_add(gm_backend *be, const gm_tensor *a, const gm_tensor *b, gm_tensor *y) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda add: backend is NULL");
    GM_TRY(gm_cuda_check_tensor("add", "a", a));
    GM_TRY(gm_cuda_check_tensor("add", "b", b));
    GM_TRY(gm_cuda_check_tensor("add", "y", y));
    GM_TRY(gm_cuda_check_same_shape("add", a, b));
    GM_TRY(gm_cuda_check_same_shape("add", a, y));
    return gm_launch_add(a->data, b->data, y->data, gm_tensor_count(a), gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_zero_pad_fwd(gm_backend *be, int top, int bottom, int left, int right, const gm_tensor *x,
                               gm_tensor *y) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda zero_pad: backend is NULL");
    GM_TRY(gm_cuda_check_tensor("zero_pad", "x", x));
    GM_TRY(gm_cuda_check_tensor("zero_pad", "y", y));
    if (top < 0 || bottom < 0 || left < 0 || right < 0)
        return gm_error(GM_ERR_INVALID_ARG, "cuda zero_pad: negative pads (t%d,b%d,l%d,r%d)", top, bottom, left,
                        right);
    if (y->n != x->n || y->h != x->h + top + bottom || y->w != x->w + left + right || y->c != x->c)
        return gm_error(GM_ERR_SHAPE,
                        "cuda zero_pad: pads (t%d,b%d,l%d,r%d) on input (%d,%d,%d,%d) give (%d,%d,%d,%d), output "
                        "given as (%d,%d,%d,%d)",
                        top, bottom, left, right, x->n, x->h, x->w, x->c, x->n, x->h + top + bottom,
                        x->w + left + right, x->c, y->n, y->h, y->w, y->c);
    if (x->data == y->data) return gm_error(GM_ERR_INVALID_ARG, "cuda zero_pad: x and y must not alias");
    return gm_launch_zero_pad_fwd(top, bottom, left, right, x, y, gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_activation_bwd(gm_backend *be, const gm_activation *a, gm_relu_bwd_mode mode, const gm_tensor *y,
                                 const gm_tensor *dy, gm_tensor *dx) {
    if (!be || !a) return gm_error(GM_ERR_INVALID_ARG, "cuda activation_bwd: NULL backend or descriptor");
    GM_TRY(gm_cuda_check_tensor("activation_bwd", "y", y));
    GM_TRY(gm_cuda_check_tensor("activation_bwd", "dy", dy));
    GM_TRY(gm_cuda_check_tensor("activation_bwd", "dx", dx));
    GM_TRY(gm_cuda_check_same_shape("activation_bwd", y, dy));
    GM_TRY(gm_cuda_check_same_shape("activation_bwd", y, dx));
    if (mode != GM_RELU_BWD_PLAIN && mode != GM_RELU_BWD_GUIDED && mode != GM_RELU_BWD_DECONV)
        return gm_error(GM_ERR_INVALID_ARG, "cuda activation_bwd: ReLU backward mode %d is not defined", (int)mode);
    if (a->kind == GM_ACT_RELU) {
        const float mx = a->max_value, slope = a->negative_slope, thr = a->threshold;
        /* Outside Keras's constraints the regions of y overlap and y no longer tells the slope. */
        if (!(mx >= 0.0f) || !(slope >= 0.0f) || !(thr >= 0.0f) || isinf(slope) || isinf(thr))
            return gm_error(GM_ERR_UNSUPPORTED,
                            "cuda activation_bwd: ReLU (max_value %g, negative_slope %g, threshold %g) cannot be "
                            "differentiated from its output; Keras requires all three >= 0",
                            (double)mx, (double)slope, (double)thr);
    }
    if (a->kind < GM_ACT_LINEAR || a->kind > GM_ACT_SOFTMAX)
        return gm_error(GM_ERR_UNSUPPORTED, "cuda activation_bwd: activation kind %d is not supported", (int)a->kind);
    return gm_launch_activation_bwd(a, mode, y->data, dy->data, dx->data, gm_cuda_rows(y), y->c,
                                    gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_channel_scale_bwd(gm_backend *be, const float *scale, const gm_tensor *dy, gm_tensor *dx) {
    if (!be || !scale) return gm_error(GM_ERR_INVALID_ARG, "cuda channel_scale_bwd: NULL backend or scale");
    GM_TRY(gm_cuda_check_tensor("channel_scale_bwd", "dy", dy));
    GM_TRY(gm_cuda_check_tensor("channel_scale_bwd", "dx", dx));
    GM_TRY(gm_cuda_check_same_shape("channel_scale_bwd", dy, dx));
    return gm_launch_channel_scale_bwd(scale, dy->data, dx->data, gm_cuda_rows(dy), dy->c,
                                       gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_rescale_bwd(gm_backend *be, float scale, const gm_tensor *dy, gm_tensor *dx) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda rescale_bwd: backend is NULL");
    GM_TRY(gm_cuda_check_tensor("rescale_bwd", "dy", dy));
    GM_TRY(gm_cuda_check_tensor("rescale_bwd", "dx", dx));
    GM_TRY(gm_cuda_check_same_shape("rescale_bwd", dy, dx));
    return gm_launch_rescale_bwd(scale, dy->data, dx->data, gm_tensor_count(dy), gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_zero_pad_bwd(gm_backend *be, int top, int bottom, int left, int right, const gm_tensor *dy,
                               gm_tensor *dx) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda zero_pad_bwd: backend is NULL");
    GM_TRY(gm_cuda_check_tensor("zero_pad_bwd", "dy", dy));
    GM_TRY(gm_cuda_check_tensor("zero_pad_bwd", "dx", dx));
    if (top < 0 || bottom < 0 || left < 0 || right < 0)
        return gm_error(GM_ERR_INVALID_ARG, "cuda zero_pad_bwd: negative pads (t%d,b%d,l%d,r%d)", top, bottom, left,
                        right);
    if (dy->n != dx->n || dy->h != dx->h + top + bottom || dy->w != dx->w + left + right || dy->c != dx->c)
        return gm_error(GM_ERR_SHAPE,
                        "cuda zero_pad_bwd: pads (t%d,b%d,l%d,r%d): dx (%d,%d,%d,%d) needs dy (%d,%d,%d,%d), given "
                        "(%d,%d,%d,%d)",
                        top, bottom, left, right, dx->n, dx->h, dx->w, dx->c, dx->n, dx->h + top + bottom,
                        dx->w + left + right, dx->c, dy->n, dy->h, dy->w, dy->c);
    if (dx->data == dy->data) return gm_error(GM_ERR_INVALID_ARG, "cuda zero_pad_bwd: dx and dy must not alias");
    return gm_launch_zero_pad_bwd(top, bottom, left, right, dy, dx, gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_one_hot(gm_backend *be, const int *cls, float seed, gm_tensor *y) {
    if (!be || !cls) return gm_error(GM_ERR_INVALID_ARG, "cuda one_hot: NULL backend or class list");
    GM_TRY(gm_cuda_check_tensor("one_hot", "y", y));
    /* The logits are N x C; a row of h*w*c values (a 1x1 logits convolution) is the same thing. */
    const long long len = (long long)y->h * y->w * y->c;
    for (int b = 0; b < y->n; ++b)
        if (cls[b] < 0 || cls[b] >= len)
            return gm_error(GM_ERR_INVALID_ARG,
                            "cuda one_hot: image %d: class %d is outside [0, %lld) for y (%d,%d,%d,%d)", b, cls[b],
                            len, y->n, y->h, y->w, y->c);
    /* The kernel indexes a row by int (class indices are ints). */
    if (len > INT_MAX)
        return gm_error(GM_ERR_UNSUPPORTED, "cuda one_hot: rows of %lld logits for y (%d,%d,%d,%d), more than %d",
                        len, y->n, y->h, y->w, y->c, INT_MAX);
    gm_cuda_backend *cb = gm_cuda_cast(be);
    int *dcls = NULL;
    GM_TRY(gm_cuda_upload_ints(cb, cls, (size_t)y->n, &dcls));
    return gm_launch_one_hot(dcls, seed, y->data, y->n, (int)len, gm_cuda_stream_ptr(cb));
}
