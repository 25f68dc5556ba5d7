/* cpu_dense_bwd.c — Dense backward-data on the CPU backend: oneDNN inner_product_backward_data,
 * its primitive cached per batch size inside the layer's prepared weights (cpu_weights.c), on
 * the same prepared copy of the kernel as the forward whenever oneDNN accepts its format (the
 * Keras IO copy itself is dropped after the first reorder, so it is not available for a GEMM).
 * Layouts: dy is N x out (tag nc; any h*w*c == out accepted, as the forward's y); dx is N x in,
 * or a rank-4 NHWC tensor with h*w*c == in when the dense layer followed a Flatten: the same
 * memory read as N rows of h*w*c values, which is Flatten's channels-last order, so Flatten's
 * backward is free.
 * Gradient rule: dx[n,i] = sum_o dy[n,o] * W[i,o] (dx = dy W^T with Keras's IO kernel W). dy is
 * the gradient BEFORE the fused activation (the engine runs activation_bwd first). No weight or
 * bias gradient. dx is overwritten. */
#include "cpu_internal.h"

static gm_status gm_cpu_dense_bwd_build(gm_cpu_backend *cb, const gm_layer_weights *w, int n, int h, int wd,
                                        const dnnl_memory_desc_t *weights_md, dnnl_primitive_desc_t *pd) {
    (void)h;
    (void)wd;
    const gm_dense_desc *d = &w->dense;
    dnnl_memory_desc_t dx_md, wei_md, dy_md;
    dnnl_dims_t dx_dims = {n, d->in};
    dnnl_dims_t wei_dims = {d->out, d->in};
    dnnl_dims_t dy_dims = {n, d->out};
    GM_DNNL_TRY(dnnl_memory_desc_init_by_tag(&dx_md, 2, dx_dims, dnnl_f32, dnnl_nc));
    GM_DNNL_TRY(dnnl_memory_desc_init_by_tag(&wei_md, 2, wei_dims, dnnl_f32, dnnl_format_tag_any));
    GM_DNNL_TRY(dnnl_memory_desc_init_by_tag(&dy_md, 2, dy_dims, dnnl_f32, dnnl_nc));
    dnnl_inner_product_desc_t ipd;
    GM_DNNL_TRY(
        dnnl_inner_product_backward_data_desc_init(&ipd, &dx_md, weights_md ? weights_md : &wei_md, &dy_md));
    /* No forward hint: inner product backward-data needs none (see cpu_conv_bwd.c). */
    dnnl_status_t s = dnnl_primitive_desc_create(pd, &ipd, NULL, cb->engine, NULL);
    if (s != dnnl_success) {
        *pd = NULL;
        gm_cpu_dnnl_error(s, "dnnl_primitive_desc_create(inner_product_backward_data)", __FILE__, __LINE__);
        return gm_error_context(GM_ERR_BACKEND, "cpu dense_bwd_data: kernel (%d,%d), batch %d: ", d->in, d->out, n);
    }
    return GM_OK;
}

gm_status gm_cpu_dense_bwd_data(gm_backend *be, gm_layer_weights *w, const gm_tensor *dy, gm_tensor *dx) {
    if (!be || !w) return gm_error(GM_ERR_INVALID_ARG, "cpu dense_bwd_data: NULL backend or weights");
    if (w->kind != GM_CPU_LAYER_DENSE)
        return gm_error(GM_ERR_INVALID_ARG, "cpu dense_bwd_data: weights are not a dense");
    GM_TRY(gm_cpu_check_tensor("dense_bwd_data", "dy", dy));
    GM_TRY(gm_cpu_check_tensor("dense_bwd_data", "dx", dx));
    const gm_dense_desc *d = &w->dense;
    long long in = (long long)dx->h * dx->w * dx->c;
    long long out = (long long)dy->h * dy->w * dy->c;
    if (in != d->in || out != d->out || dy->n != dx->n)
        return gm_error(GM_ERR_SHAPE,
                        "cpu dense_bwd_data: kernel (%d,%d): dx (%d,%d,%d,%d) has %lld values per row (%d expected), "
                        "dy (%d,%d,%d,%d) has %lld (%d expected)",
                        d->in, d->out, dx->n, dx->h, dx->w, dx->c, in, d->in, dy->n, dy->h, dy->w, dy->c, out,
                        d->out);
    if (dx->data == dy->data) return gm_error(GM_ERR_INVALID_ARG, "cpu dense_bwd_data: dx and dy must not alias");
    gm_cpu_backend *cb = gm_cpu_cast(be);
    gm_cpu_prim_entry *e = NULL;
    GM_TRY(gm_cpu_weights_primitive(cb, w, GM_CPU_BACKWARD_DATA, dx->n, 1, 1, gm_cpu_dense_bwd_build, &e));
    return gm_cpu_weights_bwd_execute(cb, w, e, dy->data, dx->data);
}
