/* cuda_weights.c — the shared machinery of the CUDA backend's prepared layers (cuda_layers.h):
 * creating and freeing gm_layer_weights (device buffers, cuDNN descriptors, per-shape plans),
 * uploading weights once, the kind/precision check of every operation, the bias + activation
 * epilogue that follows a cuDNN convolution or a cuBLAS GEMM, and the GRADMAP_CUDA_SYNC debug
 * wait after library calls. Layouts as in cuda_layers.h. */
#include "cuda_layers.h"

#include <stdlib.h>

#include "kernels/activation_kernels.h"

gm_status gm_cuda_weights_new(gm_cuda_backend *cb, gm_cuda_layer_kind kind, const char *op, const gm_activation *act,
                              gm_layer_weights **out) {
    *out = NULL;
    /* A bad activation must fail at prepare time, not in the middle of a batch. */
    switch (act->kind) {
    case GM_ACT_LINEAR:
    case GM_ACT_RELU:
    case GM_ACT_SIGMOID:
    case GM_ACT_TANH:
    case GM_ACT_SOFTMAX:
        break;
    default:
        return gm_error(GM_ERR_UNSUPPORTED, "cuda %s prepare: activation kind %d is not supported", op,
                        (int)act->kind);
    }
    gm_layer_weights *w = calloc(1, sizeof *w);
    if (!w) return gm_error(GM_ERR_NOMEM, "cuda %s prepare: cannot allocate the layer weights", op);
    w->kind = kind;
    w->precision = cb->precision;
    w->act = *act;
    *out = w;
    return GM_OK;
}

gm_status gm_cuda_weights_upload(gm_cuda_backend *cb, const float *host, size_t count, float **out) {
    void *d = NULL;
    *out = NULL;
    GM_TRY(gm_cuda_device_alloc(cb, count * sizeof(float), &d));
    /* The backend's own upload: stream-ordered through pinned staging, and the host buffer is
     * already copied out when it returns, so callers may free it at once. */
    gm_status st = cb->base.ops->upload(&cb->base, d, host, count * sizeof(float));
    if (st != GM_OK) {
        gm_cuda_device_free(cb, &d);
        return st;
    }
    *out = (float *)d;
    return GM_OK;
}

void gm_cuda_conv_plan_clear(gm_cuda_conv_plan *p) {
    /* Destroy errors are ignored: the descriptors are host objects and nothing is left to report to. */
    if (p->in) cudnnDestroyTensorDescriptor(p->in);
    if (p->out) cudnnDestroyTensorDescriptor(p->out);
    p->in = NULL;
    p->out = NULL;
    p->n = p->h = p->w = 0;
    p->last_use = 0;
    p->pass[GM_CUDA_CONV_FWD].chosen = 0;
    p->pass[GM_CUDA_CONV_BWD_DATA].chosen = 0;
}

void gm_cuda_weights_free(gm_backend *be, gm_layer_weights **wp) {
    if (!wp || !*wp) return;
    gm_layer_weights *w = *wp;
    gm_cuda_backend *cb = be ? gm_cuda_cast(be) : NULL;
    for (int i = 0; i < GM_CUDA_CONV_PLANS; ++i) gm_cuda_conv_plan_clear(&w->plans[i]);
    if (w->filter) cudnnDestroyFilterDescriptor(w->filter);
    if (w->conv_desc) cudnnDestroyConvolutionDescriptor(w->conv_desc);
    /* cudaFree waits for the device, so work still queued on these buffers finishes first. */
    void *p = w->kernel;
    gm_cuda_device_free(cb, &p);
    p = w->bias;
    gm_cuda_device_free(cb, &p);
    free(w);
    *wp = NULL;
}

gm_status gm_cuda_weights_check(const gm_cuda_backend *cb, const gm_layer_weights *w, gm_cuda_layer_kind kind,
                                const char *op) {
    if (!cb || !w) return gm_error(GM_ERR_INVALID_ARG, "cuda %s: NULL backend or weights", op);
    if (w->kind != kind)
        return gm_error(GM_ERR_INVALID_ARG, "cuda %s: weights are not a %s", op,
                        kind == GM_CUDA_LAYER_CONV2D ? "conv" : "dense");
    /* The filter's element type was fixed by the precision at prepare time. */
    if (w->precision != cb->precision)
        return gm_error(GM_ERR_INVALID_ARG, "cuda %s: weights were prepared for precision %s, the backend runs %s", op,
                        gm_cuda_precision_label(w->precision), gm_cuda_precision_label(cb->precision));
    return GM_OK;
}

gm_status gm_cuda_epilogue(gm_cuda_backend *cb, const gm_layer_weights *w, float *y, size_t rows, int c) {
    void *stream = gm_cuda_stream_ptr(cb);
    if (w->act.kind != GM_ACT_SOFTMAX) return gm_launch_bias_activation(&w->act, w->bias, y, rows, c, stream);
    /* Softmax is a row reduction, not an element-wise epilogue: bias first, then the rows. */
    gm_activation linear = w->act;
    linear.kind = GM_ACT_LINEAR;
    GM_TRY(gm_launch_bias_activation(&linear, w->bias, y, rows, c, stream));
    return gm_launch_softmax_fwd(y, y, rows, c, stream);
}

gm_status gm_cuda_debug_sync(gm_cuda_backend *cb) {
    if (gm_cuda_sync_debug()) GM_CUDA_TRY(cudaStreamSynchronize(cb->stream));
    return GM_OK;
}

void gm_cuda_weights_stats(const gm_layer_weights *w, int *plans, long *created, long *chosen) {
    int count = 0;
    for (int i = 0; w && i < GM_CUDA_CONV_PLANS; ++i) count += w->plans[i].in != NULL;
    if (plans) *plans = count;
    if (created) *created = w ? w->plans_created : 0;
    if (chosen) *chosen = w ? w->algos_chosen : 0;
}
