/* cpu_weights_bwd.c — the backward-data primitive cache of prepared conv/dense layers on the CPU
 * backend (oneDNN convolution_backward_data, inner_product_backward_data), used by
 * cpu_conv_bwd.c and cpu_dense_bwd.c. No weight gradient is ever computed.
 *
 * Storage: backward entries live in the layer's own `entries` slots, keyed with n = -batch, so
 *  - the forward lookup of cpu_weights.c (which matches the positive batch size) never returns
 *    one, while forward and backward share the least-recently-used replacement and the clock;
 *  - their weights sit in the same `formats` slots, and cpu_weights.c's format recycling already
 *    counts every entry that references a slot as "in use", so a backward format is never freed
 *    under a cached backward primitive;
 *  - gm_cpu_weights_free releases them with everything else.
 * An entry's `src` memory is the backward input diff_dst (dy) and its `dst` memory the output
 * diff_src (dx), both plain NHWC / NC, handles set per call.
 *
 * Weights format: a backward primitive is first requested on a format already held (normally the
 * forward's) and accepted unless oneDNN can only serve it with a reference implementation; only
 * then does oneDNN choose (`any`) and the weights are reordered once into that new format, which
 * later batch sizes share. So steady state holds one or two copies of the weights, never one per
 * call. */
#include "cpu_internal.h"

#include <stdint.h>
#include <string.h>

static void gm_cpu_bwd_entry_clear(gm_cpu_prim_entry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->src) dnnl_memory_destroy(e->src);
    if (e->dst) dnnl_memory_destroy(e->dst);
    memset(e, 0, sizeof *e);
    e->format = -1;
}

static const dnnl_memory_desc_t *gm_cpu_bwd_memory_md(const_dnnl_memory_t m) {
    const dnnl_memory_desc_t *md = NULL;
    return dnnl_memory_get_memory_desc(m, &md) == dnnl_success ? md : NULL;
}

/* True when oneDNN chose a reference (non-JIT) implementation: correct but much slower. */
static int gm_cpu_bwd_pd_is_reference(const_dnnl_primitive_desc_t pd) {
    const char *info = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, (void *)&info) != dnnl_success || !info) return 1;
    return strncmp(info, "ref", 3) == 0;
}

/* Copies `from` into a new memory of descriptor `md` with a oneDNN reorder. */
static gm_status gm_cpu_bwd_reorder_new(gm_cpu_backend *cb, dnnl_memory_t from, const dnnl_memory_desc_t *md,
                                        dnnl_memory_t *out) {
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    gm_status st = GM_OK;
    *out = NULL;
    GM_DNNL_GOTO(dnnl_memory_create(out, md, cb->engine, DNNL_MEMORY_ALLOCATE), st, done);
    GM_DNNL_GOTO(
        dnnl_reorder_primitive_desc_create(&rpd, gm_cpu_bwd_memory_md(from), cb->engine, md, cb->engine, NULL), st,
        done);
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

/* Index of a `formats` slot holding the weights in descriptor `md`, reordering into a slot that
 * no cached primitive references when none does. The entry being built is already cleared, so
 * at most SLOTS-1 slots are referenced and one is always free. Same policy as the forward's
 * (cpu_weights.c): once a blocked copy exists the Keras-layout copy is dropped. */
static gm_status gm_cpu_bwd_weights_format(gm_cpu_backend *cb, gm_layer_weights *w, const dnnl_memory_desc_t *md,
                                           int *index) {
    int in_use[GM_CPU_PRIM_SLOTS] = {0};
    for (int i = 0; i < GM_CPU_PRIM_SLOTS; ++i)
        if (w->entries[i].prim && w->entries[i].format >= 0) in_use[w->entries[i].format] = 1;
    int slot = -1;
    for (int f = 0; f < GM_CPU_PRIM_SLOTS; ++f) {
        const dnnl_memory_desc_t *have = w->formats[f] ? gm_cpu_bwd_memory_md(w->formats[f]) : NULL;
        if (have && dnnl_memory_desc_equal(have, md)) {
            *index = f;
            return GM_OK;
        }
        if (slot < 0 && !in_use[f]) slot = f;
    }
    if (slot < 0) return gm_error(GM_ERR_BACKEND, "cpu weights bwd: no free weights-format slot (internal error)");
    dnnl_memory_t from = w->keras_weights;
    for (int f = 0; !from && f < GM_CPU_PRIM_SLOTS; ++f) from = w->formats[f];
    if (!from) return gm_error(GM_ERR_BACKEND, "cpu weights bwd: no copy of the weights left (internal error)");
    dnnl_memory_t fresh = NULL;
    GM_TRY(gm_cpu_bwd_reorder_new(cb, from, md, &fresh));
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

gm_status gm_cpu_weights_bwd_primitive(gm_cpu_backend *cb, gm_layer_weights *w, int n, int h, int wd,
                                       gm_cpu_pd_builder build, gm_cpu_prim_entry **out) {
    const int key = -n;
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
    gm_cpu_bwd_entry_clear(slot);

    dnnl_primitive_desc_t pd = NULL;
    for (int f = 0; f < GM_CPU_PRIM_SLOTS && !pd; ++f) {
        const dnnl_memory_desc_t *held = w->formats[f] ? gm_cpu_bwd_memory_md(w->formats[f]) : NULL;
        if (!held) continue;
        if (build(cb, w, n, h, wd, held, &pd) != GM_OK) {
            pd = NULL;
        } else if (gm_cpu_bwd_pd_is_reference(pd)) {
            dnnl_primitive_desc_destroy(pd);
            pd = NULL;
        }
        gm_clear_error();
    }
    if (!pd) GM_TRY(build(cb, w, n, h, wd, NULL, &pd));
    gm_status st = GM_OK;
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dy_md = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_dst_md, 0);
    const dnnl_memory_desc_t *dx_md = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_src_md, 0);
    if (!wmd || !dy_md || !dx_md) {
        st = gm_error(GM_ERR_BACKEND, "cpu weights bwd: primitive descriptor has no weights/diff_dst/diff_src");
        goto fail;
    }
    st = gm_cpu_bwd_weights_format(cb, w, wmd, &slot->format);
    if (st != GM_OK) goto fail;
    GM_DNNL_GOTO(dnnl_memory_create(&slot->src, dy_md, cb->engine, DNNL_MEMORY_NONE), st, fail);
    GM_DNNL_GOTO(dnnl_memory_create(&slot->dst, dx_md, cb->engine, DNNL_MEMORY_NONE), st, fail);
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
    gm_cpu_bwd_entry_clear(slot);
    return st;
}

gm_status gm_cpu_weights_bwd_execute(gm_cpu_backend *cb, gm_layer_weights *w, gm_cpu_prim_entry *e, const float *dy,
                                     float *dx) {
    /* oneDNN only reads DNNL_ARG_DIFF_DST; its API has no const handles. */
    GM_DNNL_TRY(dnnl_memory_set_data_handle(e->src, (void *)(uintptr_t)dy));
    GM_DNNL_TRY(dnnl_memory_set_data_handle(e->dst, dx));
    dnnl_exec_arg_t args[3] = {
        {DNNL_ARG_DIFF_DST, e->src},
        {DNNL_ARG_WEIGHTS, w->formats[e->format]},
        {DNNL_ARG_DIFF_SRC, e->dst},
    };
    GM_DNNL_TRY(dnnl_primitive_execute(e->prim, cb->stream, 3, args));
    /* Callers read dx on return, whatever the runtime's execution model. */
    GM_DNNL_TRY(dnnl_stream_wait(cb->stream));
    return GM_OK;
}
