/* cpu_conv_bwd.c — Conv2D backward-data on the CPU backend: oneDNN convolution_backward_data
 * (the algorithm and operand type of cpu_conv_plan.c, as the forward), with its primitive cached
 * per batch size inside the layer's prepared weights (cpu_weights.c). No weight gradient is computed.
 * Layouts: dy is N x OH x OW x Cout and dx is N x H x W x Cin, plain NHWC (oneDNN tag nhwc;
 * reordered around the primitive where its plan needs nChw16c or bf16, see cpu_weights.c); the
 * weights are the layer's prepared copy (Keras HWIO reordered once, shared with the forward when
 * oneDNN's backward kernels accept the forward's format).
 * Gradient rule: dx[n,iy,ix,ci] = sum over (oy,ox,ky,kx,co) with iy = oy*sh - pad_top + ky*dh and
 * ix = ox*sw - pad_left + kx*dw of dy[n,oy,ox,co] * K[ky,kx,ci,co]: the transpose of the forward,
 * same strides, dilation (Keras d is oneDNN d - 1) and asymmetric pads. dy is the gradient of the
 * convolution's output BEFORE its fused activation: the engine applies activation_bwd (from the
 * stored output) first. dx is overwritten; input cells no window reaches (stride > kernel, or the
 * rows a "valid" stride drops) get 0. */
#include "cpu_internal.h"

#include "kernels/pool_math.h"

/* The backward-data descriptor of `plan`: dy in the plan's operand type and layout, dx f32. */
static dnnl_status_t gm_cpu_conv_bwd_pd(gm_cpu_backend *cb, const gm_layer_weights *w, int n, int h, int wd,
                                        const dnnl_memory_desc_t *weights_md, gm_cpu_conv_plan plan,
                                        dnnl_primitive_desc_t *pd) {
    const gm_conv2d_desc *d = &w->conv;
    int oh = gm_conv_out_dim(h, d->kh, d->dilation_h, d->stride_h, d->pad_top, d->pad_bottom);
    int ow = gm_conv_out_dim(wd, d->kw, d->dilation_w, d->stride_w, d->pad_left, d->pad_right);
    dnnl_memory_desc_t dx_md, wei_md, dy_md;
    dnnl_dims_t dx_dims = {n, d->cin, h, wd};
    dnnl_dims_t wei_dims = {d->cout, d->cin, d->kh, d->kw};
    dnnl_dims_t dy_dims = {n, d->cout, oh, ow};
    dnnl_dims_t strides = {d->stride_h, d->stride_w};
    dnnl_dims_t dilates = {d->dilation_h - 1, d->dilation_w - 1};
    dnnl_dims_t pad_l = {d->pad_top, d->pad_left};
    dnnl_dims_t pad_r = {d->pad_bottom, d->pad_right};
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_tag(&dx_md, 4, dx_dims, dnnl_f32, plan.layout)) != dnnl_success ||
        (s = dnnl_memory_desc_init_by_tag(&wei_md, 4, wei_dims, plan.operand_type, dnnl_format_tag_any)) !=
            dnnl_success ||
        (s = dnnl_memory_desc_init_by_tag(&dy_md, 4, dy_dims, plan.operand_type, plan.layout)) != dnnl_success)
        return s;
    dnnl_convolution_desc_t cd;
    s = dnnl_dilated_convolution_backward_data_desc_init(&cd, plan.alg, &dx_md, weights_md ? weights_md : &wei_md,
                                                         &dy_md, strides, dilates, pad_l, pad_r);
    if (s != dnnl_success) return s;
    /* No forward hint: oneDNN's convolution backward-data needs none (only pooling's workspace
     * does), and a hint would have to outlive the primitive descriptor. The scratchpad is the
     * backend's (cpu_weights.c), so that no call allocates. */
    dnnl_primitive_attr_t attr = NULL;
    if ((s = dnnl_primitive_attr_create(&attr)) != dnnl_success) return s;
    s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(pd, &cd, attr, cb->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

static gm_status gm_cpu_conv_bwd_build(gm_cpu_backend *cb, const gm_layer_weights *w, int n, int h, int wd,
                                       const dnnl_memory_desc_t *weights_md, dnnl_primitive_desc_t *pd) {
    return gm_cpu_conv_build_planned(cb, w, GM_CPU_BACKWARD_DATA, n, h, wd, weights_md, gm_cpu_conv_bwd_pd, pd);
}

gm_status gm_cpu_conv2d_bwd_data(gm_backend *be, gm_layer_weights *w, const gm_tensor *dy, gm_tensor *dx) {
    if (!be || !w) return gm_error(GM_ERR_INVALID_ARG, "cpu conv2d_bwd_data: NULL backend or weights");
    if (w->kind != GM_CPU_LAYER_CONV2D)
        return gm_error(GM_ERR_INVALID_ARG, "cpu conv2d_bwd_data: weights are not a conv");
    GM_TRY(gm_cpu_check_tensor("conv2d_bwd_data", "dy", dy));
    GM_TRY(gm_cpu_check_tensor("conv2d_bwd_data", "dx", dx));
    const gm_conv2d_desc *d = &w->conv;
    int oh = gm_conv_out_dim(dx->h, d->kh, d->dilation_h, d->stride_h, d->pad_top, d->pad_bottom);
    int ow = gm_conv_out_dim(dx->w, d->kw, d->dilation_w, d->stride_w, d->pad_left, d->pad_right);
    if (dx->c != d->cin || oh <= 0 || ow <= 0 || dy->n != dx->n || dy->h != oh || dy->w != ow || dy->c != d->cout)
        return gm_error(GM_ERR_SHAPE,
                        "cpu conv2d_bwd_data: kernel (%d,%d,%d,%d) stride (%d,%d) dilation (%d,%d) pads "
                        "(t%d,b%d,l%d,r%d): dx (%d,%d,%d,%d) needs dy (%d,%d,%d,%d), given (%d,%d,%d,%d)",
                        d->kh, d->kw, d->cin, d->cout, d->stride_h, d->stride_w, d->dilation_h, d->dilation_w,
                        d->pad_top, d->pad_bottom, d->pad_left, d->pad_right, dx->n, dx->h, dx->w, dx->c, dx->n, oh,
                        ow, d->cout, dy->n, dy->h, dy->w, dy->c);
    if (dx->data == dy->data) return gm_error(GM_ERR_INVALID_ARG, "cpu conv2d_bwd_data: dx and dy must not alias");
    gm_cpu_backend *cb = gm_cpu_cast(be);
    gm_cpu_prim_entry *e = NULL;
    const size_t dx_image = (size_t)dx->h * dx->w * d->cin, dy_image = (size_t)oh * ow * d->cout;
    const int chunk = gm_cpu_conv_chunk(cb, d, GM_CPU_BACKWARD_DATA, dx->n, dx->h, dx->w, dy_image, dx_image);
    for (int b0 = 0; b0 < dx->n; b0 += chunk) {
        const int m = dx->n - b0 < chunk ? dx->n - b0 : chunk;
        GM_TRY(gm_cpu_weights_primitive(cb, w, GM_CPU_BACKWARD_DATA, m, dx->h, dx->w, gm_cpu_conv_bwd_build, &e));
        GM_TRY(gm_cpu_weights_bwd_execute(cb, w, e, dy->data + (size_t)b0 * dy_image,
                                          dx->data + (size_t)b0 * dx_image));
    }
    return GM_OK;
}
