/* explain.c — the explainer's set-up: method names, defaults, which passes the requested methods
 * need (plain backward, guided backward, input or target-layer gradients, or none at all when
 * CAM / Grad-CAM have a closed form on a GAP -> Dense head), where the backward stops, and the
 * engine and buffers sized once for max_batch rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explain_internal.h"

static const char *const gm_method_names[GM_METHOD_COUNT] = {
    "saliency", "inputxgrad", "gradcam", "cam",      "gradcam++",  "xgradcam",
    "hirescam", "layercam",   "guidedbp", "guidedgradcam", "smoothgrad", "intgrad"};

const char *gm_method_name(gm_method m) { return m < GM_METHOD_COUNT ? gm_method_names[m] : "?"; }

int gm_method_is_input_space(gm_method m) {
    return m == GM_METHOD_SALIENCY || m == GM_METHOD_INPUTXGRAD || m == GM_METHOD_GUIDEDBP ||
           m == GM_METHOD_GUIDEDGRADCAM || m == GM_METHOD_SMOOTHGRAD || m == GM_METHOD_INTGRAD;
}

int gm_methods_need_exact_forward(unsigned methods) {
    for (int m = 0; m < GM_METHOD_COUNT; ++m)
        if ((methods & (1u << m)) && gm_method_is_input_space((gm_method)m)) return 1;
    return 0;
}

gm_status gm_method_parse_list(const char *list, unsigned *methods) {
    *methods = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list ? list : "");
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int m = 0; m < GM_METHOD_COUNT; ++m)
            if (!strcmp(tok, gm_method_names[m])) found = m;
        if (found < 0)
            return gm_error(GM_ERR_INVALID_ARG,
                            "unknown method '%s' (saliency, inputxgrad, gradcam, cam, gradcam++, xgradcam, hirescam, "
                            "layercam, guidedbp, guidedgradcam, smoothgrad, intgrad)",
                            tok);
        *methods |= 1u << found;
    }
    if (!*methods) return gm_error(GM_ERR_INVALID_ARG, "no method given");
    return GM_OK;
}

void gm_explain_config_default(gm_explain_config *c) {
    memset(c, 0, sizeof *c);
    c->methods = 1u << GM_METHOD_GRADCAM;
    c->target_layer = -1;
    c->n_targets = 1;
    c->max_batch = 16;
    c->sg_samples = 25;
    c->sg_noise = 0.15f;
    c->seed = 0;
    c->ig_steps = 32;
    c->ig_baseline = GM_IG_BASELINE_BLACK;
    c->ig_rule = GM_IG_RIEMANN_RIGHT;
}

int gm_explain_wants(const gm_explainer *x, gm_method m) { return (x->cfg.methods >> m) & 1u; }

/* Follows a node's sole reader through alias nodes (Identity, Flatten, Dropout). */
static int gm_sole_reader(const gm_graph *g, int node) {
    for (;;) {
        int reader = -1, count = 0;
        for (int i = node + 1; i < g->n_nodes; ++i)
            for (int k = 0; k < g->nodes[i].n_inputs; ++k)
                if (g->nodes[i].inputs[k] == node) reader = i, ++count;
        if (count != 1) return -1;
        if (g->nodes[reader].op != GM_OP_IDENTITY) return reader;
        node = reader;
    }
}

/* target -> GlobalAveragePooling2D -> Dense (the logits): the head CAM needs. */
static int gm_find_gap_dense(const gm_graph *g, int target) {
    if (target < 0) return -1;
    int gap = gm_sole_reader(g, target);
    if (gap < 0 || g->nodes[gap].op != GM_OP_GAP) return -1;
    int dense = gm_sole_reader(g, gap);
    if (dense < 0 || g->nodes[dense].op != GM_OP_DENSE || dense != g->logits_node) return -1;
    return dense;
}

static gm_status gm_explainer_plan(gm_explainer *x) {
    const gm_graph *g = x->g;
    const unsigned input_methods = (1u << GM_METHOD_SALIENCY) | (1u << GM_METHOD_INPUTXGRAD) |
                                   (1u << GM_METHOD_SMOOTHGRAD) | (1u << GM_METHOD_INTGRAD);
    const unsigned guided = (1u << GM_METHOD_GUIDEDBP) | (1u << GM_METHOD_GUIDEDGRADCAM);
    const unsigned cams = (1u << GM_METHOD_GRADCAM) | (1u << GM_METHOD_CAM) | (1u << GM_METHOD_GRADCAMPP) |
                          (1u << GM_METHOD_XGRADCAM) | (1u << GM_METHOD_HIRESCAM) | (1u << GM_METHOD_LAYERCAM) |
                          (1u << GM_METHOD_GUIDEDGRADCAM);
    x->seed_node = x->cfg.score_softmax ? g->output_node : g->logits_node;
    /* Guided Grad-CAM is built from the Grad-CAM map, which is then reported too. */
    if (x->cfg.methods & (1u << GM_METHOD_GUIDEDGRADCAM)) x->cfg.methods |= 1u << GM_METHOD_GRADCAM;
    const unsigned m = x->cfg.methods;
    x->target = -1;
    if (m & cams) {
        x->target = x->cfg.target_layer >= 0 ? x->cfg.target_layer : gm_graph_default_target(g);
        if (x->target < 0) return gm_error(GM_ERR_UNSUPPORTED, "the model has no spatial layer to explain");
        const gm_node *t = &g->nodes[x->target];
        if (t->out.rank != 4)
            return gm_error(GM_ERR_INVALID_ARG, "target layer '%s' has no spatial output (shape (%d))", t->name, t->out.c);
        if (t->fused_into >= 0)
            return gm_error(GM_ERR_INVALID_ARG,
                            "target layer '%s' is fused into '%s' at inference (BatchNormalization/ReLU folding); use "
                            "--layer %s",
                            t->name, g->nodes[t->fused_into].name, g->nodes[t->fused_into].name);
    }
    x->gap_dense = gm_find_gap_dense(g, x->target);
    if ((m & (1u << GM_METHOD_CAM)) && x->gap_dense < 0)
        return gm_error(GM_ERR_UNSUPPORTED,
                        "cam needs the target layer to feed GlobalAveragePooling2D and then the output Dense layer "
                        "(target '%s' does not); use gradcam",
                        g->nodes[x->target].name);
    /* On a GAP -> Dense head dy/dA = W[:,c]/(h*w) exactly: Grad-CAM needs no backward, unless one
     * runs to the target layer anyway for another CAM-family method (then its gradient is free). */
    unsigned target_grad_methods = (1u << GM_METHOD_GRADCAMPP) | (1u << GM_METHOD_XGRADCAM) |
                                   (1u << GM_METHOD_HIRESCAM) | (1u << GM_METHOD_LAYERCAM);
    x->closed_form_gradcam = x->gap_dense >= 0 && !x->cfg.score_softmax && (m & (1u << GM_METHOD_GRADCAM)) &&
                             !(m & target_grad_methods);
    if (!x->closed_form_gradcam) target_grad_methods |= (1u << GM_METHOD_GRADCAM) | (1u << GM_METHOD_GUIDEDGRADCAM);
    x->need_input_grad = (m & (input_methods | guided)) != 0;
    x->need_target_grad = (m & target_grad_methods) != 0;
    x->need_plain_bwd = (m & ((1u << GM_METHOD_SALIENCY) | (1u << GM_METHOD_INPUTXGRAD))) || x->need_target_grad;
    x->need_guided_bwd = (m & guided) != 0;
    x->stop_node = x->need_input_grad ? 0 : x->need_target_grad ? x->target : -1;
    return GM_OK;
}

static gm_status gm_explainer_alloc(gm_explainer *x) {
    const gm_graph *g = x->g;
    gm_backend *be = x->be;
    int B = x->cfg.max_batch, K = x->cfg.n_targets;
    x->in_h = g->input_h, x->in_w = g->input_w, x->in_c = g->input_c;
    x->n_classes = g->nodes[g->logits_node].out.c;
    if (x->target >= 0) {
        const gm_shape *s = &g->nodes[x->target].out;
        x->t_h = s->h, x->t_w = s->w, x->t_c = s->c;
    }
    if (K < 1 || K > x->n_classes)
        return gm_error(GM_ERR_INVALID_ARG, "%d target classes per image for a model with %d classes", K, x->n_classes);
    size_t in_size = (size_t)x->in_h * x->in_w * x->in_c;
    size_t map_max = (size_t)x->in_h * x->in_w;
    if ((size_t)x->t_h * x->t_w * K > map_max) map_max = (size_t)x->t_h * x->t_w * K;
    x->logits = malloc((size_t)B * x->n_classes * sizeof(float));
    x->probs = malloc((size_t)B * x->n_classes * sizeof(float));
    x->targets = malloc((size_t)B * K * sizeof(int));
    x->h_map = malloc((size_t)B * map_max * sizeof(float));
    x->h_weights = malloc((size_t)B * (x->t_c + 1) * sizeof(float));
    x->h_grad = malloc((size_t)B * in_size * sizeof(float));
    x->row_cls = malloc((size_t)B * sizeof(int));
    x->row_image = malloc((size_t)B * sizeof(int));
    x->row_weight = malloc((size_t)B * sizeof(double));
    if (!x->logits || !x->probs || !x->targets || !x->h_map || !x->h_weights || !x->h_grad || !x->row_cls ||
        !x->row_image || !x->row_weight)
        return gm_error(GM_ERR_NOMEM, "out of memory for the explainer (batch %d)", B);
    for (int m = 0; m < GM_METHOD_COUNT; ++m) {
        if (!gm_explain_wants(x, (gm_method)m)) continue;
        int h, w;
        gm_explainer_map_size(x, (gm_method)m, &h, &w);
        x->maps[m] = malloc((size_t)B * K * h * w * sizeof(float));
        if (!x->maps[m]) return gm_error(GM_ERR_NOMEM, "out of memory for %s maps", gm_method_name((gm_method)m));
    }
    if (gm_explain_wants(x, GM_METHOD_SMOOTHGRAD) || gm_explain_wants(x, GM_METHOD_INTGRAD)) {
        x->acc = malloc((size_t)B * in_size * sizeof(double));
        x->rows = malloc((size_t)B * in_size * sizeof(float));
        x->baselines = malloc((size_t)B * in_size * sizeof(float));
        if (!x->acc || !x->rows || !x->baselines) return gm_error(GM_ERR_NOMEM, "out of memory for SmoothGrad/IG rows");
    }
    GM_TRY(be->ops->alloc(be, (size_t)B * map_max * sizeof(float), (void **)&x->d_map));
    GM_TRY(be->ops->alloc(be, (size_t)B * (x->t_c + 1) * sizeof(float), (void **)&x->d_weights));
    GM_TRY(be->ops->alloc(be, (size_t)B * in_size * sizeof(float), (void **)&x->d_input_tmp));
    if (x->gap_dense >= 0) {
        const gm_node *d = &g->nodes[x->gap_dense];
        size_t bytes = (size_t)d->dense.in * d->dense.out * sizeof(float);
        GM_TRY(be->ops->alloc(be, bytes, (void **)&x->d_dense_kernel));
        GM_TRY(be->ops->upload(be, x->d_dense_kernel, d->kernel, bytes));
    }
    int keep[2], n_keep = 0, keep_grads[2], n_keep_grads = 0;
    if (x->target >= 0) keep[n_keep++] = x->target;
    keep[n_keep++] = 0; /* the input, for input x gradient */
    if (x->stop_node >= 0) {
        if (x->need_input_grad) keep_grads[n_keep_grads++] = 0;
        if (x->need_target_grad) keep_grads[n_keep_grads++] = x->target;
    }
    gm_engine_options eo = {.max_batch = B,
                            .keep = keep,
                            .n_keep = n_keep,
                            .backward_seed = x->stop_node >= 0 ? x->seed_node : -1,
                            .backward_stop = x->stop_node,
                            .keep_grads = keep_grads,
                            .n_keep_grads = n_keep_grads};
    return gm_engine_create_ex(g, be, &eo, &x->engine);
}

gm_status gm_explainer_create(const gm_graph *g, gm_backend *be, const gm_explain_config *cfg, gm_explainer **out) {
    *out = NULL;
    if (cfg->max_batch < 1) return gm_error(GM_ERR_INVALID_ARG, "batch size %d", cfg->max_batch);
    if (cfg->sg_samples < 1 || cfg->ig_steps < 1 || !(cfg->sg_noise >= 0.0f))
        return gm_error(GM_ERR_INVALID_ARG, "SmoothGrad samples, IG steps must be >= 1 and noise >= 0");
    gm_explainer *x = calloc(1, sizeof *x);
    if (!x) return gm_error(GM_ERR_NOMEM, "out of memory creating the explainer");
    x->g = g;
    x->be = be;
    x->cfg = *cfg;
    gm_status st = GM_OK;
    /* The caller's black pixel may not outlive this call: keep a copy. */
    if (cfg->black_pixel) {
        x->black_pixel = malloc((size_t)g->input_c * sizeof *x->black_pixel);
        if (x->black_pixel) memcpy(x->black_pixel, cfg->black_pixel, (size_t)g->input_c * sizeof *x->black_pixel);
        else st = gm_error(GM_ERR_NOMEM, "out of memory creating the explainer");
        x->cfg.black_pixel = x->black_pixel;
    }
    if (st == GM_OK) st = gm_explainer_plan(x);
    if (st == GM_OK) st = gm_explainer_alloc(x);
    if (st != GM_OK) {
        gm_explainer_free(&x);
        return st;
    }
    *out = x;
    return GM_OK;
}

void gm_explainer_free(gm_explainer **px) {
    if (!px || !*px) return;
    gm_explainer *x = *px;
    gm_engine_free(&x->engine);
    gm_backend *be = x->be;
    if (x->d_map) be->ops->free(be, (void **)&x->d_map);
    if (x->d_weights) be->ops->free(be, (void **)&x->d_weights);
    if (x->d_input_tmp) be->ops->free(be, (void **)&x->d_input_tmp);
    if (x->d_dense_kernel) be->ops->free(be, (void **)&x->d_dense_kernel);
    for (int m = 0; m < GM_METHOD_COUNT; ++m) free(x->maps[m]);
    free(x->black_pixel);
    free(x->logits);
    free(x->probs);
    free(x->targets);
    free(x->h_map);
    free(x->h_weights);
    free(x->h_grad);
    free(x->acc);
    free(x->rows);
    free(x->baselines);
    free(x->row_cls);
    free(x->row_image);
    free(x->row_weight);
    free(x);
    *px = NULL;
}

void gm_explainer_map_size(const gm_explainer *x, gm_method m, int *h, int *w) {
    *h = gm_method_is_input_space(m) ? x->in_h : x->t_h;
    *w = gm_method_is_input_space(m) ? x->in_w : x->t_w;
}

const struct gm_engine_stats *gm_explainer_stats(const gm_explainer *x) { return gm_engine_get_stats(x->engine); }
int gm_explainer_backward_stop(const gm_explainer *x) { return x->stop_node; }
int gm_explainer_target_layer(const gm_explainer *x) { return x->target; }
