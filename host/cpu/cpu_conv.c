/* cpu_conv.c — Conv2D forward on the CPU backend: oneDNN direct convolution, forward_inference,
 * with bias and the activation fused as post-ops.
 * Layouts: x is N x H x W x Cin and y is N x OH x OW x Cout, plain NHWC (oneDNN tag nhwc); the
 * kernel arrives as Keras HWIO (kh, kw, cin, cout; oneDNN tag hwio) and is reordered once into
 * the format the primitive prefers (weights tag `any`), see cpu_weights.c.
 * Conventions: Keras dilation d is oneDNN dilation d - 1 (oneDNN counts the skipped cells); TF's
 * asymmetric "same" padding is pad_top/pad_left = padding_l, pad_bottom/pad_right = padding_r.
 * The algorithm, operand type and inner layout come from cpu_conv_plan.c (never oneDNN's `auto`,
 * so what runs is what the backend was configured for); a primitive whose layout or type is not
 * plain f32 NHWC gets its reorders in cpu_weights.c. */
#include "cpu_internal.h"

#include "kernels/pool_math.h"

/* The forward descriptor of `plan` (see cpu_conv_plan.c for the operand types and layouts). */
static dnnl_status_t gm_cpu_conv_pd(gm_cpu_backend *cb, const gm_layer_weights *w, int n, int h, int wd,
                                    const dnnl_memory_desc_t *weights_md, gm_cpu_conv_plan plan,
                                    dnnl_primitive_desc_t *pd) {
    const gm_conv2d_desc *d = &w->conv;
    int oh = gm_conv_out_dim(h, d->kh, d->dilation_h, d->stride_h, d->pad_top, d->pad_bottom);
    int ow = gm_conv_out_dim(wd, d->kw, d->dilation_w, d->stride_w, d->pad_left, d->pad_right);
    dnnl_memory_desc_t src_md, wei_md, bias_md, dst_md;
    dnnl_dims_t src_dims = {n, d->cin, h, wd};
    dnnl_dims_t wei_dims = {d->cout, d->cin, d->kh, d->kw};
    dnnl_dims_t bias_dims = {d->cout};
    dnnl_dims_t dst_dims = {n, d->cout, oh, ow};
    dnnl_dims_t strides = {d->stride_h, d->stride_w};
    dnnl_dims_t dilates = {d->dilation_h - 1, d->dilation_w - 1};
    dnnl_dims_t pad_l = {d->pad_top, d->pad_left};
    dnnl_dims_t pad_r = {d->pad_bottom, d->pad_right};
    dnnl_status_t s;
    if ((s = dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, plan.operand_type, plan.layout)) != dnnl_success ||
        (s = dnnl_memory_desc_init_by_tag(&wei_md, 4, wei_dims, plan.operand_type, dnnl_format_tag_any)) !=
            dnnl_success ||
        (s = dnnl_memory_desc_init_by_tag(&bias_md, 1, bias_dims, dnnl_f32, dnnl_x)) != dnnl_success ||
        (s = dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, plan.layout)) != dnnl_success)
        return s;
    dnnl_convolution_desc_t cd;
    /* Winograd's inference kernel stores the weights pre-transformed (format kind `wino`), which
     * no reorder can turn into the backward's format; its training kernel keeps a plain blocked
     * format that forward and backward-data share, at the cost of transforming per call
     * (measured: no slower on VGG16's layers at batch 8). */
    dnnl_prop_kind_t prop = plan.alg == dnnl_convolution_winograd ? dnnl_forward_training : dnnl_forward_inference;
    s = dnnl_dilated_convolution_forward_desc_init(&cd, prop, plan.alg, &src_md,
                                                   weights_md ? weights_md : &wei_md, w->bias ? &bias_md : NULL,
                                                   &dst_md, strides, dilates, pad_l, pad_r);
    if (s != dnnl_success) return s;
    dnnl_primitive_attr_t attr = NULL;
    int in_loop = 0;
    if (gm_cpu_act_attr(&w->act, &attr, &in_loop) != GM_OK) return dnnl_invalid_arguments;
    s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success) s = dnnl_primitive_desc_create(pd, &cd, attr, cb->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

static gm_status gm_cpu_conv_build(gm_cpu_backend *cb, const gm_layer_weights *w, int n, int h, int wd,
                                   const dnnl_memory_desc_t *weights_md, dnnl_primitive_desc_t *pd) {
    return gm_cpu_conv_build_planned(cb, w, GM_CPU_FORWARD, n, h, wd, weights_md, gm_cpu_conv_pd, pd);
}

gm_status gm_cpu_conv2d_prepare(gm_backend *be, const gm_conv2d_desc *desc, const float *kernel_hwio,
                                const float *bias, gm_layer_weights **out) {
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "cpu conv2d prepare: output pointer is NULL");
    *out = NULL;
    if (!be || !desc || !kernel_hwio)
        return gm_error(GM_ERR_INVALID_ARG, "cpu conv2d prepare: NULL backend, descriptor or kernel");
    const gm_conv2d_desc *d = desc;
    if (d->kh <= 0 || d->kw <= 0 || d->cin <= 0 || d->cout <= 0 || d->stride_h <= 0 || d->stride_w <= 0 ||
        d->dilation_h <= 0 || d->dilation_w <= 0 || d->pad_top < 0 || d->pad_bottom < 0 || d->pad_left < 0 ||
        d->pad_right < 0)
        return gm_error(GM_ERR_INVALID_ARG,
                        "cpu conv2d prepare: bad descriptor: kernel (%d,%d,%d,%d) stride (%d,%d) dilation (%d,%d) "
                        "pads (t%d,b%d,l%d,r%d)",
                        d->kh, d->kw, d->cin, d->cout, d->stride_h, d->stride_w, d->dilation_h, d->dilation_w,
                        d->pad_top, d->pad_bottom, d->pad_left, d->pad_right);
    gm_cpu_backend *cb = gm_cpu_cast(be);
    /* Validate the activation now, so that a bad one fails at prepare time, not mid-batch. */
    dnnl_primitive_attr_t attr = NULL;
    int in_loop = 0;
    GM_TRY(gm_cpu_act_attr(&d->act, &attr, &in_loop));
    dnnl_primitive_attr_destroy(attr);

    dnnl_memory_desc_t keras_md;
    dnnl_dims_t dims = {d->cout, d->cin, d->kh, d->kw};
    GM_DNNL_TRY(dnnl_memory_desc_init_by_tag(&keras_md, 4, dims, dnnl_f32, dnnl_hwio));
    gm_layer_weights *w = NULL;
    GM_TRY(gm_cpu_weights_new(cb, GM_CPU_LAYER_CONV2D, &keras_md, kernel_hwio, d->cout, bias, &w));
    w->conv = *d;
    w->act = d->act;
    w->act_in_loop = in_loop;
    *out = w;
    return GM_OK;
}

gm_status gm_cpu_conv2d_fwd(gm_backend *be, gm_layer_weights *w, const gm_tensor *x, gm_tensor *y) {
    if (!be || !w) return gm_error(GM_ERR_INVALID_ARG, "cpu conv2d: NULL backend or weights");
    if (w->kind != GM_CPU_LAYER_CONV2D) return gm_error(GM_ERR_INVALID_ARG, "cpu conv2d: weights are not a conv");
    GM_TRY(gm_cpu_check_tensor("conv2d", "x", x));
    GM_TRY(gm_cpu_check_tensor("conv2d", "y", y));
    const gm_conv2d_desc *d = &w->conv;
    int oh = gm_conv_out_dim(x->h, d->kh, d->dilation_h, d->stride_h, d->pad_top, d->pad_bottom);
    int ow = gm_conv_out_dim(x->w, d->kw, d->dilation_w, d->stride_w, d->pad_left, d->pad_right);
    if (x->c != d->cin || oh <= 0 || ow <= 0 || y->n != x->n || y->h != oh || y->w != ow || y->c != d->cout)
        return gm_error(GM_ERR_SHAPE,
                        "cpu conv2d: kernel (%d,%d,%d,%d) stride (%d,%d) dilation (%d,%d) pads (t%d,b%d,l%d,r%d): "
                        "input (%d,%d,%d,%d) gives (%d,%d,%d,%d), output given as (%d,%d,%d,%d)",
                        d->kh, d->kw, d->cin, d->cout, d->stride_h, d->stride_w, d->dilation_h, d->dilation_w,
                        d->pad_top, d->pad_bottom, d->pad_left, d->pad_right, x->n, x->h, x->w, x->c, x->n, oh, ow,
                        d->cout, y->n, y->h, y->w, y->c);
    gm_cpu_backend *cb = gm_cpu_cast(be);
    gm_cpu_prim_entry *e = NULL;
    const size_t in_image = (size_t)x->h * x->w * d->cin, out_image = (size_t)oh * ow * d->cout;
    const int chunk = gm_cpu_conv_chunk(cb, d, GM_CPU_FORWARD, x->n, x->h, x->w, in_image, out_image);
    for (int b0 = 0; b0 < x->n; b0 += chunk) {
        const int m = x->n - b0 < chunk ? x->n - b0 : chunk;
        GM_TRY(gm_cpu_weights_primitive(cb, w, GM_CPU_FORWARD, m, x->h, x->w, gm_cpu_conv_build, &e));
        GM_TRY(gm_cpu_weights_execute(cb, w, e, x->data + (size_t)b0 * in_image, y->data + (size_t)b0 * out_image,
                                      (size_t)m * (size_t)oh * (size_t)ow, d->cout));
    }
    return GM_OK;
}
