/* cuda_explain.c — the CUDA backend's explanation kernels (backend.h, "Explanation kernels"):
 * channel_reduce (saliency |x| max / sum over C), multiply, cam_weights (Grad-CAM, Grad-CAM++,
 * XGrad-CAM channel weights), weighted_channel_sum and elementwise_cam (HiResCAM, LayerCAM).
 * cam_multi, a cuBLAS GEMM, lives in cuda_dense.c. These are forward computations on stored
 * activations and gradients; no gradient flows through them.
 * Each validates its arguments exactly as the CPU backend does (host/cpu/cpu_explain.c: same
 * checks, same messages with "cuda" for "cpu"), then enqueues a kernel of kernels/cam_kernels.cu
 * (or elementwise_kernels.cu for multiply) on the backend's stream. The kernels call the CPU's
 * kernels/cam_math.h functions per pixel or per (image, channel), so the maps equal the CPU's.
 * One addition to the CPU checks: a reduction's output may not alias its inputs, because the GPU's
 * threads would read values that others have already overwritten.
 * Layouts: plain NHWC float32 device memory; maps N x H x W x 1, channel weights N x 1 x 1 x C. */
#include "cuda_internal.h"

#include "kernels/cam_kernels.h"
#include "kernels/elementwise_kernels.h"

static gm_status gm_cuda_check_map(const char *op, const gm_tensor *x, const gm_tensor *y, int want_c) {
    if (y->n != x->n || y->h != x->h || y->w != x->w || y->c != want_c)
        return gm_error(GM_ERR_SHAPE, "cuda %s: input (%d,%d,%d,%d) needs output (%d,%d,%d,%d), given (%d,%d,%d,%d)",
                        op, x->n, x->h, x->w, x->c, x->n, x->h, x->w, want_c, y->n, y->h, y->w, y->c);
    return GM_OK;
}

static gm_status gm_cuda_check_no_alias(const char *op, const char *out_name, const gm_tensor *out,
                                        const char *in_name, const gm_tensor *in) {
    if (out->data == in->data)
        return gm_error(GM_ERR_INVALID_ARG, "cuda %s: %s and %s must not alias", op, out_name, in_name);
    return GM_OK;
}

gm_status gm_cuda_channel_reduce(gm_backend *be, gm_channel_reduce kind, const gm_tensor *x, gm_tensor *y) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda channel_reduce: backend is NULL");
    GM_TRY(gm_cuda_check_tensor("channel_reduce", "x", x));
    GM_TRY(gm_cuda_check_tensor("channel_reduce", "y", y));
    GM_TRY(gm_cuda_check_map("channel_reduce", x, y, 1));
    if (kind != GM_REDUCE_ABS_MAX && kind != GM_REDUCE_SUM)
        return gm_error(GM_ERR_UNSUPPORTED, "cuda channel_reduce: kind %d is not supported", (int)kind);
    GM_TRY(gm_cuda_check_no_alias("channel_reduce", "y", y, "x", x));
    return gm_launch_channel_reduce(kind, x, y, gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_multiply(gm_backend *be, const gm_tensor *a, const gm_tensor *b, gm_tensor *y) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda multiply: backend is NULL");
    GM_TRY(gm_cuda_check_tensor("multiply", "a", a));
    GM_TRY(gm_cuda_check_tensor("multiply", "b", b));
    GM_TRY(gm_cuda_check_tensor("multiply", "y", y));
    GM_TRY(gm_cuda_check_same_shape("multiply", a, b));
    GM_TRY(gm_cuda_check_same_shape("multiply", a, y));
    /* y may alias a or b: each element is read before it is written, by the same thread. */
    return gm_launch_multiply(a->data, b->data, y->data, gm_tensor_count(a), gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_cam_weights(gm_backend *be, gm_cam_weights kind, const gm_tensor *A, const gm_tensor *G,
                              gm_tensor *w) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda cam_weights: backend is NULL");
    GM_TRY(gm_cuda_check_tensor("cam_weights", "A", A));
    GM_TRY(gm_cuda_check_tensor("cam_weights", "G", G));
    GM_TRY(gm_cuda_check_tensor("cam_weights", "w", w));
    GM_TRY(gm_cuda_check_same_shape("cam_weights", A, G));
    if (w->n != A->n || w->h != 1 || w->w != 1 || w->c != A->c)
        return gm_error(GM_ERR_SHAPE, "cuda cam_weights: activations (%d,%d,%d,%d) need weights (%d,1,1,%d), given "
                        "(%d,%d,%d,%d)", A->n, A->h, A->w, A->c, A->n, A->c, w->n, w->h, w->w, w->c);
    if (kind != GM_CAM_WEIGHTS_GRADCAM && kind != GM_CAM_WEIGHTS_GRADCAM_PP && kind != GM_CAM_WEIGHTS_XGRADCAM)
        return gm_error(GM_ERR_UNSUPPORTED, "cuda cam_weights: kind %d is not supported", (int)kind);
    GM_TRY(gm_cuda_check_no_alias("cam_weights", "w", w, "A", A));
    GM_TRY(gm_cuda_check_no_alias("cam_weights", "w", w, "G", G));
    return gm_launch_cam_weights(kind, A, G, w, gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_weighted_channel_sum(gm_backend *be, const gm_tensor *A, const gm_tensor *w, int relu,
                                       gm_tensor *L) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda weighted_channel_sum: backend is NULL");
    GM_TRY(gm_cuda_check_tensor("weighted_channel_sum", "A", A));
    GM_TRY(gm_cuda_check_tensor("weighted_channel_sum", "w", w));
    GM_TRY(gm_cuda_check_tensor("weighted_channel_sum", "L", L));
    if (w->n != A->n || w->h != 1 || w->w != 1 || w->c != A->c)
        return gm_error(GM_ERR_SHAPE, "cuda weighted_channel_sum: activations (%d,%d,%d,%d) need weights (%d,1,1,%d), "
                        "given (%d,%d,%d,%d)", A->n, A->h, A->w, A->c, A->n, A->c, w->n, w->h, w->w, w->c);
    GM_TRY(gm_cuda_check_map("weighted_channel_sum", A, L, 1));
    GM_TRY(gm_cuda_check_no_alias("weighted_channel_sum", "L", L, "A", A));
    GM_TRY(gm_cuda_check_no_alias("weighted_channel_sum", "L", L, "w", w));
    return gm_launch_weighted_channel_sum(A, w, relu, L, gm_cuda_stream_ptr(gm_cuda_cast(be)));
}

gm_status gm_cuda_elementwise_cam(gm_backend *be, gm_elementwise_cam kind, const gm_tensor *A, const gm_tensor *G,
                                  gm_tensor *L) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda elementwise_cam: backend is NULL");
    GM_TRY(gm_cuda_check_tensor("elementwise_cam", "A", A));
    GM_TRY(gm_cuda_check_tensor("elementwise_cam", "G", G));
    GM_TRY(gm_cuda_check_tensor("elementwise_cam", "L", L));
    GM_TRY(gm_cuda_check_same_shape("elementwise_cam", A, G));
    GM_TRY(gm_cuda_check_map("elementwise_cam", A, L, 1));
    if (kind != GM_ELEMENTWISE_HIRESCAM && kind != GM_ELEMENTWISE_LAYERCAM)
        return gm_error(GM_ERR_UNSUPPORTED, "cuda elementwise_cam: kind %d is not supported", (int)kind);
    GM_TRY(gm_cuda_check_no_alias("elementwise_cam", "L", L, "A", A));
    GM_TRY(gm_cuda_check_no_alias("elementwise_cam", "L", L, "G", G));
    return gm_launch_elementwise_cam(kind, A, G, L, gm_cuda_stream_ptr(gm_cuda_cast(be)));
}
