/* cpu_dense.c — Dense forward on the CPU backend: oneDNN inner product, forward_inference, with
 * bias and the activation fused as post-ops (never softmax in practice: the graph splits it off;
 * if it arrives anyway it runs as a loop after the primitive).
 * Layouts: x is N x in (tag nc). A rank-4 NHWC x with h*w*c == in is read as the same memory,
 * N rows of h*w*c values: that is exactly the order Keras's Flatten produces (channels last).
 * y is N x out (h = w = 1 in the usual case; any h*w*c == out is accepted). The kernel arrives
 * as Keras IO (in, out), which is oneDNN's tag `io` over its (out, in) dims, and is reordered
 * once into the primitive's preferred format (see cpu_weights.c). */
#include "cpu_internal.h"

static gm_status gm_cpu_dense_build(gm_cpu_backend *cb, const gm_layer_weights *w, int n, int h, int wd,
                                    const dnnl_memory_desc_t *weights_md, dnnl_primitive_desc_t *pd) {
    (void)h;
    (void)wd;
    const gm_dense_desc *d = &w->dense;
    dnnl_memory_desc_t src_md, wei_md, bias_md, dst_md;
    dnnl_dims_t src_dims = {n, d->in};
    dnnl_dims_t wei_dims = {d->out, d->in};
    dnnl_dims_t bias_dims = {d->out};
    dnnl_dims_t dst_dims = {n, d->out};
    GM_DNNL_TRY(dnnl_memory_desc_init_by_tag(&src_md, 2, src_dims, dnnl_f32, dnnl_nc));
    GM_DNNL_TRY(dnnl_memory_desc_init_by_tag(&wei_md, 2, wei_dims, dnnl_f32, dnnl_format_tag_any));
    GM_DNNL_TRY(dnnl_memory_desc_init_by_tag(&bias_md, 1, bias_dims, dnnl_f32, dnnl_x));
    GM_DNNL_TRY(dnnl_memory_desc_init_by_tag(&dst_md, 2, dst_dims, dnnl_f32, dnnl_nc));
    dnnl_inner_product_desc_t ipd;
    GM_DNNL_TRY(dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &src_md,
                                                     weights_md ? weights_md : &wei_md,
                                                     w->bias ? &bias_md : NULL, &dst_md));
    dnnl_primitive_attr_t attr = NULL;
    int in_loop = 0;
    GM_TRY(gm_cpu_act_attr(&w->act, &attr, &in_loop));
    dnnl_status_t s = dnnl_primitive_desc_create(pd, &ipd, attr, cb->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (s != dnnl_success) {
        *pd = NULL;
        gm_cpu_dnnl_error(s, "dnnl_primitive_desc_create(inner_product)", __FILE__, __LINE__);
        return gm_error_context(GM_ERR_BACKEND, "cpu dense: kernel (%d,%d), batch %d: ", d->in, d->out, n);
    }
    return GM_OK;
}

gm_status gm_cpu_dense_prepare(gm_backend *be, const gm_dense_desc *desc, const float *kernel_io, const float *bias,
                               gm_layer_weights **out) {
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "cpu dense prepare: output pointer is NULL");
    *out = NULL;
    if (!be || !desc || !kernel_io)
        return gm_error(GM_ERR_INVALID_ARG, "cpu dense prepare: NULL backend, descriptor or kernel");
    if (desc->in <= 0 || desc->out <= 0)
        return gm_error(GM_ERR_INVALID_ARG, "cpu dense prepare: bad kernel shape (%d,%d)", desc->in, desc->out);
    gm_cpu_backend *cb = gm_cpu_cast(be);
    dnnl_primitive_attr_t attr = NULL;
    int in_loop = 0;
    GM_TRY(gm_cpu_act_attr(&desc->act, &attr, &in_loop));
    dnnl_primitive_attr_destroy(attr);

    dnnl_memory_desc_t keras_md;
    dnnl_dims_t dims = {desc->out, desc->in};
    GM_DNNL_TRY(dnnl_memory_desc_init_by_tag(&keras_md, 2, dims, dnnl_f32, dnnl_io));
    gm_layer_weights *w = NULL;
    GM_TRY(gm_cpu_weights_new(cb, GM_CPU_LAYER_DENSE, &keras_md, kernel_io, desc->out, bias, &w));
    w->dense = *desc;
    w->act = desc->act;
    w->act_in_loop = in_loop;
    *out = w;
    return GM_OK;
}

gm_status gm_cpu_dense_fwd(gm_backend *be, gm_layer_weights *w, const gm_tensor *x, gm_tensor *y) {
    if (!be || !w) return gm_error(GM_ERR_INVALID_ARG, "cpu dense: NULL backend or weights");
    if (w->kind != GM_CPU_LAYER_DENSE) return gm_error(GM_ERR_INVALID_ARG, "cpu dense: weights are not a dense");
    GM_TRY(gm_cpu_check_tensor("dense", "x", x));
    GM_TRY(gm_cpu_check_tensor("dense", "y", y));
    const gm_dense_desc *d = &w->dense;
    long long in = (long long)x->h * x->w * x->c;
    long long out = (long long)y->h * y->w * y->c;
    if (in != d->in || out != d->out || y->n != x->n)
        return gm_error(GM_ERR_SHAPE,
                        "cpu dense: kernel (%d,%d): input (%d,%d,%d,%d) has %lld values per row (%d expected), "
                        "output (%d,%d,%d,%d) has %lld (%d expected)",
                        d->in, d->out, x->n, x->h, x->w, x->c, in, d->in, y->n, y->h, y->w, y->c, out, d->out);
    gm_cpu_backend *cb = gm_cpu_cast(be);
    gm_cpu_prim_entry *e = NULL;
    GM_TRY(gm_cpu_weights_primitive(cb, w, GM_CPU_FORWARD, x->n, 1, 1, gm_cpu_dense_build, &e));
    return gm_cpu_weights_execute(cb, w, e, x->data, y->data, (size_t)y->n, d->out);
}
