/* cpu_conv_plan.c — how the CPU backend runs one convolution: the algorithm (direct or Winograd),
 * the type its operands are rounded to (f32, or bf16 in --precision bf16) and the activation
 * layout inside the primitive (plain NHWC, or nChw16c where the algorithm needs it).
 *
 * Why these choices, measured with oneDNN 2.6.3 on a 2-core Sapphire Rapids (bench/RESULTS.md):
 * - bf16: oneDNN's AMX kernels (brgconv / jit amx) need bf16 src and weights; f32 output and f32
 *   accumulation are allowed, so only the operands are rounded (host/backend.h's contract). They
 *   run in NHWC (900 GFLOP/s on a 256-channel 3x3 layer, against 128 for nChw16c's AVX-512 bf16
 *   kernel). oneDNN 2.6's fpmath mode would be simpler but is ignored by its f32 convolutions.
 *   With fp32_forward (input-gradient methods) the forward stays fp32 direct, see host/backend.h.
 * - Winograd F(4x4,3x3) (jit_wino_4x3) exists only for nChw16c activations. On VGG16's layers it
 *   runs forward and backward-data at 2.0-2.4x the direct kernel's effective rate, so it wins even
 *   after the reorders from and to NHWC. It is restricted to shapes it handles well: 3x3, stride 1,
 *   no dilation, "same" or "valid" padding of at most 1, channel counts multiples of 16 and an
 *   output of at least GM_CPU_WINO_MIN_SIDE on both sides (a 4x4 output tile wastes too much on 7x7).
 *   By default (GM_CONV_ALGO_AUTO) only backward-data uses it: host/backend.h says why.
 * - Backward-data into an input of at most GM_CPU_NARROW_INPUT channels (the image: ResNet50's
 *   7x7/2 and VGG16's first 3x3 layer, needed by every input-gradient map) runs in plain NCHW,
 *   where oneDNN uses its GEMM-based kernel: 54 ms against 127 for the NHWC direct kernel on
 *   ResNet50's first layer at batch 8 (which reaches 22 GFLOP/s: 3 output channels leave its
 *   vector registers mostly empty).
 *   Not done: backward-data of 1x1 stride-1 layers as one GEMM on NHWC memory (dx = dy K^T):
 *   dnnl_sgemm runs ResNet50's shapes at 133-150 GFLOP/s against about 102 for the jit_1x1
 *   kernel, but it allocates packing buffers per call (163 page faults per ResNet50 batch); a
 *   oneDNN matmul primitive with a user scratchpad would keep both. */
#include "cpu_internal.h"

#define GM_CPU_WINO_MIN_SIDE 14
#define GM_CPU_NARROW_INPUT 4
/* Bytes of staging (per side) a converted convolution may use: a plan that stages its operands runs
 * over the batch in chunks of images that fit, so that staging never doubles the largest
 * activations (VGG16 at batch 32: 411 MB per side unchunked). 64 MiB keeps at least 5 images of
 * 224x224x64 per call, enough for the kernels' efficiency. */
#define GM_CPU_STAGING_BUDGET ((size_t)64 << 20)

/* Output side of a stride-1 undilated 3x3 convolution. */
static int gm_cpu_wino_side(int in, int pad_a, int pad_b) { return in + pad_a + pad_b - 2; }

static int gm_cpu_wino_eligible(const gm_conv2d_desc *d) {
    return d->kh == 3 && d->kw == 3 && d->stride_h == 1 && d->stride_w == 1 && d->dilation_h == 1 &&
           d->dilation_w == 1 && d->pad_top <= 1 && d->pad_bottom <= 1 && d->pad_left <= 1 && d->pad_right <= 1 &&
           d->cin % 16 == 0 && d->cout % 16 == 0;
}

/* True when the layer on an h x w input qualifies for Winograd. */
static int gm_cpu_conv_wino_shape_ok(const gm_conv2d_desc *d, int h, int w) {
    return gm_cpu_wino_eligible(d) && gm_cpu_wino_side(h, d->pad_top, d->pad_bottom) >= GM_CPU_WINO_MIN_SIDE &&
           gm_cpu_wino_side(w, d->pad_left, d->pad_right) >= GM_CPU_WINO_MIN_SIDE;
}

gm_cpu_conv_plan gm_cpu_conv_choose(const gm_cpu_backend *cb, const gm_conv2d_desc *d, gm_cpu_pass pass, int h,
                                    int w, int direct_only) {
    gm_cpu_conv_plan p = {dnnl_convolution_direct, dnnl_f32, dnnl_nhwc};
    if (cb->precision == GM_PRECISION_BF16 && !(pass == GM_CPU_FORWARD && cb->fp32_forward)) {
        p.operand_type = dnnl_bf16;
        return p;
    }
    if (pass == GM_CPU_BACKWARD_DATA && d->cin <= GM_CPU_NARROW_INPUT) {
        p.layout = dnnl_nchw;
        return p;
    }
    int wino = cb->conv_algo == GM_CONV_ALGO_WINOGRAD ||
               (pass == GM_CPU_BACKWARD_DATA && cb->conv_algo != GM_CONV_ALGO_DIRECT);
    if (!direct_only && wino && gm_cpu_conv_wino_shape_ok(d, h, w)) {
        p.alg = dnnl_convolution_winograd;
        p.layout = dnnl_nChw16c;
    }
    return p;
}

int gm_cpu_conv_chunk(const gm_cpu_backend *cb, const gm_conv2d_desc *d, gm_cpu_pass pass, int n, int h, int w,
                      size_t in_floats_per_image, size_t out_floats_per_image) {
    gm_cpu_conv_plan p = gm_cpu_conv_choose(cb, d, pass, h, w, 0);
    if (p.layout == dnnl_nhwc && p.operand_type == dnnl_f32) return n;
    size_t per_image = (in_floats_per_image > out_floats_per_image ? in_floats_per_image : out_floats_per_image) *
                       sizeof(float);
    size_t fit = per_image ? GM_CPU_STAGING_BUDGET / per_image : (size_t)n;
    return fit < 1 ? 1 : fit >= (size_t)n ? n : (int)fit;
}

gm_status gm_cpu_conv_build_planned(gm_cpu_backend *cb, const gm_layer_weights *w, gm_cpu_pass pass, int n, int h,
                                    int wd, const dnnl_memory_desc_t *weights_md, gm_cpu_conv_pd_fn make,
                                    dnnl_primitive_desc_t *pd) {
    const gm_conv2d_desc *d = &w->conv;
    gm_cpu_conv_plan plan = gm_cpu_conv_choose(cb, d, pass, h, wd, 0);
    dnnl_status_t s = make(cb, w, n, h, wd, weights_md, plan, pd);
    /* Winograd refused for this shape: direct, but only when the weights format is free to
     * change, so that a held direct format never silently replaces a possible Winograd. */
    if (s != dnnl_success && plan.alg == dnnl_convolution_winograd && !weights_md)
        s = make(cb, w, n, h, wd, weights_md, gm_cpu_conv_choose(cb, d, pass, h, wd, 1), pd);
    if (s == dnnl_success) return GM_OK;
    *pd = NULL;
    const int fwd = pass == GM_CPU_FORWARD;
    gm_cpu_dnnl_error(s, fwd ? "dnnl_primitive_desc_create(convolution)"
                             : "dnnl_primitive_desc_create(convolution_backward_data)",
                      __FILE__, __LINE__);
    return gm_error_context(GM_ERR_BACKEND,
                            "cpu %s: kernel (%d,%d,%d,%d) stride (%d,%d) dilation (%d,%d) %s (%d,%d,%d,%d): ",
                            fwd ? "conv2d" : "conv2d_bwd_data", d->kh, d->kw, d->cin, d->cout, d->stride_h,
                            d->stride_w, d->dilation_h, d->dilation_w, fwd ? "input" : "dx", n, h, wd, d->cin);
}
