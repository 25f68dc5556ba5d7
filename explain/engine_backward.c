/* engine_backward.c — the backward-data pass of the engine: the gradient of one class score per
 * image with respect to every node between the seed (logits) and the stop node (the input image,
 * or the shallowest target layer when only CAM-family maps are wanted). No weight gradients are
 * ever computed, and nothing below the stop node runs.
 *
 * Gradient rule: backend *_bwd ops overwrite their output; a node read by several others (ResNet
 * shortcuts, Add fan-out) receives its first contribution directly and later ones through a
 * scratch buffer and `add`. Alias nodes (IDENTITY, FLATTEN, linear activations) share their
 * input's gradient buffer when they are its only reader on the path, so they cost nothing.
 * Activations (fused into conv/dense or standalone) are differentiated from their forward
 * OUTPUT, which the forward pass keeps for exactly the nodes this pass reads
 * (gm_engine_mark_backward_needs). Gradient buffers are planned in reverse order and reused
 * once the node they belong to has been processed, like the forward arena. */
#include <stdlib.h>
#include <string.h>

#include "engine_internal.h"

static int gm_is_alias_op(const gm_node *n) {
    return n->op == GM_OP_IDENTITY || n->op == GM_OP_FLATTEN ||
           (n->op == GM_OP_ACTIVATION && n->act.kind == GM_ACT_LINEAR);
}

static const gm_activation *gm_fused_act(const gm_node *n) {
    if (n->op == GM_OP_CONV2D) return &n->conv.act;
    if (n->op == GM_OP_DENSE) return &n->dense.act;
    if (n->op == GM_OP_ACTIVATION) return &n->act;
    return NULL;
}

/* Ancestors of `seed` (and seed itself) with index >= stop. */
static void gm_mark_path(const gm_graph *g, int seed, int stop, int *on_path) {
    memset(on_path, 0, (size_t)g->n_nodes * sizeof *on_path);
    on_path[seed] = 1;
    for (int i = seed; i > stop; --i) {
        if (!on_path[i]) continue;
        for (int j = 0; j < g->nodes[i].n_inputs; ++j)
            if (g->nodes[i].inputs[j] >= stop) on_path[g->nodes[i].inputs[j]] = 1;
    }
}

void gm_engine_mark_backward_needs(const gm_graph *g, int seed, int stop, int *kept) {
    int *on_path = malloc((size_t)g->n_nodes * sizeof *on_path);
    if (!on_path) return; /* plan_backward reports the allocation failure */
    gm_mark_path(g, seed, stop, on_path);
    for (int i = stop + 1; i <= seed; ++i) {
        if (!on_path[i]) continue;
        const gm_node *n = &g->nodes[i];
        const gm_activation *act = gm_fused_act(n);
        if (act && act->kind != GM_ACT_LINEAR) kept[i] = 1;
        if (n->op == GM_OP_MAXPOOL || n->op == GM_OP_GMP) kept[n->inputs[0]] = 1;
    }
    free(on_path);
}

static size_t gm_node_floats(const gm_engine *e, int i) { return gm_engine_node_size(e, i) * (size_t)e->max_batch; }

/* Counts the readers of node j whose backward runs (index > stop, on the path). */
static int gm_path_readers(const gm_engine *e, int j) {
    int count = 0;
    for (int i = j + 1; i <= e->seed_node; ++i) {
        if (!e->needs_grad[i] || i <= e->stop_node) continue;
        for (int k = 0; k < e->g->nodes[i].n_inputs; ++k) count += e->g->nodes[i].inputs[k] == j;
    }
    return count;
}

gm_status gm_engine_plan_backward(gm_engine *e, const gm_engine_options *opts) {
    const gm_graph *g = e->g;
    int n = g->n_nodes;
    e->seed_node = opts->backward_seed;
    e->stop_node = opts->backward_stop;
    e->needs_grad = calloc((size_t)n, sizeof *e->needs_grad);
    e->gstorage = calloc((size_t)n, sizeof *e->gstorage);
    e->gbuffer_of = calloc((size_t)n, sizeof *e->gbuffer_of);
    e->grad_kept = calloc((size_t)n, sizeof *e->grad_kept);
    e->grad_written = calloc((size_t)n, sizeof *e->grad_written);
    int *in_use = calloc((size_t)n + 1, sizeof *in_use);
    size_t *sizes = calloc((size_t)n + 1, sizeof *sizes);
    int *group_end = malloc((size_t)n * sizeof *group_end);
    int *assigned = calloc((size_t)n, sizeof *assigned);
    gm_status st = GM_OK;
    if (!e->needs_grad || !e->gstorage || !e->gbuffer_of || !e->grad_kept || !e->grad_written || !in_use || !sizes ||
        !group_end || !assigned) {
        st = gm_error(GM_ERR_NOMEM, "out of memory planning the backward pass");
        goto done;
    }
    gm_mark_path(g, e->seed_node, e->stop_node, e->needs_grad);
    for (int k = 0; k < opts->n_keep_grads; ++k) {
        int j = opts->keep_grads[k];
        if (j < e->stop_node || j > e->seed_node || !e->needs_grad[j]) {
            st = gm_error(GM_ERR_INVALID_ARG, "layer '%s': its gradient is not on the backward path from '%s' to '%s'",
                          j >= 0 && j < n ? g->nodes[j].name : "?", g->nodes[e->seed_node].name,
                          g->nodes[e->stop_node].name);
            goto done;
        }
        e->grad_kept[j] = 1;
    }
    /* Gradient storage: alias nodes hand their buffer down to a sole reader's input. */
    for (int i = 0; i < n; ++i) e->gstorage[i] = -1;
    for (int i = e->seed_node; i >= e->stop_node; --i) {
        if (!e->needs_grad[i]) continue;
        if (e->gstorage[i] < 0) e->gstorage[i] = i;
        const gm_node *node = &g->nodes[i];
        if (i > e->stop_node && gm_is_alias_op(node)) {
            int j = node->inputs[0];
            if (e->needs_grad[j] && gm_path_readers(e, j) == 1 && !e->grad_kept[i]) e->gstorage[j] = e->gstorage[i];
        }
    }
    /* A storage group lives until its lowest member has been processed, or for good when one of
     * its members is kept or is the stop node (whose gradient is the result). */
    for (int i = 0; i < n; ++i) group_end[i] = n;
    for (int i = e->seed_node; i >= e->stop_node; --i) {
        if (!e->needs_grad[i]) continue;
        int s = e->gstorage[i];
        if (group_end[s] == -1) continue;
        group_end[s] = (i == e->stop_node || e->grad_kept[i]) ? -1 : i;
    }
    /* Buffers are taken when a storage group is first written (its highest reader runs, or it is
     * the seed) and given back after its lowest member has run. */
    int n_sizes = 0;
    size_t scratch = 0;
    for (int i = e->seed_node; i >= e->stop_node; --i) {
        if (!e->needs_grad[i]) continue;
        if (gm_node_floats(e, i) > scratch) scratch = gm_node_floats(e, i);
        int s = e->gstorage[i];
        if (!assigned[s]) assigned[s] = gm_engine_take_buffer(in_use, gm_node_floats(e, s), sizes, &n_sizes) + 1;
        if (i == e->stop_node) break;
        const gm_node *node = &g->nodes[i];
        for (int k = 0; k < node->n_inputs; ++k) {
            int j = node->inputs[k];
            if (j < e->stop_node || !e->needs_grad[j]) continue;
            int sj = e->gstorage[j];
            if (!assigned[sj]) assigned[sj] = gm_engine_take_buffer(in_use, gm_node_floats(e, sj), sizes, &n_sizes) + 1;
        }
        if (group_end[s] == i) in_use[assigned[s] - 1] = 0;
    }
    for (int i = 0; i < n; ++i) e->gbuffer_of[i] = assigned[i] ? assigned[i] - 1 : 0;
    /* The second half starts on a 256-byte boundary, as device allocations do: cuDNN's tensor-core
     * kernels need 16-byte aligned operands, and vector loads do on every backend. */
    scratch = (scratch + 63) / 64 * 64;
    e->scratch_half = scratch;
    e->n_gbuffers = n_sizes;
    e->gbuffers = calloc((size_t)(n_sizes > 0 ? n_sizes : 1), sizeof *e->gbuffers);
    e->gbuffer_floats = sizes;
    sizes = NULL;
    if (!e->gbuffers) {
        st = gm_error(GM_ERR_NOMEM, "out of memory planning the backward pass");
        goto done;
    }
    for (int b = 0; b < n_sizes && st == GM_OK; ++b)
        st = e->be->ops->alloc(e->be, e->gbuffer_floats[b] * sizeof(float), &e->gbuffers[b]);
    if (st == GM_OK) st = e->be->ops->alloc(e->be, 2 * scratch * sizeof(float), &e->scratch);
done:
    free(in_use);
    free(sizes);
    free(group_end);
    free(assigned);
    return st;
}

void gm_engine_free_backward(gm_engine *e) {
    for (int b = 0; e->gbuffers && b < e->n_gbuffers; ++b)
        if (e->gbuffers[b]) e->be->ops->free(e->be, &e->gbuffers[b]);
    if (e->scratch) e->be->ops->free(e->be, &e->scratch);
    free(e->gbuffers);
    free(e->gbuffer_floats);
    free(e->needs_grad);
    free(e->gstorage);
    free(e->gbuffer_of);
    free(e->grad_kept);
    free(e->grad_written);
}

static gm_tensor gm_grad_tensor(const gm_engine *e, int i) {
    gm_tensor t = gm_engine_value_tensor(e, i);
    t.data = (float *)e->gbuffers[e->gbuffer_of[e->gstorage[i]]];
    return t;
}

/* Where node j's next gradient contribution goes: its own buffer the first time, else scratch. */
static gm_tensor gm_grad_target(gm_engine *e, int j) {
    gm_tensor t = gm_grad_tensor(e, j);
    if (e->grad_written[e->gstorage[j]] && e->gstorage[j] == j) t.data = (float *)e->scratch;
    return t;
}

/* Completes a contribution written by gm_grad_target. */
static gm_status gm_grad_commit(gm_engine *e, int j, const gm_tensor *written) {
    gm_tensor own = gm_grad_tensor(e, j);
    if (written->data != own.data) GM_TRY(e->be->ops->add(e->be, &own, written, &own));
    e->grad_written[j] = 1;
    e->grad_written[e->gstorage[j]] = 1;
    return GM_OK;
}

static gm_status gm_require(const void *fn, const gm_engine *e, const char *op) {
    if (fn) return GM_OK;
    return gm_error(GM_ERR_UNSUPPORTED, "the %s backend has no %s operation", e->be->ops->name, op);
}

/* Gradient through node i's own activation (from its output y) into a temporary buffer. */
static gm_status gm_act_bwd(gm_engine *e, int i, const gm_activation *act, gm_relu_bwd_mode mode, const gm_tensor *dy,
                            gm_tensor *dpre) {
    *dpre = *dy;
    if (act->kind == GM_ACT_LINEAR) return GM_OK;
    GM_TRY(gm_require((const void *)e->be->ops->activation_bwd, e, "activation_bwd"));
    /* The scratch area's second half holds activation gradients; its first half fan-in sums. */
    dpre->data = (float *)e->scratch + e->scratch_half;
    gm_tensor y = gm_engine_value_tensor(e, i);
    e->stats.act_bwd_calls++;
    return e->be->ops->activation_bwd(e->be, act, mode, &y, dy, dpre);
}

static gm_status gm_backward_node(gm_engine *e, int i, gm_relu_bwd_mode mode) {
    const gm_node *node = &e->g->nodes[i];
    const gm_backend_ops *ops = e->be->ops;
    gm_backend *be = e->be;
    gm_tensor dy = gm_grad_tensor(e, i);
    int j = node->n_inputs > 0 ? node->inputs[0] : -1;
    int want = j >= e->stop_node && j >= 0 && e->needs_grad[j];
    if (node->op == GM_OP_ADD) {
        for (int k = 0; k < node->n_inputs; ++k) {
            int in = node->inputs[k];
            if (in < e->stop_node || !e->needs_grad[in]) continue;
            gm_tensor dx = gm_grad_target(e, in);
            GM_TRY(gm_require((const void *)ops->rescale_bwd, e, "rescale_bwd"));
            GM_TRY(ops->rescale_bwd(be, 1.0f, &dy, &dx));
            GM_TRY(gm_grad_commit(e, in, &dx));
        }
        return GM_OK;
    }
    if (!want) return GM_OK;
    if (gm_is_alias_op(node)) {
        if (e->gstorage[j] == e->gstorage[i]) {
            e->grad_written[j] = 1;
            return GM_OK;
        }
        gm_tensor dx = gm_grad_target(e, j);
        gm_tensor src = dy;
        src.h = dx.h, src.w = dx.w, src.c = dx.c; /* Flatten: same memory, other shape */
        GM_TRY(ops->rescale_bwd(be, 1.0f, &src, &dx));
        return gm_grad_commit(e, j, &dx);
    }
    gm_tensor dx = gm_grad_target(e, j);
    gm_tensor x = gm_engine_value_tensor(e, j);
    gm_tensor dpre;
    e->stats.deepest_bwd_node = i;
    switch (node->op) {
    case GM_OP_CONV2D:
        GM_TRY(gm_require((const void *)ops->conv2d_bwd_data, e, "conv2d_bwd_data"));
        GM_TRY(gm_act_bwd(e, i, &node->conv.act, mode, &dy, &dpre));
        e->stats.conv_bwd_calls++;
        GM_TRY(ops->conv2d_bwd_data(be, e->weights[i], &dpre, &dx));
        break;
    case GM_OP_DENSE:
        GM_TRY(gm_require((const void *)ops->dense_bwd_data, e, "dense_bwd_data"));
        GM_TRY(gm_act_bwd(e, i, &node->dense.act, mode, &dy, &dpre));
        e->stats.dense_bwd_calls++;
        GM_TRY(ops->dense_bwd_data(be, e->weights[i], &dpre, &dx));
        break;
    case GM_OP_MAXPOOL:
        e->stats.pool_bwd_calls++;
        GM_TRY(gm_require((const void *)ops->maxpool_bwd, e, "maxpool_bwd"));
        GM_TRY(ops->maxpool_bwd(be, &node->pool, &x, &dy, &dx));
        break;
    case GM_OP_AVGPOOL:
        e->stats.pool_bwd_calls++;
        GM_TRY(gm_require((const void *)ops->avgpool_bwd, e, "avgpool_bwd"));
        GM_TRY(ops->avgpool_bwd(be, &node->pool, &dy, &dx));
        break;
    case GM_OP_GAP:
        e->stats.pool_bwd_calls++;
        GM_TRY(gm_require((const void *)ops->gap_bwd, e, "gap_bwd"));
        GM_TRY(ops->gap_bwd(be, &dy, &dx));
        break;
    case GM_OP_GMP:
        e->stats.pool_bwd_calls++;
        GM_TRY(gm_require((const void *)ops->gmp_bwd, e, "gmp_bwd"));
        GM_TRY(ops->gmp_bwd(be, &x, &dy, &dx));
        break;
    case GM_OP_ACTIVATION: {
        GM_TRY(gm_require((const void *)ops->activation_bwd, e, "activation_bwd"));
        gm_tensor y = gm_engine_value_tensor(e, i);
        e->stats.act_bwd_calls++;
        GM_TRY(ops->activation_bwd(be, &node->act, mode, &y, &dy, &dx));
        break;
    }
    case GM_OP_BATCHNORM:
    case GM_OP_CHANNEL_AFFINE:
        GM_TRY(gm_require((const void *)ops->channel_scale_bwd, e, "channel_scale_bwd"));
        GM_TRY(ops->channel_scale_bwd(be, e->affine_scale[i], &dy, &dx));
        break;
    case GM_OP_RESCALING:
        GM_TRY(gm_require((const void *)ops->rescale_bwd, e, "rescale_bwd"));
        GM_TRY(ops->rescale_bwd(be, node->rescale_scale, &dy, &dx));
        break;
    case GM_OP_ZEROPAD:
        GM_TRY(gm_require((const void *)ops->zero_pad_bwd, e, "zero_pad_bwd"));
        GM_TRY(ops->zero_pad_bwd(be, node->pad_top, node->pad_bottom, node->pad_left, node->pad_right, &dy, &dx));
        break;
    default:
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': no backward for op %s", node->name, gm_op_name(node->op));
    }
    return gm_grad_commit(e, j, &dx);
}

gm_status gm_engine_backward(gm_engine *e, const int *cls, float seed, gm_relu_bwd_mode mode) {
    if (e->seed_node < 0) return gm_error(GM_ERR_INVALID_ARG, "engine was created without a backward pass");
    if (e->batch < 1) return gm_error(GM_ERR_INVALID_ARG, "backward before any forward pass");
    GM_TRY(gm_require((const void *)e->be->ops->one_hot, e, "one_hot"));
    memset(e->grad_written, 0, (size_t)e->g->n_nodes * sizeof *e->grad_written);
    int classes = e->g->nodes[e->seed_node].out.c;
    for (int k = 0; k < e->batch; ++k)
        if (cls[k] < 0 || cls[k] >= classes)
            return gm_error(GM_ERR_INVALID_ARG, "target class %d for image %d is outside 0..%d", cls[k], k, classes - 1);
    gm_tensor seed_grad = gm_grad_tensor(e, e->seed_node);
    GM_TRY(e->be->ops->one_hot(e->be, cls, seed, &seed_grad));
    e->grad_written[e->seed_node] = 1;
    e->stats.backwards++;
    e->stats.deepest_bwd_node = -1;
    double mark = 0.0;
    if (e->profiling) {
        GM_TRY(e->be->ops->sync(e->be));
        mark = gm_engine_now();
    }
    for (int i = e->seed_node; i > e->stop_node; --i) {
        if (!e->needs_grad[i]) continue;
        if (!e->grad_written[e->gstorage[i]]) continue; /* no gradient reaches it (e.g. another output) */
        gm_status st = gm_backward_node(e, i, mode);
        if (st == GM_OK && e->profiling && (st = e->be->ops->sync(e->be)) == GM_OK) {
            double now = gm_engine_now();
            e->times[i].backward_s += now - mark;
            e->times[i].backward_images += e->batch;
            mark = now;
        }
        if (st != GM_OK)
            return gm_error_context(st, "backward through layer '%s' (%s): ", e->g->nodes[i].name,
                                    e->g->nodes[i].class_name);
    }
    return GM_OK;
}

double gm_engine_node_backward_macs(const gm_engine *e, int index) {
    if (e->seed_node < 0 || index <= e->stop_node || index > e->seed_node || !e->needs_grad[index]) return 0.0;
    const gm_node *n = &e->g->nodes[index];
    if (n->op != GM_OP_CONV2D && n->op != GM_OP_DENSE) return 0.0;
    int j = n->inputs[0];
    if (j < e->stop_node || !e->needs_grad[j]) return 0.0; /* gm_backward_node skips it too */
    return gm_node_forward_macs(n);
}

double gm_engine_backward_macs(const gm_engine *e) {
    double macs = 0.0;
    for (int i = e->stop_node + 1; i <= e->seed_node; ++i) macs += gm_engine_node_backward_macs(e, i);
    return macs;
}

gm_status gm_engine_grad(gm_engine *e, int index, gm_tensor *out) {
    if (e->seed_node < 0 || index < 0 || index >= e->g->n_nodes || !e->grad_kept[index])
        return gm_error(GM_ERR_INVALID_ARG, "the gradient of layer index %d was not kept by the engine", index);
    if (!e->grad_written[index])
        return gm_error(GM_ERR_INVALID_ARG, "layer '%s' received no gradient in the last backward pass",
                        e->g->nodes[index].name);
    *out = gm_grad_tensor(e, index);
    return GM_OK;
}

gm_status gm_engine_read_grad(gm_engine *e, int index, float *host_dst) {
    gm_tensor t = {0};
    GM_TRY(gm_engine_grad(e, index, &t));
    return e->be->ops->download(e->be, host_dst, t.data, gm_tensor_count(&t) * sizeof(float));
}
