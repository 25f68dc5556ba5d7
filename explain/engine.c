/* engine.c — forward execution of a gm_graph on a gm_backend (see engine.h).
 *
 * Storage planning: IDENTITY, FLATTEN and linear activations alias their input; element-wise ops
 * (activation, rescaling, channel affine, add) run in place when their input's storage has no
 * later reader and is not kept; every other node gets a buffer from a pool, reused best-fit once
 * the last reader of the value it held has run. All buffers are allocated at creation for
 * `max_batch` images. */
#include "engine.h"
#include "engine_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

size_t gm_engine_node_size(const gm_engine *e, int index) {
    const gm_shape *s = &e->g->nodes[index].out;
    return s->rank == 4 ? (size_t)s->h * s->w * s->c : (size_t)s->c;
}

size_t gm_engine_arena_bytes(const gm_engine *e) {
    size_t total = 0;
    for (int i = 0; i < e->n_buffers; ++i) total += e->buffer_floats[i] * sizeof(float);
    return total;
}

static int gm_is_alias(const gm_node *n) {
    return n->op == GM_OP_IDENTITY || n->op == GM_OP_FLATTEN ||
           (n->op == GM_OP_ACTIVATION && n->act.kind == GM_ACT_LINEAR);
}

static int gm_is_inplace_capable(const gm_node *n) {
    return n->op == GM_OP_ACTIVATION || n->op == GM_OP_RESCALING || n->op == GM_OP_CHANNEL_AFFINE ||
           n->op == GM_OP_BATCHNORM || n->op == GM_OP_ADD;
}

/* Picks (or creates) a free buffer of at least `floats`; best fit keeps big buffers for big values.
 * Shared with the gradient arena's planning (engine_backward.c). */
int gm_engine_take_buffer(int *in_use, size_t floats, size_t *sizes, int *n_sizes) {
    int best = -1;
    for (int b = 0; b < *n_sizes; ++b)
        if (!in_use[b] && sizes[b] >= floats && (best < 0 || sizes[b] < sizes[best])) best = b;
    if (best < 0) {
        /* Grow the largest free buffer rather than adding one, when any is free. */
        for (int b = 0; b < *n_sizes; ++b)
            if (!in_use[b] && (best < 0 || sizes[b] > sizes[best])) best = b;
        if (best < 0) best = (*n_sizes)++;
        sizes[best] = floats;
    }
    in_use[best] = 1;
    return best;
}

static gm_status gm_engine_plan(gm_engine *e) {
    const gm_graph *g = e->g;
    int n = g->n_nodes;
    size_t count = n > 0 ? (size_t)n : 1;
    int *last_use = malloc(count * sizeof *last_use);
    int *in_use = calloc(count, sizeof *in_use);
    size_t *sizes = calloc(count, sizeof *sizes);
    if (!last_use || !in_use || !sizes) {
        free(last_use);
        free(in_use);
        free(sizes);
        return gm_error(GM_ERR_NOMEM, "out of memory planning the engine");
    }
    for (int i = 0; i < n; ++i) {
        e->storage[i] = gm_is_alias(&g->nodes[i]) ? e->storage[g->nodes[i].inputs[0]] : i;
        last_use[i] = -1;
    }
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < g->nodes[i].n_inputs; ++j) {
            int s = e->storage[g->nodes[i].inputs[j]];
            if (last_use[s] < i) last_use[s] = i;
        }
        if (e->kept[i]) last_use[e->storage[i]] = GM_KEPT_FOREVER;
    }
    /* In-place decisions, in order: a node may take over its first input's storage. */
    for (int i = 0; i < n; ++i) {
        const gm_node *node = &g->nodes[i];
        if (e->storage[i] != i || !gm_is_inplace_capable(node) || e->kept[i]) continue;
        int s = e->storage[node->inputs[0]];
        if (last_use[s] != i) continue;
        int other_reader = 0; /* Add reading the same storage twice cannot run in place safely */
        for (int j = 1; j < node->n_inputs; ++j) other_reader |= e->storage[node->inputs[j]] == s;
        if (other_reader) continue;
        e->storage[i] = s;
        last_use[s] = last_use[i] > i ? last_use[i] : i;
        for (int k = i + 1; k < n; ++k)
            if (e->storage[k] == i) e->storage[k] = s;
    }
    /* Recompute last uses on the final storage map, then assign buffers in execution order. */
    for (int i = 0; i < n; ++i) last_use[i] = -1;
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < g->nodes[i].n_inputs; ++j) {
            int s = e->storage[g->nodes[i].inputs[j]];
            if (last_use[s] < i) last_use[s] = i;
        }
        if (last_use[e->storage[i]] < i) last_use[e->storage[i]] = i;
        if (e->kept[i]) last_use[e->storage[i]] = GM_KEPT_FOREVER;
    }
    int n_sizes = 0;
    for (int i = 0; i < n; ++i) {
        if (e->storage[i] == i)
            e->buffer_of[i] = gm_engine_take_buffer(in_use, gm_engine_node_size(e, i) * (size_t)e->max_batch, sizes, &n_sizes);
        for (int s = 0; s <= i; ++s)
            if (e->storage[s] == s && last_use[s] == i) in_use[e->buffer_of[s]] = 0;
    }
    free(last_use);
    free(in_use);
    e->n_buffers = n_sizes;
    e->buffers = calloc((size_t)n_sizes, sizeof *e->buffers);
    e->buffer_floats = sizes;
    if (!e->buffers) return gm_error(GM_ERR_NOMEM, "out of memory planning the engine");
    for (int b = 0; b < n_sizes; ++b)
        GM_TRY(e->be->ops->alloc(e->be, sizes[b] * sizeof(float), &e->buffers[b]));
    return GM_OK;
}

static gm_status gm_upload_affine(gm_engine *e, int i) {
    const gm_node *node = &e->g->nodes[i];
    int c = node->out.c;
    float *scale = malloc((size_t)c * sizeof *scale), *shift = malloc((size_t)c * sizeof *shift);
    gm_status st = (scale && shift) ? GM_OK : gm_error(GM_ERR_NOMEM, "out of memory for '%s'", node->name);
    for (int k = 0; st == GM_OK && k < c; ++k) {
        if (node->op == GM_OP_CHANNEL_AFFINE) {
            scale[k] = node->affine_scale[k];
            shift[k] = node->bias[k];
        } else { /* unfolded BatchNormalization, same formula as bn_fold.c's affine */
            double s = (node->bn_gamma ? node->bn_gamma[k] : 1.0) / sqrt((double)node->bn_var[k] + node->bn_epsilon);
            scale[k] = (float)s;
            shift[k] = (float)((node->bn_beta ? node->bn_beta[k] : 0.0) - node->bn_mean[k] * s);
        }
    }
    gm_backend *be = e->be;
    if (st == GM_OK) st = be->ops->alloc(be, (size_t)c * sizeof(float), (void **)&e->affine_scale[i]);
    if (st == GM_OK) st = be->ops->alloc(be, (size_t)c * sizeof(float), (void **)&e->affine_shift[i]);
    if (st == GM_OK) st = be->ops->upload(be, e->affine_scale[i], scale, (size_t)c * sizeof(float));
    if (st == GM_OK) st = be->ops->upload(be, e->affine_shift[i], shift, (size_t)c * sizeof(float));
    free(scale);
    free(shift);
    return st;
}

static gm_status gm_engine_prepare(gm_engine *e) {
    const gm_graph *g = e->g;
    gm_backend *be = e->be;
    for (int i = 0; i < g->n_nodes; ++i) {
        const gm_node *node = &g->nodes[i];
        gm_status st = GM_OK;
        if (node->op == GM_OP_CONV2D || node->op == GM_OP_DENSE) {
            if (!node->kernel) return gm_error(GM_ERR_INVALID_ARG, "layer '%s' has no weights loaded", node->name);
            if (node->op == GM_OP_CONV2D) {
                if (node->conv.act.kind == GM_ACT_SOFTMAX)
                    return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': softmax fused into a convolution", node->name);
                st = be->ops->conv2d_prepare(be, &node->conv, node->kernel, node->use_bias ? node->bias : NULL,
                                             &e->weights[i]);
            } else {
                if (node->dense.act.kind == GM_ACT_SOFTMAX)
                    return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': softmax inside a hidden Dense layer", node->name);
                st = be->ops->dense_prepare(be, &node->dense, node->kernel, node->use_bias ? node->bias : NULL,
                                            &e->weights[i]);
            }
        } else if (node->op == GM_OP_CHANNEL_AFFINE || node->op == GM_OP_BATCHNORM) {
            if (node->op == GM_OP_BATCHNORM && (!node->bn_mean || !node->bn_var))
                return gm_error(GM_ERR_INVALID_ARG, "layer '%s' has no weights loaded", node->name);
            st = gm_upload_affine(e, i);
        }
        if (st != GM_OK) return gm_error_context(st, "layer '%s': ", node->name);
    }
    return GM_OK;
}

gm_status gm_engine_create(const gm_graph *g, gm_backend *be, int max_batch, const int *keep, int n_keep,
                           gm_engine **out) {
    gm_engine_options opts = {.max_batch = max_batch, .keep = keep, .n_keep = n_keep, .backward_seed = -1,
                              .backward_stop = -1};
    return gm_engine_create_ex(g, be, &opts, out);
}

gm_status gm_engine_create_ex(const gm_graph *g, gm_backend *be, const gm_engine_options *opts, gm_engine **out) {
    *out = NULL;
    int max_batch = opts->max_batch;
    if (max_batch < 1) return gm_error(GM_ERR_INVALID_ARG, "batch size %d (must be >= 1)", max_batch);
    gm_engine *e = calloc(1, sizeof *e);
    if (!e) return gm_error(GM_ERR_NOMEM, "out of memory creating the engine");
    int n = g->n_nodes;
    size_t count = n > 0 ? (size_t)n : 1;
    e->g = g;
    e->be = be;
    e->max_batch = max_batch;
    e->seed_node = -1;
    e->stop_node = -1;
    e->stats.deepest_bwd_node = -1;
    e->weights = calloc(count, sizeof *e->weights);
    e->affine_scale = calloc(count, sizeof *e->affine_scale);
    e->affine_shift = calloc(count, sizeof *e->affine_shift);
    e->storage = calloc(count, sizeof *e->storage);
    e->buffer_of = calloc(count, sizeof *e->buffer_of);
    e->kept = calloc(count, sizeof *e->kept);
    e->times = calloc(count, sizeof *e->times);
    gm_status st = GM_OK;
    if (!e->weights || !e->affine_scale || !e->affine_shift || !e->storage || !e->buffer_of || !e->kept || !e->times)
        st = gm_error(GM_ERR_NOMEM, "out of memory creating the engine");
    if (st == GM_OK) {
        e->kept[g->output_node] = 1;
        e->kept[g->logits_node] = 1;
        for (int k = 0; k < opts->n_keep; ++k) {
            if (opts->keep[k] < 0 || opts->keep[k] >= n) {
                st = gm_error(GM_ERR_INVALID_ARG, "kept layer index %d out of range", opts->keep[k]);
                break;
            }
            e->kept[opts->keep[k]] = 1;
        }
    }
    if (st == GM_OK && opts->backward_seed >= 0) {
        if (opts->backward_seed >= n || opts->backward_stop < 0 || opts->backward_stop > opts->backward_seed)
            st = gm_error(GM_ERR_INVALID_ARG, "backward from node %d down to node %d is not a valid range",
                          opts->backward_seed, opts->backward_stop);
        else gm_engine_mark_backward_needs(g, opts->backward_seed, opts->backward_stop, e->kept);
    }
    if (st == GM_OK) st = gm_engine_prepare(e);
    if (st == GM_OK) st = gm_engine_plan(e);
    if (st == GM_OK && opts->backward_seed >= 0) st = gm_engine_plan_backward(e, opts);
    if (st != GM_OK) {
        gm_engine_free(&e);
        return st;
    }
    *out = e;
    return GM_OK;
}

void gm_engine_free(gm_engine **pe) {
    if (!pe || !*pe) return;
    gm_engine *e = *pe;
    gm_backend *be = e->be;
    for (int i = 0; e->g && i < e->g->n_nodes; ++i) {
        if (e->weights && e->weights[i]) be->ops->weights_free(be, &e->weights[i]);
        if (e->affine_scale && e->affine_scale[i]) be->ops->free(be, (void **)&e->affine_scale[i]);
        if (e->affine_shift && e->affine_shift[i]) be->ops->free(be, (void **)&e->affine_shift[i]);
    }
    for (int b = 0; e->buffers && b < e->n_buffers; ++b)
        if (e->buffers[b]) be->ops->free(be, &e->buffers[b]);
    free(e->weights);
    free(e->affine_scale);
    free(e->affine_shift);
    free(e->storage);
    free(e->buffer_of);
    free(e->kept);
    free(e->times);
    free(e->buffers);
    free(e->buffer_floats);
    gm_engine_free_backward(e);
    free(e);
    *pe = NULL;
}

gm_tensor gm_engine_value_tensor(const gm_engine *e, int i) {
    const gm_shape *s = &e->g->nodes[i].out;
    gm_tensor t;
    t.data = (float *)e->buffers[e->buffer_of[e->storage[i]]];
    t.n = e->batch;
    t.h = s->rank == 4 ? s->h : 1;
    t.w = s->rank == 4 ? s->w : 1;
    t.c = s->c;
    return t;
}

static gm_status gm_run_node(gm_engine *e, int i, const float *host_input) {
    const gm_node *node = &e->g->nodes[i];
    gm_backend *be = e->be;
    const gm_backend_ops *ops = be->ops;
    gm_tensor y = gm_engine_value_tensor(e, i);
    gm_tensor x = node->n_inputs > 0 ? gm_engine_value_tensor(e, node->inputs[0]) : y;
    switch (node->op) {
    case GM_OP_INPUT:
        return ops->upload(be, y.data, host_input, gm_tensor_count(&y) * sizeof(float));
    case GM_OP_CONV2D: return ops->conv2d_fwd(be, e->weights[i], &x, &y);
    case GM_OP_DENSE: return ops->dense_fwd(be, e->weights[i], &x, &y);
    case GM_OP_MAXPOOL: return ops->maxpool_fwd(be, &node->pool, &x, &y);
    case GM_OP_AVGPOOL: return ops->avgpool_fwd(be, &node->pool, &x, &y);
    case GM_OP_GAP: return ops->gap_fwd(be, &x, &y);
    case GM_OP_GMP: return ops->gmp_fwd(be, &x, &y);
    case GM_OP_BATCHNORM:
    case GM_OP_CHANNEL_AFFINE: return ops->channel_affine_fwd(be, e->affine_scale[i], e->affine_shift[i], &x, &y);
    case GM_OP_ACTIVATION: return ops->activation_fwd(be, &node->act, &x, &y);
    case GM_OP_RESCALING: return ops->rescale_fwd(be, node->rescale_scale, node->rescale_offset, &x, &y);
    case GM_OP_ZEROPAD:
        return ops->zero_pad_fwd(be, node->pad_top, node->pad_bottom, node->pad_left, node->pad_right, &x, &y);
    case GM_OP_ADD: {
        gm_tensor b = gm_engine_value_tensor(e, node->inputs[1]);
        GM_TRY(ops->add(be, &x, &b, &y));
        for (int j = 2; j < node->n_inputs; ++j) {
            b = gm_engine_value_tensor(e, node->inputs[j]);
            GM_TRY(ops->add(be, &y, &b, &y));
        }
        return GM_OK;
    }
    case GM_OP_IDENTITY:
    case GM_OP_FLATTEN: return GM_OK;
    }
    return gm_error(GM_ERR_UNSUPPORTED, "layer '%s': op %s cannot run", node->name, gm_op_name(node->op));
}

gm_status gm_engine_forward(gm_engine *e, const float *host_input, int n) {
    if (n < 1 || n > e->max_batch)
        return gm_error(GM_ERR_INVALID_ARG, "batch of %d images for an engine planned for 1..%d", n, e->max_batch);
    e->batch = n;
    e->stats.forwards++;
    double mark = 0.0;
    if (e->profiling) {
        GM_TRY(e->be->ops->sync(e->be));
        mark = gm_engine_now();
    }
    for (int i = 0; i < e->g->n_nodes; ++i) {
        if (e->g->nodes[i].op == GM_OP_ACTIVATION && e->g->nodes[i].act.kind == GM_ACT_LINEAR) continue;
        gm_status st = gm_run_node(e, i, host_input);
        if (st == GM_OK && e->profiling && (st = e->be->ops->sync(e->be)) == GM_OK) {
            double now = gm_engine_now();
            e->times[i].forward_s += now - mark;
            e->times[i].forward_images += n;
            mark = now;
        }
        if (st != GM_OK)
            return gm_error_context(st, "layer '%s' (%s): ", e->g->nodes[i].name, e->g->nodes[i].class_name);
    }
    return e->be->ops->sync(e->be);
}

double gm_engine_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void gm_engine_set_profile(gm_engine *e, int on) {
    e->profiling = on != 0;
    memset(e->times, 0, (size_t)(e->g->n_nodes > 0 ? e->g->n_nodes : 1) * sizeof *e->times);
}

const gm_engine_node_time *gm_engine_profile(const gm_engine *e) { return e->times; }

gm_status gm_engine_read(gm_engine *e, int index, float *host_dst) {
    if (e->batch < 1) return gm_error(GM_ERR_INVALID_ARG, "no forward pass has run");
    gm_tensor t = {0};
    GM_TRY(gm_engine_value(e, index, &t));
    return e->be->ops->download(e->be, host_dst, t.data, gm_tensor_count(&t) * sizeof(float));
}

gm_status gm_engine_value(gm_engine *e, int index, gm_tensor *out) {
    if (index < 0 || index >= e->g->n_nodes || !e->kept[index])
        return gm_error(GM_ERR_INVALID_ARG, "layer index %d was not kept by the engine", index);
    if (e->g->nodes[index].fused_into >= 0)
        return gm_error(GM_ERR_UNSUPPORTED, "layer '%s' was fused into '%s' and has no output of its own",
                        e->g->nodes[index].name, e->g->nodes[e->g->nodes[index].fused_into].name);
    *out = gm_engine_value_tensor(e, index);
    return GM_OK;
}

const gm_engine_stats *gm_engine_get_stats(const gm_engine *e) { return &e->stats; }
int gm_engine_batch(const gm_engine *e) { return e->batch; }
gm_backend *gm_engine_backend(const gm_engine *e) { return e->be; }
