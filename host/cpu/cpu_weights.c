/* cpu_weights.c — prepared conv/dense weights of the CPU backend: the Keras-layout kernel copied
 * at prepare time, the per-input-shape primitive cache (least-recently-used replacement), the
 * weights reordered once into each blocked format a cached primitive asks for, execution, and
 * the activation-to-post-op mapping. See cpu_internal.h for the layouts.
 *
 * Why formats are tracked separately from primitives: oneDNN chooses the weights format when the
 * primitive is created, and that choice may in principle depend on the batch size. Primitives are
 * keyed by input shape; weights are keyed by their memory descriptor, so all batch sizes that
 * agree on a format (the normal case) share one reordered copy. */
#include "cpu_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

gm_status gm_cpu_act_attr(const gm_activation *a, dnnl_primitive_attr_t *attr, int *in_loop) {
    *attr = NULL;
    *in_loop = 0;
    dnnl_post_ops_t po = NULL;
    gm_status st = GM_OK;
    GM_DNNL_TRY(dnnl_primitive_attr_create(attr));
    GM_DNNL_GOTO(dnnl_post_ops_create(&po), st, fail);
    switch (a->kind) {
    case GM_ACT_LINEAR:
        break;
    case GM_ACT_RELU:
        /* oneDNN's relu is x > 0 ? x : alpha*x and clip is min(max(x, lo), hi): together they
         * express Keras's ReLU exactly when the threshold is 0 and the slope and cap are
         * non-negative (the Keras layer's own constraints). Anything else runs in a loop. */
        if (a->threshold == 0.0f && a->negative_slope >= 0.0f && a->max_value >= 0.0f) {
            if (isinf(a->max_value)) {
                GM_DNNL_GOTO(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, a->negative_slope, 0.0f), st,
                             fail);
            } else if (a->negative_slope == 0.0f) {
                GM_DNNL_GOTO(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip, 0.0f, a->max_value), st, fail);
            } else {
                GM_DNNL_GOTO(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, a->negative_slope, 0.0f), st,
                             fail);
                GM_DNNL_GOTO(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_clip, -FLT_MAX, a->max_value), st,
                             fail);
            }
        } else {
            *in_loop = 1;
        }
        break;
    case GM_ACT_SIGMOID:
        GM_DNNL_GOTO(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_logistic, 0.0f, 0.0f), st, fail);
        break;
    case GM_ACT_TANH:
        GM_DNNL_GOTO(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_tanh, 0.0f, 0.0f), st, fail);
        break;
    case GM_ACT_SOFTMAX:
        /* A row-wise reduction is not a post-op; the graph normally splits it off anyway. */
        *in_loop = 1;
        break;
    default:
        st = gm_error(GM_ERR_UNSUPPORTED, "cpu: activation kind %d is not supported", (int)a->kind);
        goto fail;
    }
    GM_DNNL_GOTO(dnnl_primitive_attr_set_post_ops(*attr, po), st, fail);
    dnnl_post_ops_destroy(po);
    return GM_OK;
fail:
    if (po) dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(*attr);
    *attr = NULL;
    return st;
}

static void gm_cpu_entry_clear(gm_cpu_prim_entry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->src) dnnl_memory_destroy(e->src);
    if (e->dst) dnnl_memory_destroy(e->dst);
    if (e->in_reorder) dnnl_primitive_destroy(e->in_reorder);
    if (e->out_reorder) dnnl_primitive_destroy(e->out_reorder);
    if (e->in_user) dnnl_memory_destroy(e->in_user);
    if (e->out_user) dnnl_memory_destroy(e->out_user);
    if (e->scratchpad) dnnl_memory_destroy(e->scratchpad);
    memset(e, 0, sizeof *e);
    e->format = -1;
}

static gm_status gm_cpu_memory_with_copy(gm_cpu_backend *cb, const dnnl_memory_desc_t *md, const float *src,
                                         dnnl_memory_t *out) {
    void *handle = NULL;
    GM_DNNL_TRY(dnnl_memory_create(out, md, cb->engine, DNNL_MEMORY_ALLOCATE));
    dnnl_status_t s = dnnl_memory_get_data_handle(*out, &handle);
    if (s != dnnl_success || !handle) {
        dnnl_memory_destroy(*out);
        *out = NULL;
        return gm_cpu_dnnl_error(s, "dnnl_memory_get_data_handle", __FILE__, __LINE__);
    }
    memcpy(handle, src, dnnl_memory_desc_get_size(md));
    return GM_OK;
}

gm_status gm_cpu_weights_new(gm_cpu_backend *cb, gm_cpu_layer_kind kind, const dnnl_memory_desc_t *keras_md,
                             const float *kernel, int bias_len, const float *bias, gm_layer_weights **out) {
    gm_layer_weights *w = calloc(1, sizeof *w);
    if (!w) return gm_error(GM_ERR_NOMEM, "cpu prepare: cannot allocate the layer weights");
    w->kind = kind;
    for (int i = 0; i < GM_CPU_PRIM_SLOTS; ++i) w->entries[i].format = -1;
    gm_status st = gm_cpu_memory_with_copy(cb, keras_md, kernel, &w->keras_weights);
    if (st == GM_OK && bias) {
        dnnl_memory_desc_t bias_md;
        dnnl_dims_t dims = {bias_len};
        dnnl_status_t s = dnnl_memory_desc_init_by_tag(&bias_md, 1, dims, dnnl_f32, dnnl_x);
        st = s == dnnl_success ? gm_cpu_memory_with_copy(cb, &bias_md, bias, &w->bias)
                               : gm_cpu_dnnl_error(s, "dnnl_memory_desc_init_by_tag(bias)", __FILE__, __LINE__);
    }
    if (st != GM_OK) {
        gm_cpu_weights_free(&cb->base, &w);
        return st;
    }
    *out = w;
    return GM_OK;
}

void gm_cpu_weights_free(gm_backend *be, gm_layer_weights **wp) {
    (void)be;
    if (!wp || !*wp) return;
    gm_layer_weights *w = *wp;
    for (int i = 0; i < GM_CPU_PRIM_SLOTS; ++i) {
        gm_cpu_entry_clear(&w->entries[i]);
        if (w->formats[i]) dnnl_memory_destroy(w->formats[i]);
    }
    if (w->keras_weights) dnnl_memory_destroy(w->keras_weights);
    if (w->bias) dnnl_memory_destroy(w->bias);
    free(w);
    *wp = NULL;
}

static const dnnl_memory_desc_t *gm_cpu_memory_md(const_dnnl_memory_t m) {
    const dnnl_memory_desc_t *md = NULL;
    return dnnl_memory_get_memory_desc(m, &md) == dnnl_success ? md : NULL;
}

/* True when oneDNN chose a reference implementation: correct but an order of magnitude slower
 * than its JIT kernels, so worth a second weights format to avoid. */
static int gm_cpu_pd_is_reference(const_dnnl_primitive_desc_t pd) {
    const char *info = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, (void *)&info) != dnnl_success || !info) return 1;
    return strncmp(info, "ref", 3) == 0;
}

/* Copies `from` into a new memory of descriptor `md` with a oneDNN reorder. */
static gm_status gm_cpu_reorder_new(gm_cpu_backend *cb, dnnl_memory_t from, const dnnl_memory_desc_t *md,
                                    dnnl_memory_t *out) {
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    gm_status st = GM_OK;
    *out = NULL;
    GM_DNNL_GOTO(dnnl_memory_create(out, md, cb->engine, DNNL_MEMORY_ALLOCATE), st, done);
    GM_DNNL_GOTO(dnnl_reorder_primitive_desc_create(&rpd, gm_cpu_memory_md(from), cb->engine, md, cb->engine, NULL),
                 st, done);
    GM_DNNL_GOTO(dnnl_primitive_create(&r, rpd), st, done);
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, *out}};
    GM_DNNL_GOTO(dnnl_primitive_execute(r, cb->stream, 2, args), st, done);
    GM_DNNL_GOTO(dnnl_stream_wait(cb->stream), st, done);
done:
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (st != GM_OK && *out) {
        dnnl_memory_destroy(*out);
        *out = NULL;
    }
    return st;
}

/* Index of a format holding weights in descriptor `md`, reordering into a new slot if none
 * does. The entry being (re)built must already be cleared, so at most SLOTS-1 formats are in
 * use and a slot is always available. */
static gm_status gm_cpu_weights_format(gm_cpu_backend *cb, gm_layer_weights *w, const dnnl_memory_desc_t *md,
                                       int *index) {
    int in_use[GM_CPU_PRIM_SLOTS] = {0};
    for (int i = 0; i < GM_CPU_PRIM_SLOTS; ++i)
        if (w->entries[i].prim && w->entries[i].format >= 0) in_use[w->entries[i].format] = 1;
    int slot = -1;
    for (int f = 0; f < GM_CPU_PRIM_SLOTS; ++f) {
        const dnnl_memory_desc_t *have = w->formats[f] ? gm_cpu_memory_md(w->formats[f]) : NULL;
        if (have && dnnl_memory_desc_equal(have, md)) {
            *index = f;
            return GM_OK;
        }
        if (slot < 0 && !in_use[f]) slot = f;
    }
    if (slot < 0) return gm_error(GM_ERR_BACKEND, "cpu weights: no free weights-format slot (internal error)");
    dnnl_memory_t from = w->keras_weights;
    for (int f = 0; !from && f < GM_CPU_PRIM_SLOTS; ++f) from = w->formats[f];
    if (!from) return gm_error(GM_ERR_BACKEND, "cpu weights: no copy of the weights left (internal error)");
    dnnl_memory_t fresh = NULL;
    GM_TRY(gm_cpu_reorder_new(cb, from, md, &fresh));
    if (w->formats[slot]) dnnl_memory_destroy(w->formats[slot]);
    w->formats[slot] = fresh;
    w->reorders_done++;
    if (w->keras_weights) {
        dnnl_memory_destroy(w->keras_weights);
        w->keras_weights = NULL;
    }
    *index = slot;
    return GM_OK;
}

/* The caller's view of a primitive operand: plain f32 NHWC (4-D) or NC (2-D), same dims. */
static gm_status gm_cpu_user_md(const dnnl_memory_desc_t *md, dnnl_memory_desc_t *user) {
    if (md->ndims != 4 && md->ndims != 2)
        return gm_error(GM_ERR_BACKEND, "cpu weights: operand of rank %d (internal error)", md->ndims);
    const dnnl_format_tag_t plain = md->ndims == 4 ? dnnl_nhwc : dnnl_nc;
    GM_DNNL_TRY(dnnl_memory_desc_init_by_tag(user, md->ndims, md->dims, dnnl_f32, plain));
    return GM_OK;
}

/* When the primitive's operand `md` differs from the caller's plain f32 tensor: a memory for the
 * caller's tensor and a reorder between the two (to_primitive: caller -> md, else md -> caller). */
static gm_status gm_cpu_edge_reorder(gm_cpu_backend *cb, const dnnl_memory_desc_t *md, int to_primitive,
                                     dnnl_memory_t *user, dnnl_primitive_t *reorder) {
    dnnl_memory_desc_t plain;
    GM_TRY(gm_cpu_user_md(md, &plain));
    if (dnnl_memory_desc_equal(&plain, md)) return GM_OK;
    dnnl_primitive_desc_t rpd = NULL;
    gm_status st = GM_OK;
    GM_DNNL_GOTO(dnnl_memory_create(user, &plain, cb->engine, DNNL_MEMORY_NONE), st, done);
    GM_DNNL_GOTO(dnnl_reorder_primitive_desc_create(&rpd, to_primitive ? &plain : md, cb->engine,
                                                    to_primitive ? md : &plain, cb->engine, NULL),
                 st, done);
    GM_DNNL_GOTO(dnnl_primitive_create(reorder, rpd), st, done);
done:
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return st;
}

/* Backward-data entries share the layer's slots, keyed with n = -batch so that the forward lookup
 * (positive batch sizes) never returns one; they share the LRU clock, the weights `formats` (the
 * in-use accounting below protects a format under any cached primitive) and gm_cpu_weights_free.
 * A backward entry's `src` memory is dy (diff_dst) and its `dst` memory dx (diff_src). */
gm_status gm_cpu_weights_primitive(gm_cpu_backend *cb, gm_layer_weights *w, gm_cpu_pass pass, int n, int h, int wd,
                                   gm_cpu_pd_builder build, gm_cpu_prim_entry **out) {
    const int key = pass == GM_CPU_BACKWARD_DATA ? -n : n;
    gm_cpu_prim_entry *slot = NULL;
    for (int i = 0; i < GM_CPU_PRIM_SLOTS; ++i) {
        gm_cpu_prim_entry *e = &w->entries[i];
        if (e->prim && e->n == key && e->h == h && e->w == wd) {
            e->last_use = ++w->clock;
            *out = e;
            return GM_OK;
        }
        if (!slot || (slot->prim && (!e->prim || e->last_use < slot->last_use))) slot = e;
    }
    gm_cpu_entry_clear(slot);

    /* oneDNN's preferred weights format can change with the batch size (brgconv picks 64-wide
     * output-channel blocks for N=1, 32-wide for N=3), which would mean one more copy of the
     * weights. So first ask for a primitive on a format already held, and accept it unless
     * oneDNN can only serve it with a reference (non-JIT) implementation. */
    dnnl_primitive_desc_t pd = NULL;
    for (int f = 0; f < GM_CPU_PRIM_SLOTS && !pd; ++f) {
        const dnnl_memory_desc_t *held = w->formats[f] ? gm_cpu_memory_md(w->formats[f]) : NULL;
        /* Opaque formats (Winograd's pre-transformed kind) are only ever valid for the primitive
         * that asked for them: an equal request finds them in gm_cpu_weights_format. */
        if (!held || held->format_kind != dnnl_blocked) continue;
        if (build(cb, w, n, h, wd, held, &pd) != GM_OK) {
            pd = NULL;
        } else if (gm_cpu_pd_is_reference(pd)) {
            dnnl_primitive_desc_destroy(pd);
            pd = NULL;
        }
        gm_clear_error();
    }
    if (!pd) GM_TRY(build(cb, w, n, h, wd, NULL, &pd));
    gm_status st = GM_OK;
    const int bwd = pass == GM_CPU_BACKWARD_DATA;
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, bwd ? dnnl_query_diff_dst_md : dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dmd = dnnl_primitive_desc_query_md(pd, bwd ? dnnl_query_diff_src_md : dnnl_query_dst_md, 0);
    if (!wmd || !smd || !dmd) {
        st = gm_error(GM_ERR_BACKEND, "cpu weights: primitive descriptor has no %s/weights/%s descriptor",
                      bwd ? "diff_dst" : "src", bwd ? "diff_src" : "dst");
        goto fail;
    }
    st = gm_cpu_weights_format(cb, w, wmd, &slot->format);
    if (st != GM_OK) goto fail;
    GM_DNNL_GOTO(dnnl_memory_create(&slot->src, smd, cb->engine, DNNL_MEMORY_NONE), st, fail);
    GM_DNNL_GOTO(dnnl_memory_create(&slot->dst, dmd, cb->engine, DNNL_MEMORY_NONE), st, fail);
    const dnnl_memory_desc_t *pad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    if (pad && dnnl_memory_desc_get_size(pad) > 0)
        GM_DNNL_GOTO(dnnl_memory_create(&slot->scratchpad, pad, cb->engine, DNNL_MEMORY_NONE), st, fail);
    st = gm_cpu_edge_reorder(cb, smd, 1, &slot->in_user, &slot->in_reorder);
    if (st == GM_OK) st = gm_cpu_edge_reorder(cb, dmd, 0, &slot->out_user, &slot->out_reorder);
    if (st != GM_OK) goto fail;
    GM_DNNL_GOTO(dnnl_primitive_create(&slot->prim, pd), st, fail);
    dnnl_primitive_desc_destroy(pd);
    slot->n = key;
    slot->h = h;
    slot->w = wd;
    slot->last_use = ++w->clock;
    w->primitives_created++;
    *out = slot;
    return GM_OK;
fail:
    dnnl_primitive_desc_destroy(pd);
    gm_cpu_entry_clear(slot);
    return st;
}

/* Runs the entry's primitive from `in` to `out` (caller's plain f32 tensors), going through the
 * scratch buffers and the entry's reorders when the primitive's operands differ from them.
 * in_arg / out_arg name the operands (SRC/DST forward, DIFF_DST/DIFF_SRC backward). */
static gm_status gm_cpu_entry_run(gm_cpu_backend *cb, gm_layer_weights *w, gm_cpu_prim_entry *e, int in_arg,
                                  const float *in, int out_arg, float *out) {
    /* oneDNN only reads the input; its API has no const handles. */
    void *in_handle = (void *)(uintptr_t)in, *out_handle = out;
    if (e->in_reorder) {
        GM_TRY(gm_cpu_scratch(cb, 0, dnnl_memory_desc_get_size(gm_cpu_memory_md(e->src)), &in_handle));
        GM_DNNL_TRY(dnnl_memory_set_data_handle(e->in_user, (void *)(uintptr_t)in));
        GM_DNNL_TRY(dnnl_memory_set_data_handle(e->src, in_handle));
        dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, e->in_user}, {DNNL_ARG_TO, e->src}};
        GM_DNNL_TRY(dnnl_primitive_execute(e->in_reorder, cb->stream, 2, args));
    } else {
        GM_DNNL_TRY(dnnl_memory_set_data_handle(e->src, in_handle));
    }
    if (e->out_reorder)
        GM_TRY(gm_cpu_scratch(cb, 1, dnnl_memory_desc_get_size(gm_cpu_memory_md(e->dst)), &out_handle));
    GM_DNNL_TRY(dnnl_memory_set_data_handle(e->dst, out_handle));
    dnnl_exec_arg_t args[5] = {
        {in_arg, e->src},
        {DNNL_ARG_WEIGHTS, w->formats[e->format]},
        {out_arg, e->dst},
    };
    int n_args = 3;
    if (out_arg == DNNL_ARG_DST && w->bias) args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, w->bias};
    if (e->scratchpad) {
        void *pad = NULL;
        GM_TRY(gm_cpu_scratch(cb, GM_CPU_SCRATCHPAD, dnnl_memory_desc_get_size(gm_cpu_memory_md(e->scratchpad)), &pad));
        GM_DNNL_TRY(dnnl_memory_set_data_handle(e->scratchpad, pad));
        args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->scratchpad};
    }
    GM_DNNL_TRY(dnnl_primitive_execute(e->prim, cb->stream, n_args, args));
    if (e->out_reorder) {
        GM_DNNL_TRY(dnnl_memory_set_data_handle(e->out_user, out));
        dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, e->dst}, {DNNL_ARG_TO, e->out_user}};
        GM_DNNL_TRY(dnnl_primitive_execute(e->out_reorder, cb->stream, 2, rargs));
    }
    /* The OpenMP runtime executes synchronously, but callers (and the activation loop) must see
     * finished data whatever the runtime. */
    GM_DNNL_TRY(dnnl_stream_wait(cb->stream));
    return GM_OK;
}

gm_status gm_cpu_weights_execute(gm_cpu_backend *cb, gm_layer_weights *w, gm_cpu_prim_entry *e, const float *x,
                                 float *y, size_t rows, int cols) {
    GM_TRY(gm_cpu_entry_run(cb, w, e, DNNL_ARG_SRC, x, DNNL_ARG_DST, y));
    if (w->act_in_loop) gm_cpu_act_apply(&w->act, y, rows, cols);
    return GM_OK;
}

const char *gm_cpu_weights_impl_info(const gm_layer_weights *w, int n, int h, int wd) {
    if (!w) return NULL;
    for (int i = 0; i < GM_CPU_PRIM_SLOTS; ++i) {
        const gm_cpu_prim_entry *e = &w->entries[i];
        if (!e->prim || e->n != n || e->h != h || e->w != wd) continue;
        const_dnnl_primitive_desc_t pd = NULL;
        const char *info = NULL;
        if (dnnl_primitive_get_primitive_desc(e->prim, &pd) != dnnl_success) return NULL;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, (void *)&info) != dnnl_success) return NULL;
        return info;
    }
    return NULL;
}

void gm_cpu_weights_stats(const gm_layer_weights *w, int *cached, long *created, long *reorders) {
    int count = 0;
    for (int i = 0; i < GM_CPU_PRIM_SLOTS; ++i) count += w->entries[i].prim != NULL;
    if (cached) *cached = count;
    if (created) *created = w->primitives_created;
    if (reorders) *reorders = w->reorders_done;
}

gm_status gm_cpu_weights_bwd_execute(gm_cpu_backend *cb, gm_layer_weights *w, gm_cpu_prim_entry *e, const float *dy,
                                     float *dx) {
    return gm_cpu_entry_run(cb, w, e, DNNL_ARG_DIFF_DST, dy, DNNL_ARG_DIFF_SRC, dx);
}
