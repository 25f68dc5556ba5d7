/* explain_run.c — one batch of explanations: the forward pass, the target classes, then per
 * target rank one plain backward (shared by saliency, input x gradient and the whole Grad-CAM
 * family) and one guided backward when guided methods are asked, the CAM-family kernels on the
 * backend, and Zhou's CAM for all ranks in one call. Maps are downloaded raw to the host in
 * (image, rank, h, w) order. SmoothGrad and IG follow in explain_sampling.c. Stage boundaries
 * (forward / backward / maps) are marked for the opt-in stage timer of explain_cost.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/activation_math.h"
#include "explain_internal.h"
#include "post.h"

void gm_explain_scatter(gm_explainer *x, gm_method m, int n, int k, const float *src, int hw) {
    int K = x->cfg.n_targets;
    for (int i = 0; i < n; ++i)
        memcpy(x->maps[m] + ((size_t)i * K + k) * hw, src + (size_t)i * hw, (size_t)hw * sizeof(float));
}

void gm_top_k(const float *scores, int n, int k, int *idx) {
    for (int r = 0; r < k; ++r) {
        int best = -1;
        for (int c = 0; c < n; ++c) {
            int taken = 0;
            for (int q = 0; q < r; ++q) taken |= idx[q] == c;
            if (!taken && (best < 0 || scores[c] > scores[best])) best = c;
        }
        idx[r] = best;
    }
}

static gm_tensor gm_map_tensor(const gm_explainer *x, int n, int h, int w, int c) {
    gm_tensor t = {x->d_map, n, h, w, c};
    return t;
}

/* Runs a backend map op into d_map and stores the result as method m's maps for rank k. */
static gm_status gm_store_map(gm_explainer *x, gm_method m, int n, int k, const gm_tensor *map) {
    size_t hw = (size_t)map->h * map->w;
    GM_TRY(x->be->ops->download(x->be, x->h_map, map->data, (size_t)n * hw * sizeof(float)));
    gm_explain_scatter(x, m, n, k, x->h_map, (int)hw);
    return GM_OK;
}

static gm_status gm_require_op(const gm_explainer *x, const void *fn, const char *op) {
    if (fn) return GM_OK;
    return gm_error(GM_ERR_UNSUPPORTED, "the %s backend has no %s operation", x->be->ops->name, op);
}

static gm_status gm_input_maps(gm_explainer *x, int n, int k) {
    const gm_backend_ops *ops = x->be->ops;
    gm_tensor d;
    GM_TRY(gm_engine_grad(x->engine, 0, &d));
    gm_tensor map = gm_map_tensor(x, n, x->in_h, x->in_w, 1);
    GM_TRY(gm_require_op(x, (const void *)ops->channel_reduce, "channel_reduce"));
    if (gm_explain_wants(x, GM_METHOD_SALIENCY)) {
        GM_TRY(ops->channel_reduce(x->be, GM_REDUCE_ABS_MAX, &d, &map));
        GM_TRY(gm_store_map(x, GM_METHOD_SALIENCY, n, k, &map));
    }
    if (gm_explain_wants(x, GM_METHOD_INPUTXGRAD)) {
        gm_tensor in, prod;
        GM_TRY(gm_engine_value(x->engine, 0, &in));
        prod = d;
        prod.data = x->d_input_tmp;
        GM_TRY(gm_require_op(x, (const void *)ops->multiply, "multiply"));
        GM_TRY(ops->multiply(x->be, &in, &d, &prod));
        GM_TRY(ops->channel_reduce(x->be, GM_REDUCE_SUM, &prod, &map));
        GM_TRY(gm_store_map(x, GM_METHOD_INPUTXGRAD, n, k, &map));
    }
    return GM_OK;
}

static gm_status gm_weighted_map(gm_explainer *x, gm_method m, int n, int k, const gm_tensor *A, const gm_tensor *G,
                                 gm_cam_weights kind) {
    const gm_backend_ops *ops = x->be->ops;
    gm_tensor w = {x->d_weights, n, 1, 1, x->t_c};
    gm_tensor map = gm_map_tensor(x, n, x->t_h, x->t_w, 1);
    GM_TRY(gm_require_op(x, (const void *)ops->cam_weights, "cam_weights"));
    GM_TRY(ops->cam_weights(x->be, kind, A, G, &w));
    GM_TRY(ops->weighted_channel_sum(x->be, A, &w, 1, &map));
    return gm_store_map(x, m, n, k, &map);
}

static gm_status gm_target_maps(gm_explainer *x, int n, int k) {
    const gm_backend_ops *ops = x->be->ops;
    gm_tensor A, G;
    GM_TRY(gm_engine_value(x->engine, x->target, &A));
    GM_TRY(gm_engine_grad(x->engine, x->target, &G));
    if (!x->closed_form_gradcam &&
        (gm_explain_wants(x, GM_METHOD_GRADCAM) || gm_explain_wants(x, GM_METHOD_GUIDEDGRADCAM)))
        GM_TRY(gm_weighted_map(x, GM_METHOD_GRADCAM, n, k, &A, &G, GM_CAM_WEIGHTS_GRADCAM));
    if (gm_explain_wants(x, GM_METHOD_GRADCAMPP))
        GM_TRY(gm_weighted_map(x, GM_METHOD_GRADCAMPP, n, k, &A, &G, GM_CAM_WEIGHTS_GRADCAM_PP));
    if (gm_explain_wants(x, GM_METHOD_XGRADCAM))
        GM_TRY(gm_weighted_map(x, GM_METHOD_XGRADCAM, n, k, &A, &G, GM_CAM_WEIGHTS_XGRADCAM));
    gm_tensor map = gm_map_tensor(x, n, x->t_h, x->t_w, 1);
    if (gm_explain_wants(x, GM_METHOD_HIRESCAM) || gm_explain_wants(x, GM_METHOD_LAYERCAM))
        GM_TRY(gm_require_op(x, (const void *)ops->elementwise_cam, "elementwise_cam"));
    if (gm_explain_wants(x, GM_METHOD_HIRESCAM)) {
        GM_TRY(ops->elementwise_cam(x->be, GM_ELEMENTWISE_HIRESCAM, &A, &G, &map));
        GM_TRY(gm_store_map(x, GM_METHOD_HIRESCAM, n, k, &map));
    }
    if (gm_explain_wants(x, GM_METHOD_LAYERCAM)) {
        GM_TRY(ops->elementwise_cam(x->be, GM_ELEMENTWISE_LAYERCAM, &A, &G, &map));
        GM_TRY(gm_store_map(x, GM_METHOD_LAYERCAM, n, k, &map));
    }
    return GM_OK;
}

/* Grad-CAM on a GAP -> Dense head without any backward: alpha_k = W[k, c] / (h*w). */
static gm_status gm_closed_form_gradcam(gm_explainer *x, int n, int k) {
    const gm_node *d = &x->g->nodes[x->gap_dense];
    int C = x->t_c, K = x->cfg.n_targets;
    float inv_hw = 1.0f / (float)(x->t_h * x->t_w);
    for (int i = 0; i < n; ++i) {
        int cls = x->targets[(size_t)i * K + k];
        for (int c = 0; c < C; ++c) x->h_weights[(size_t)i * C + c] = d->kernel[(size_t)c * d->dense.out + cls] * inv_hw;
    }
    GM_TRY(x->be->ops->upload(x->be, x->d_weights, x->h_weights, (size_t)n * C * sizeof(float)));
    gm_tensor A, w = {x->d_weights, n, 1, 1, C};
    GM_TRY(gm_engine_value(x->engine, x->target, &A));
    gm_tensor map = gm_map_tensor(x, n, x->t_h, x->t_w, 1);
    GM_TRY(gm_require_op(x, (const void *)x->be->ops->weighted_channel_sum, "weighted_channel_sum"));
    GM_TRY(x->be->ops->weighted_channel_sum(x->be, &A, &w, 1, &map));
    return gm_store_map(x, GM_METHOD_GRADCAM, n, k, &map);
}

/* Zhou's CAM for every rank at once: (N,h,w,K) from one backend call, reordered to (N,K,h,w). */
static gm_status gm_cam_all_ranks(gm_explainer *x, int n) {
    int K = x->cfg.n_targets, hw = x->t_h * x->t_w;
    gm_tensor A;
    GM_TRY(gm_engine_value(x->engine, x->target, &A));
    gm_tensor map = gm_map_tensor(x, n, x->t_h, x->t_w, K);
    GM_TRY(gm_require_op(x, (const void *)x->be->ops->cam_multi, "cam_multi"));
    GM_TRY(x->be->ops->cam_multi(x->be, &A, x->d_dense_kernel, x->n_classes, x->targets, K, &map));
    GM_TRY(x->be->ops->download(x->be, x->h_map, map.data, (size_t)n * hw * K * sizeof(float)));
    float *dst = x->maps[GM_METHOD_CAM];
    for (int i = 0; i < n; ++i)
        for (int r = 0; r < K; ++r)
            for (int p = 0; p < hw; ++p)
                dst[((size_t)i * K + r) * hw + p] = x->h_map[((size_t)i * hw + p) * K + r];
    return GM_OK;
}

/* Guided backprop (and guided Grad-CAM = guided gradient x upsampled Grad-CAM), on the host. */
static gm_status gm_guided_maps(gm_explainer *x, int n, int k) {
    GM_TRY(gm_engine_read_grad(x->engine, 0, x->h_grad));
    int H = x->in_h, W = x->in_w, C = x->in_c, K = x->cfg.n_targets;
    size_t hw = (size_t)H * W;
    float *up = x->h_map; /* the Grad-CAM map at the input size (h_map holds at least H*W floats) */
    for (int i = 0; i < n; ++i) {
        const float *d = x->h_grad + (size_t)i * hw * C;
        const float *cam = gm_explain_wants(x, GM_METHOD_GUIDEDGRADCAM)
                               ? x->maps[GM_METHOD_GRADCAM] + ((size_t)i * K + k) * x->t_h * x->t_w
                               : NULL;
        if (cam) GM_TRY(gm_post_resize(cam, x->t_h, x->t_w, up, H, W, GM_BILINEAR_CV2));
        float *gb = gm_explain_wants(x, GM_METHOD_GUIDEDBP) ? x->maps[GM_METHOD_GUIDEDBP] + ((size_t)i * K + k) * hw : NULL;
        float *ggc = cam ? x->maps[GM_METHOD_GUIDEDGRADCAM] + ((size_t)i * K + k) * hw : NULL;
        for (size_t p = 0; p < hw; ++p) {
            float m1 = 0.0f, m2 = 0.0f;
            for (int c = 0; c < C; ++c) {
                float v = d[p * C + c];
                m1 = fabsf(v) > m1 ? fabsf(v) : m1;
                if (cam) m2 = fabsf(v * up[p]) > m2 ? fabsf(v * up[p]) : m2;
            }
            if (gb) gb[p] = m1;
            if (ggc) ggc[p] = m2;
        }
    }
    return GM_OK;
}

gm_status gm_explainer_run(gm_explainer *x, const float *input, int n, const int *classes, gm_explain_batch *out) {
    if (n < 1 || n > x->cfg.max_batch)
        return gm_error(GM_ERR_INVALID_ARG, "batch of %d images for an explainer planned for 1..%d", n, x->cfg.max_batch);
    const gm_graph *g = x->g;
    int K = x->cfg.n_targets, C = x->n_classes;
    gm_explain_timing *t = &x->times;
    GM_TRY(gm_explain_mark(x, NULL));
    GM_TRY(gm_engine_forward(x->engine, input, n));
    GM_TRY(gm_engine_read(x->engine, g->logits_node, x->logits));
    if (g->output_node != g->logits_node) {
        GM_TRY(gm_engine_read(x->engine, g->output_node, x->probs));
    } else {
        memcpy(x->probs, x->logits, (size_t)n * C * sizeof(float));
        for (int i = 0; i < n; ++i) gm_softmax_row(x->probs + (size_t)i * C, C);
    }
    if (classes) {
        for (int i = 0; i < n * K; ++i) {
            if (classes[i] < 0 || classes[i] >= C)
                return gm_error(GM_ERR_INVALID_ARG, "target class %d is outside 0..%d", classes[i], C - 1);
            x->targets[i] = classes[i];
        }
    } else {
        for (int i = 0; i < n; ++i) gm_top_k(x->logits + (size_t)i * C, C, K, x->targets + (size_t)i * K);
    }
    GM_TRY(gm_explain_mark(x, &t->forward_s));
    if (gm_explain_wants(x, GM_METHOD_CAM)) GM_TRY(gm_cam_all_ranks(x, n));
    for (int k = 0; k < K; ++k) {
        for (int i = 0; i < n; ++i) x->row_cls[i] = x->targets[(size_t)i * K + k];
        if (x->closed_form_gradcam) GM_TRY(gm_closed_form_gradcam(x, n, k));
        GM_TRY(gm_explain_mark(x, &t->maps_s));
        if (x->need_plain_bwd) {
            GM_TRY(gm_engine_backward(x->engine, x->row_cls, 1.0f, GM_RELU_BWD_PLAIN));
            GM_TRY(gm_explain_mark(x, &t->backward_s));
            if (x->need_input_grad && (gm_explain_wants(x, GM_METHOD_SALIENCY) || gm_explain_wants(x, GM_METHOD_INPUTXGRAD)))
                GM_TRY(gm_input_maps(x, n, k));
            if (x->need_target_grad) GM_TRY(gm_target_maps(x, n, k));
            GM_TRY(gm_explain_mark(x, &t->maps_s));
        }
        if (x->need_guided_bwd) {
            GM_TRY(gm_engine_backward(x->engine, x->row_cls, 1.0f, GM_RELU_BWD_GUIDED));
            GM_TRY(gm_explain_mark(x, &t->backward_s));
            GM_TRY(gm_guided_maps(x, n, k));
            GM_TRY(gm_explain_mark(x, &t->maps_s));
        }
    }
    /* SmoothGrad and IG reuse the engine's rows: after this the forward state is theirs. */
    if (gm_explain_wants(x, GM_METHOD_SMOOTHGRAD) || gm_explain_wants(x, GM_METHOD_INTGRAD))
        for (int k = 0; k < K; ++k) GM_TRY(gm_explain_sampling(x, input, n, k));
    GM_TRY(gm_explain_mark(x, &t->maps_s));
    memset(out, 0, sizeof *out);
    out->n = n;
    out->n_classes = C;
    out->logits = x->logits;
    out->probs = x->probs;
    out->targets = x->targets;
    for (int m = 0; m < GM_METHOD_COUNT; ++m) out->maps[m] = x->maps[m];
    return GM_OK;
}
