/* cuda_conv.c — Conv2D on the CUDA backend: prepare (Keras HWIO kernel -> cuDNN NHWC/KRSC filter,
 * uploaded once; filter and convolution descriptors made once), forward (cudnnConvolutionForward,
 * then the bias + activation epilogue) and backward-data (cudnnConvolutionBackwardData). No
 * weight gradient is ever computed. Algorithms per input shape: cuda_conv_algo.c.
 *
 * Layouts: x is N x H x W x C, y is N x OH x OW x K, plain NHWC float32 device memory (cuDNN
 * CUDNN_TENSOR_NHWC); the filter is K x R x S x C (cuda_layers.h). Keras dilation d is cuDNN's
 * dilation d (1 = dense); Keras Conv2D is a cross-correlation (CUDNN_CROSS_CORRELATION).
 *
 * Padding: cuDNN's 2-D descriptor has one pad per dimension, applied on both sides. TF "same"
 * padding can be asymmetric (the odd extra row/column at bottom/right, e.g. stride 2 on an even
 * input); then the forward zero-pads x into scratch and convolves with pad 0, and the backward
 * computes the gradient of that padded input and crops it (gm_launch_zero_pad_bwd).
 *
 * Precision: tensors between layers stay float32. fp32: float data, FMA math (no TF32). tf32:
 * float data, tensor-op math. fp16/bf16: the operand (x, or dy) is rounded to 16 bits into
 * scratch, the convolution reads and writes 16-bit tensors with float32 accumulation
 * (convolution compute type CUDNN_DATA_FLOAT: cuDNN's PSEUDO_HALF / PSEUDO_BFLOAT16 configs), and
 * its 16-bit result is widened back into the float32 output.
 *
 * Gradient rule: dx[n,iy,ix,c] = sum over (oy,ox,r,s,k) with iy = oy*sh - pad_top + r*dh and
 * ix = ox*sw - pad_left + s*dw of dy[n,oy,ox,k] * K[r,s,c,k]; dy is the gradient BEFORE the fused
 * activation (the engine runs activation_bwd first). dx is overwritten (beta = 0), cells no
 * window reaches get 0. Scratch slots: X = padded or 16-bit operand, Y = 16-bit result or padded
 * dx, EXTRA = 16-bit copy of the padded x / float padded dx (cuda_internal.h). */
#include "cuda_layers.h"

#include <stdlib.h>

#include "kernels/elementwise_kernels.h"
#include "kernels/pool_math.h"

/* Keras HWIO -> KRSC on the host, uploaded; 16-bit precisions round it on the device with the
 * conversion the activations get, then keep only the 16-bit copy. */
static gm_status gm_cuda_conv_upload_kernel(gm_cuda_backend *cb, gm_layer_weights *w, const float *hwio) {
    const gm_conv2d_desc *d = &w->conv;
    const size_t count = (size_t)d->kh * d->kw * d->cin * d->cout;
    float *krsc = malloc(count * sizeof *krsc);
    if (!krsc)
        return gm_error(GM_ERR_NOMEM, "cuda conv2d prepare: cannot allocate %zu floats for kernel (%d,%d,%d,%d)",
                        count, d->kh, d->kw, d->cin, d->cout);
    for (int r = 0; r < d->kh; ++r)
        for (int s = 0; s < d->kw; ++s)
            for (int c = 0; c < d->cin; ++c)
                for (int k = 0; k < d->cout; ++k)
                    krsc[(((size_t)k * d->kh + r) * d->kw + s) * d->cin + c] =
                        hwio[(((size_t)r * d->kw + s) * d->cin + c) * d->cout + k];
    float *dev = NULL;
    gm_status st = gm_cuda_weights_upload(cb, krsc, count, &dev);
    free(krsc);
    if (st != GM_OK) return st;
    if (!gm_cuda_precision_is_16bit(w->precision)) {
        w->kernel = dev;
        return GM_OK;
    }
    void *half = NULL;
    st = gm_cuda_device_alloc(cb, count * 2, &half);
    if (st == GM_OK)
        st = gm_launch_to_half(dev, half, count, w->precision == GM_PRECISION_BF16, gm_cuda_stream_ptr(cb));
    if (st == GM_OK) {
        /* The float copy is freed next; the conversion must have read it. */
        cudaError_t e = cudaStreamSynchronize(cb->stream);
        if (e != cudaSuccess) st = gm_cuda_error(e, "cudaStreamSynchronize(kernel conversion)", __FILE__, __LINE__);
    }
    void *p = dev;
    gm_cuda_device_free(cb, &p);
    if (st != GM_OK) {
        gm_cuda_device_free(cb, &half);
        return st;
    }
    w->kernel = half;
    return GM_OK;
}

/* The filter (K, C, R, S dims in CUDNN_TENSOR_NHWC format = KRSC memory) and the convolution
 * descriptor (symmetric pads, or 0 with explicit padding), read back to check cuDNN took them. */
static gm_status gm_cuda_conv_descriptors(gm_layer_weights *w) {
    const gm_conv2d_desc *d = &w->conv;
    GM_CUDNN_TRY(cudnnCreateFilterDescriptor(&w->filter));
    GM_CUDNN_TRY(cudnnSetFilter4dDescriptor(w->filter, w->dtype, CUDNN_TENSOR_NHWC, d->cout, d->cin, d->kh, d->kw));
    cudnnDataType_t ft;
    cudnnTensorFormat_t ff;
    int fk = 0, fc = 0, fh = 0, fw = 0;
    GM_CUDNN_TRY(cudnnGetFilter4dDescriptor(w->filter, &ft, &ff, &fk, &fc, &fh, &fw));
    if (ft != w->dtype || ff != CUDNN_TENSOR_NHWC || fk != d->cout || fc != d->cin || fh != d->kh || fw != d->kw)
        return gm_error(GM_ERR_BACKEND, "cuda conv2d prepare: cuDNN filter descriptor reads back as (k%d,c%d,h%d,w%d) "
                        "format %d, (k%d,c%d,h%d,w%d) NHWC was set", fk, fc, fh, fw, (int)ff, d->cout, d->cin, d->kh,
                        d->kw);
    GM_CUDNN_TRY(cudnnCreateConvolutionDescriptor(&w->conv_desc));
    const int pad_h = w->explicit_pad ? 0 : d->pad_top, pad_w = w->explicit_pad ? 0 : d->pad_left;
    GM_CUDNN_TRY(cudnnSetConvolution2dDescriptor(w->conv_desc, pad_h, pad_w, d->stride_h, d->stride_w, d->dilation_h,
                                                 d->dilation_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    int ph, pw, u, v, dh, dw;
    cudnnConvolutionMode_t mode;
    cudnnDataType_t ct;
    GM_CUDNN_TRY(cudnnGetConvolution2dDescriptor(w->conv_desc, &ph, &pw, &u, &v, &dh, &dw, &mode, &ct));
    if (ph != pad_h || pw != pad_w || u != d->stride_h || v != d->stride_w || dh != d->dilation_h ||
        dw != d->dilation_w || mode != CUDNN_CROSS_CORRELATION || ct != CUDNN_DATA_FLOAT)
        return gm_error(GM_ERR_BACKEND, "cuda conv2d prepare: cuDNN convolution descriptor reads back as pads (%d,%d) "
                        "strides (%d,%d) dilation (%d,%d)", ph, pw, u, v, dh, dw);
    return GM_OK;
}

gm_status gm_cuda_conv2d_prepare(gm_backend *be, const gm_conv2d_desc *desc, const float *kernel_hwio,
                                 const float *bias, gm_layer_weights **out) {
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "cuda conv2d prepare: output pointer is NULL");
    *out = NULL;
    if (!be || !desc || !kernel_hwio)
        return gm_error(GM_ERR_INVALID_ARG, "cuda conv2d prepare: NULL backend, descriptor or kernel");
    const gm_conv2d_desc *d = desc;
    if (d->kh <= 0 || d->kw <= 0 || d->cin <= 0 || d->cout <= 0 || d->stride_h <= 0 || d->stride_w <= 0 ||
        d->dilation_h <= 0 || d->dilation_w <= 0 || d->pad_top < 0 || d->pad_bottom < 0 || d->pad_left < 0 ||
        d->pad_right < 0)
        return gm_error(GM_ERR_INVALID_ARG,
                        "cuda conv2d prepare: bad descriptor: kernel (%d,%d,%d,%d) stride (%d,%d) dilation (%d,%d) "
                        "pads (t%d,b%d,l%d,r%d)",
                        d->kh, d->kw, d->cin, d->cout, d->stride_h, d->stride_w, d->dilation_h, d->dilation_w,
                        d->pad_top, d->pad_bottom, d->pad_left, d->pad_right);
    gm_cuda_backend *cb = gm_cuda_cast(be);
    gm_layer_weights *w = NULL;
    GM_TRY(gm_cuda_weights_new(cb, GM_CUDA_LAYER_CONV2D, "conv2d", &d->act, &w));
    w->conv = *d;
    w->explicit_pad = d->pad_top != d->pad_bottom || d->pad_left != d->pad_right;
    w->dtype = w->precision == GM_PRECISION_FP16   ? CUDNN_DATA_HALF
               : w->precision == GM_PRECISION_BF16 ? CUDNN_DATA_BFLOAT16
                                                   : CUDNN_DATA_FLOAT;
    gm_status st = gm_cuda_conv_upload_kernel(cb, w, kernel_hwio);
    if (st == GM_OK && bias) st = gm_cuda_weights_upload(cb, bias, (size_t)d->cout, &w->bias);
    if (st == GM_OK) st = gm_cuda_conv_descriptors(w);
    if (st != GM_OK) {
        gm_cuda_weights_free(be, &w);
        return st;
    }
    *out = w;
    return GM_OK;
}

/* x (n,h,w,c) grown by the layer's pads: the tensor cuDNN convolves when pads are asymmetric. */
static gm_tensor gm_cuda_conv_padded(const gm_conv2d_desc *d, int n, int h, int wd, float *data) {
    gm_tensor t = {data, n, h + d->pad_top + d->pad_bottom, wd + d->pad_left + d->pad_right, d->cin};
    return t;
}

gm_status gm_cuda_conv2d_fwd(gm_backend *be, gm_layer_weights *w, const gm_tensor *x, gm_tensor *y) {
    gm_cuda_backend *cb = be ? gm_cuda_cast(be) : NULL;
    GM_TRY(gm_cuda_weights_check(cb, w, GM_CUDA_LAYER_CONV2D, "conv2d"));
    GM_TRY(gm_cuda_check_tensor("conv2d", "x", x));
    GM_TRY(gm_cuda_check_tensor("conv2d", "y", y));
    const gm_conv2d_desc *d = &w->conv;
    int oh = gm_conv_out_dim(x->h, d->kh, d->dilation_h, d->stride_h, d->pad_top, d->pad_bottom);
    int ow = gm_conv_out_dim(x->w, d->kw, d->dilation_w, d->stride_w, d->pad_left, d->pad_right);
    if (x->c != d->cin || oh <= 0 || ow <= 0 || y->n != x->n || y->h != oh || y->w != ow || y->c != d->cout)
        return gm_error(GM_ERR_SHAPE,
                        "cuda conv2d: kernel (%d,%d,%d,%d) stride (%d,%d) dilation (%d,%d) pads (t%d,b%d,l%d,r%d): "
                        "input (%d,%d,%d,%d) gives (%d,%d,%d,%d), output given as (%d,%d,%d,%d)",
                        d->kh, d->kw, d->cin, d->cout, d->stride_h, d->stride_w, d->dilation_h, d->dilation_w,
                        d->pad_top, d->pad_bottom, d->pad_left, d->pad_right, x->n, x->h, x->w, x->c, x->n, oh, ow,
                        d->cout, y->n, y->h, y->w, y->c);
    if (x->data == y->data) return gm_error(GM_ERR_INVALID_ARG, "cuda conv2d: x and y must not alias");
    gm_cuda_conv_plan *plan = NULL;
    GM_TRY(gm_cuda_conv_plan_get(cb, w, GM_CUDA_CONV_FWD, x->n, x->h, x->w, "conv2d", &plan));
    void *stream = gm_cuda_stream_ptr(cb);
    const int half = gm_cuda_precision_is_16bit(w->precision), bf16 = w->precision == GM_PRECISION_BF16;

    const float *xf = x->data;
    size_t in_count = gm_tensor_count(x);
    if (w->explicit_pad) {
        void *buf = NULL;
        gm_tensor padded = gm_cuda_conv_padded(d, x->n, x->h, x->w, NULL);
        in_count = gm_tensor_count(&padded);
        GM_TRY(gm_cuda_scratch(cb, GM_CUDA_SCRATCH_X, in_count * sizeof(float), &buf));
        padded.data = buf;
        GM_TRY(gm_launch_zero_pad_fwd(d->pad_top, d->pad_bottom, d->pad_left, d->pad_right, x, &padded, stream));
        xf = padded.data;
    }
    const void *src = xf;
    if (half) {
        void *h16 = NULL;
        GM_TRY(gm_cuda_scratch(cb, w->explicit_pad ? GM_CUDA_SCRATCH_EXTRA : GM_CUDA_SCRATCH_X, in_count * 2, &h16));
        GM_TRY(gm_launch_to_half(xf, h16, in_count, bf16, stream));
        src = h16;
    }
    const size_t out_count = gm_tensor_count(y);
    void *dst = y->data;
    if (half) GM_TRY(gm_cuda_scratch(cb, GM_CUDA_SCRATCH_Y, out_count * 2, &dst));
    const gm_cuda_conv_algo *a = &plan->pass[GM_CUDA_CONV_FWD];
    void *ws = NULL;
    GM_TRY(gm_cuda_workspace(cb, a->workspace, &ws));
    const float one = 1.0f, zero = 0.0f; /* float scaling factors for float, half and bfloat16 data */
    GM_CUDNN_TRY(cudnnSetConvolutionMathType(w->conv_desc, a->math));
    GM_CUDNN_TRY(cudnnConvolutionForward(cb->cudnn, &one, plan->in, src, w->filter, w->kernel, w->conv_desc,
                                         (cudnnConvolutionFwdAlgo_t)a->algo, ws, a->workspace, &zero, plan->out, dst));
    GM_TRY(gm_cuda_debug_sync(cb));
    if (half) GM_TRY(gm_launch_from_half(dst, y->data, out_count, bf16, stream));
    return gm_cuda_epilogue(cb, w, y->data, (size_t)y->n * (size_t)oh * (size_t)ow, d->cout);
}

gm_status gm_cuda_conv2d_bwd_data(gm_backend *be, gm_layer_weights *w, const gm_tensor *dy, gm_tensor *dx) {
    gm_cuda_backend *cb = be ? gm_cuda_cast(be) : NULL;
    GM_TRY(gm_cuda_weights_check(cb, w, GM_CUDA_LAYER_CONV2D, "conv2d_bwd_data"));
    GM_TRY(gm_cuda_check_tensor("conv2d_bwd_data", "dy", dy));
    GM_TRY(gm_cuda_check_tensor("conv2d_bwd_data", "dx", dx));
    const gm_conv2d_desc *d = &w->conv;
    int oh = gm_conv_out_dim(dx->h, d->kh, d->dilation_h, d->stride_h, d->pad_top, d->pad_bottom);
    int ow = gm_conv_out_dim(dx->w, d->kw, d->dilation_w, d->stride_w, d->pad_left, d->pad_right);
    if (dx->c != d->cin || oh <= 0 || ow <= 0 || dy->n != dx->n || dy->h != oh || dy->w != ow || dy->c != d->cout)
        return gm_error(GM_ERR_SHAPE,
                        "cuda conv2d_bwd_data: kernel (%d,%d,%d,%d) stride (%d,%d) dilation (%d,%d) pads "
                        "(t%d,b%d,l%d,r%d): dx (%d,%d,%d,%d) needs dy (%d,%d,%d,%d), given (%d,%d,%d,%d)",
                        d->kh, d->kw, d->cin, d->cout, d->stride_h, d->stride_w, d->dilation_h, d->dilation_w,
                        d->pad_top, d->pad_bottom, d->pad_left, d->pad_right, dx->n, dx->h, dx->w, dx->c, dx->n, oh,
                        ow, d->cout, dy->n, dy->h, dy->w, dy->c);
    if (dx->data == dy->data) return gm_error(GM_ERR_INVALID_ARG, "cuda conv2d_bwd_data: dx and dy must not alias");
    gm_cuda_conv_plan *plan = NULL;
    GM_TRY(gm_cuda_conv_plan_get(cb, w, GM_CUDA_CONV_BWD_DATA, dx->n, dx->h, dx->w, "conv2d_bwd_data", &plan));
    void *stream = gm_cuda_stream_ptr(cb);
    const int half = gm_cuda_precision_is_16bit(w->precision), bf16 = w->precision == GM_PRECISION_BF16;

    const void *src = dy->data;
    if (half) {
        void *h16 = NULL;
        GM_TRY(gm_cuda_scratch(cb, GM_CUDA_SCRATCH_X, gm_tensor_count(dy) * 2, &h16));
        GM_TRY(gm_launch_to_half(dy->data, h16, gm_tensor_count(dy), bf16, stream));
        src = h16;
    }
    /* cuDNN writes the gradient of the tensor it convolved: the padded input when pads are explicit. */
    gm_tensor grad = w->explicit_pad ? gm_cuda_conv_padded(d, dx->n, dx->h, dx->w, NULL) : *dx;
    const size_t grad_count = gm_tensor_count(&grad);
    void *dst = dx->data;
    if (half || w->explicit_pad)
        GM_TRY(gm_cuda_scratch(cb, GM_CUDA_SCRATCH_Y, grad_count * (half ? 2 : sizeof(float)), &dst));
    const gm_cuda_conv_algo *a = &plan->pass[GM_CUDA_CONV_BWD_DATA];
    void *ws = NULL;
    GM_TRY(gm_cuda_workspace(cb, a->workspace, &ws));
    const float one = 1.0f, zero = 0.0f; /* beta = 0: dx is overwritten, its old contents never read */
    GM_CUDNN_TRY(cudnnSetConvolutionMathType(w->conv_desc, a->math));
    GM_CUDNN_TRY(cudnnConvolutionBackwardData(cb->cudnn, &one, w->filter, w->kernel, plan->out, src, w->conv_desc,
                                              (cudnnConvolutionBwdDataAlgo_t)a->algo, ws, a->workspace, &zero,
                                              plan->in, dst));
    GM_TRY(gm_cuda_debug_sync(cb));
    if (!w->explicit_pad) return half ? gm_launch_from_half(dst, dx->data, grad_count, bf16, stream) : GM_OK;
    grad.data = dst;
    if (half) {
        void *wide = NULL;
        GM_TRY(gm_cuda_scratch(cb, GM_CUDA_SCRATCH_EXTRA, grad_count * sizeof(float), &wide));
        GM_TRY(gm_launch_from_half(dst, wide, grad_count, bf16, stream));
        grad.data = wide;
    }
    return gm_launch_zero_pad_bwd(d->pad_top, d->pad_bottom, d->pad_left, d->pad_right, &grad, dx, stream);
}
