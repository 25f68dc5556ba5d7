/* cpu_pool.c — MaxPooling2D / AveragePooling2D forward on the CPU backend with oneDNN pooling
 * (forward_inference: no workspace; the backward pass recomputes the argmax from x).
 * Layouts: x is N x H x W x C and y is N x OH x OW x C, plain NHWC (oneDNN tag nhwc).
 * Padding follows TF: pad_top/pad_left are oneDNN's padding_l, pad_bottom/pad_right padding_r;
 * padded cells are never part of a window: max pooling ignores them (oneDNN's max never reads
 * padding) and average pooling uses pooling_avg_exclude_padding (divides by the in-bounds count).
 * Primitives are cached in the backend per (algorithm, window, input shape), least-recently-used
 * replacement, so a given layer and batch size builds its primitive once. */
#include "cpu_internal.h"

#include <string.h>

#include "kernels/pool_math.h"

static void gm_cpu_pool_entry_clear(gm_cpu_pool_entry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    if (e->src) dnnl_memory_destroy(e->src);
    if (e->dst) dnnl_memory_destroy(e->dst);
    memset(e, 0, sizeof *e);
}

void gm_cpu_pool_cache_clear(gm_cpu_backend *cb) {
    for (int i = 0; i < GM_CPU_POOL_SLOTS; ++i) gm_cpu_pool_entry_clear(&cb->pool[i]);
}

static int gm_cpu_pool_desc_equal(const gm_pool_desc *a, const gm_pool_desc *b) {
    return a->ph == b->ph && a->pw == b->pw && a->stride_h == b->stride_h && a->stride_w == b->stride_w &&
           a->pad_top == b->pad_top && a->pad_bottom == b->pad_bottom && a->pad_left == b->pad_left &&
           a->pad_right == b->pad_right;
}

static gm_status gm_cpu_pool_create(gm_cpu_backend *cb, gm_cpu_pool_entry *e, dnnl_alg_kind_t alg,
                                    const gm_pool_desc *p, const gm_tensor *x, int oh, int ow) {
    dnnl_memory_desc_t src_md, dst_md;
    dnnl_dims_t src_dims = {x->n, x->c, x->h, x->w};
    dnnl_dims_t dst_dims = {x->n, x->c, oh, ow};
    dnnl_dims_t strides = {p->stride_h, p->stride_w};
    dnnl_dims_t kernel = {p->ph, p->pw};
    dnnl_dims_t pad_l = {p->pad_top, p->pad_left};
    dnnl_dims_t pad_r = {p->pad_bottom, p->pad_right};
    GM_DNNL_TRY(dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, dnnl_nhwc));
    GM_DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, dnnl_nhwc));
    dnnl_pooling_desc_t pdesc;
    GM_DNNL_TRY(dnnl_pooling_forward_desc_init(&pdesc, dnnl_forward_inference, alg, &src_md, &dst_md, strides, kernel,
                                               pad_l, pad_r));
    dnnl_primitive_desc_t pd = NULL;
    gm_status st = GM_OK;
    GM_DNNL_TRY(dnnl_primitive_desc_create(&pd, &pdesc, NULL, cb->engine, NULL));
    GM_DNNL_GOTO(dnnl_memory_create(&e->src, &src_md, cb->engine, DNNL_MEMORY_NONE), st, fail);
    GM_DNNL_GOTO(dnnl_memory_create(&e->dst, &dst_md, cb->engine, DNNL_MEMORY_NONE), st, fail);
    GM_DNNL_GOTO(dnnl_primitive_create(&e->prim, pd), st, fail);
    dnnl_primitive_desc_destroy(pd);
    e->alg = (int)alg;
    e->desc = *p;
    e->n = x->n;
    e->h = x->h;
    e->w = x->w;
    e->c = x->c;
    cb->pool_primitives_created++;
    return GM_OK;
fail:
    dnnl_primitive_desc_destroy(pd);
    gm_cpu_pool_entry_clear(e);
    return st;
}

static gm_status gm_cpu_pool_fwd(gm_backend *be, dnnl_alg_kind_t alg, const char *op, const gm_pool_desc *p,
                                 const gm_tensor *x, gm_tensor *y) {
    if (!be || !p) return gm_error(GM_ERR_INVALID_ARG, "cpu %s: NULL backend or descriptor", op);
    GM_TRY(gm_cpu_check_tensor(op, "x", x));
    GM_TRY(gm_cpu_check_tensor(op, "y", y));
    /* A pad as wide as the window would allow windows made only of padding, which have no
     * value under TF's rule (and divide by zero for the average). */
    if (p->ph <= 0 || p->pw <= 0 || p->stride_h <= 0 || p->stride_w <= 0 || p->pad_top < 0 || p->pad_bottom < 0 ||
        p->pad_left < 0 || p->pad_right < 0 || p->pad_top >= p->ph || p->pad_bottom >= p->ph ||
        p->pad_left >= p->pw || p->pad_right >= p->pw)
        return gm_error(GM_ERR_INVALID_ARG, "cpu %s: bad window (%d,%d) stride (%d,%d) pads (t%d,b%d,l%d,r%d)", op,
                        p->ph, p->pw, p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left, p->pad_right);
    int oh = gm_pool_out_dim(x->h, p->ph, p->stride_h, p->pad_top, p->pad_bottom);
    int ow = gm_pool_out_dim(x->w, p->pw, p->stride_w, p->pad_left, p->pad_right);
    if (oh <= 0 || ow <= 0 || y->n != x->n || y->h != oh || y->w != ow || y->c != x->c)
        return gm_error(GM_ERR_SHAPE,
                        "cpu %s: window (%d,%d) stride (%d,%d) pads (t%d,b%d,l%d,r%d): input (%d,%d,%d,%d) gives "
                        "(%d,%d,%d,%d), output given as (%d,%d,%d,%d)",
                        op, p->ph, p->pw, p->stride_h, p->stride_w, p->pad_top, p->pad_bottom, p->pad_left,
                        p->pad_right, x->n, x->h, x->w, x->c, x->n, oh, ow, x->c, y->n, y->h, y->w, y->c);
    gm_cpu_backend *cb = gm_cpu_cast(be);
    gm_cpu_pool_entry *e = NULL, *victim = NULL;
    for (int i = 0; i < GM_CPU_POOL_SLOTS; ++i) {
        gm_cpu_pool_entry *c = &cb->pool[i];
        if (c->prim && c->alg == (int)alg && gm_cpu_pool_desc_equal(&c->desc, p) && c->n == x->n && c->h == x->h &&
            c->w == x->w && c->c == x->c) {
            e = c;
            break;
        }
        if (!victim || (victim->prim && (!c->prim || c->last_use < victim->last_use))) victim = c;
    }
    if (!e) {
        gm_cpu_pool_entry_clear(victim);
        gm_status st = gm_cpu_pool_create(cb, victim, alg, p, x, oh, ow);
        if (st != GM_OK)
            return gm_error_context(st, "cpu %s: window (%d,%d) stride (%d,%d) input (%d,%d,%d,%d): ", op, p->ph,
                                    p->pw, p->stride_h, p->stride_w, x->n, x->h, x->w, x->c);
        e = victim;
    }
    e->last_use = ++cb->clock;
    /* oneDNN only reads DNNL_ARG_SRC; its API has no const handles. */
    GM_DNNL_TRY(dnnl_memory_set_data_handle(e->src, (void *)(uintptr_t)x->data));
    GM_DNNL_TRY(dnnl_memory_set_data_handle(e->dst, y->data));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_SRC, e->src}, {DNNL_ARG_DST, e->dst}};
    GM_DNNL_TRY(dnnl_primitive_execute(e->prim, cb->stream, 2, args));
    GM_DNNL_TRY(dnnl_stream_wait(cb->stream));
    return GM_OK;
}

gm_status gm_cpu_maxpool_fwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y) {
    return gm_cpu_pool_fwd(be, dnnl_pooling_max, "maxpool", p, x, y);
}

gm_status gm_cpu_avgpool_fwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y) {
    return gm_cpu_pool_fwd(be, dnnl_pooling_avg_exclude_padding, "avgpool", p, x, y);
}
