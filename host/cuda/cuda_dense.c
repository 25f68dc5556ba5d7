/* cuda_dense.c — Dense forward / backward-data and the batched class activation maps (cam_multi)
 * of the CUDA backend, as cuBLAS GEMMs (cublasGemmEx, cublasGemmStridedBatchedEx) on the
 * backend's stream, followed for Dense by the bias + activation epilogue.
 *
 * Layouts: x is N x in (a rank-4 NHWC tensor with h*w*c == in is the same memory: Flatten's
 * channels-last order, so Flatten's backward is free); y is N x out; the kernel W is Keras IO,
 * in x out row-major, float32 device memory in every precision.
 *
 * cuBLAS is column-major: a row-major r x c matrix with leading dimension c is, to cuBLAS, the
 * column-major c x r matrix (its transpose) with the same leading dimension. Hence:
 *   forward   Y = X W      (N x out)  <=>  Y^T (out x N) = W^T (out x in) . X^T (in x N)
 *             cublasGemmEx(N, N, m = out, n = N, k = in, A = W lda = out, B = X ldb = in,
 *                          C = Y ldc = out)
 *   backward  dX = dY W^T  (N x in)   <=>  dX^T (in x N) = W (in x out) . dY^T (out x N)
 *             W's memory is W^T (out x in, ld out) to cuBLAS, so op(A) = A^T:
 *             cublasGemmEx(T, N, m = in, n = N, k = out, A = W lda = out, B = dY ldb = out,
 *                          C = dX ldc = in)
 *   cam_multi per image i: L_i (HW x K) = A_i (HW x C) . Wsel_i (C x K), Wsel_i the gathered
 *             columns (kernels/cam_kernels.h); L_i^T (K x HW) = Wsel_i^T (K x C) . A_i^T (C x HW):
 *             cublasGemmStridedBatchedEx(N, N, m = K, n = HW, k = C, A = Wsel lda = K stride C*K,
 *                          B = A ldb = C stride HW*C, C = L ldc = K stride HW*K, batch = N)
 *
 * Precision (compute types, A/B/C always CUDA_R_32F, scale type float): fp32 CUBLAS_COMPUTE_32F
 * with the handle in CUBLAS_DEFAULT_MATH (TF32 is opt-in in cuBLAS: checked before each call),
 * tf32 CUBLAS_COMPUTE_32F_FAST_TF32, fp16 CUBLAS_COMPUTE_32F_FAST_16F, bf16
 * CUBLAS_COMPUTE_32F_FAST_16BF (cuBLAS rounds the operands inside the GEMM and accumulates in
 * float32). cam_multi is an explanation map: CUBLAS_COMPUTE_32F in every precision.
 *
 * Gradient rule: dx[n,i] = sum_o dy[n,o] * W[i,o]; dy is the gradient BEFORE the fused activation
 * (the engine runs activation_bwd first). dx is overwritten (beta = 0). No weight gradient. */
#include "cuda_layers.h"

#include <limits.h>

#include "kernels/cam_kernels.h"

static cublasComputeType_t gm_cuda_gemm_compute(gm_precision p) {
    switch (p) {
    case GM_PRECISION_TF32: return CUBLAS_COMPUTE_32F_FAST_TF32;
    case GM_PRECISION_FP16: return CUBLAS_COMPUTE_32F_FAST_16F;
    case GM_PRECISION_BF16: return CUBLAS_COMPUTE_32F_FAST_16BF;
    case GM_PRECISION_FP32: break;
    }
    return CUBLAS_COMPUTE_32F;
}

/* alpha/beta are host floats, and CUBLAS_COMPUTE_32F must not be widened to TF32 or emulated by
 * the handle's math mode: the backend sets both at creation; this catches any later change. */
static gm_status gm_cuda_blas_ready(gm_cuda_backend *cb, cublasComputeType_t compute, const char *op) {
    cublasPointerMode_t pm;
    cublasMath_t mode;
    GM_CUBLAS_TRY(cublasGetPointerMode(cb->cublas, &pm));
    GM_CUBLAS_TRY(cublasGetMathMode(cb->cublas, &mode));
    if (pm != CUBLAS_POINTER_MODE_HOST)
        return gm_error(GM_ERR_BACKEND, "cuda %s: the cuBLAS handle is in device pointer mode", op);
    const int base = (int)mode & 0xf & ~(int)CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH;
    if (compute == CUBLAS_COMPUTE_32F && base != CUBLAS_DEFAULT_MATH && base != CUBLAS_PEDANTIC_MATH)
        return gm_error(GM_ERR_BACKEND, "cuda %s: the cuBLAS handle's math mode %d would round float32 GEMM operands",
                        op, (int)mode);
    return GM_OK;
}

gm_status gm_cuda_dense_prepare(gm_backend *be, const gm_dense_desc *desc, const float *kernel_io, const float *bias,
                                gm_layer_weights **out) {
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "cuda dense prepare: output pointer is NULL");
    *out = NULL;
    if (!be || !desc || !kernel_io)
        return gm_error(GM_ERR_INVALID_ARG, "cuda dense prepare: NULL backend, descriptor or kernel");
    if (desc->in <= 0 || desc->out <= 0)
        return gm_error(GM_ERR_INVALID_ARG, "cuda dense prepare: bad kernel shape (%d,%d)", desc->in, desc->out);
    gm_cuda_backend *cb = gm_cuda_cast(be);
    gm_layer_weights *w = NULL;
    GM_TRY(gm_cuda_weights_new(cb, GM_CUDA_LAYER_DENSE, "dense", &desc->act, &w));
    w->dense = *desc;
    float *kernel = NULL;
    gm_status st = gm_cuda_weights_upload(cb, kernel_io, (size_t)desc->in * (size_t)desc->out, &kernel);
    w->kernel = kernel;
    if (st == GM_OK && bias) st = gm_cuda_weights_upload(cb, bias, (size_t)desc->out, &w->bias);
    if (st != GM_OK) {
        gm_cuda_weights_free(be, &w);
        return st;
    }
    *out = w;
    return GM_OK;
}

gm_status gm_cuda_dense_fwd(gm_backend *be, gm_layer_weights *w, const gm_tensor *x, gm_tensor *y) {
    gm_cuda_backend *cb = be ? gm_cuda_cast(be) : NULL;
    GM_TRY(gm_cuda_weights_check(cb, w, GM_CUDA_LAYER_DENSE, "dense"));
    GM_TRY(gm_cuda_check_tensor("dense", "x", x));
    GM_TRY(gm_cuda_check_tensor("dense", "y", y));
    const gm_dense_desc *d = &w->dense;
    long long in = (long long)x->h * x->w * x->c;
    long long out = (long long)y->h * y->w * y->c;
    if (in != d->in || out != d->out || y->n != x->n)
        return gm_error(GM_ERR_SHAPE,
                        "cuda dense: kernel (%d,%d): input (%d,%d,%d,%d) has %lld values per row (%d expected), "
                        "output (%d,%d,%d,%d) has %lld (%d expected)",
                        d->in, d->out, x->n, x->h, x->w, x->c, in, d->in, y->n, y->h, y->w, y->c, out, d->out);
    if (x->data == y->data) return gm_error(GM_ERR_INVALID_ARG, "cuda dense: x and y must not alias");
    const cublasComputeType_t compute = gm_cuda_gemm_compute(w->precision);
    GM_TRY(gm_cuda_blas_ready(cb, compute, "dense"));
    const float one = 1.0f, zero = 0.0f;
    GM_CUBLAS_TRY(cublasGemmEx(cb->cublas, CUBLAS_OP_N, CUBLAS_OP_N, d->out, x->n, d->in, &one, w->kernel, CUDA_R_32F,
                               d->out, x->data, CUDA_R_32F, d->in, &zero, y->data, CUDA_R_32F, d->out, compute,
                               CUBLAS_GEMM_DEFAULT));
    GM_TRY(gm_cuda_debug_sync(cb));
    return gm_cuda_epilogue(cb, w, y->data, (size_t)y->n, d->out);
}

gm_status gm_cuda_dense_bwd_data(gm_backend *be, gm_layer_weights *w, const gm_tensor *dy, gm_tensor *dx) {
    gm_cuda_backend *cb = be ? gm_cuda_cast(be) : NULL;
    GM_TRY(gm_cuda_weights_check(cb, w, GM_CUDA_LAYER_DENSE, "dense_bwd_data"));
    GM_TRY(gm_cuda_check_tensor("dense_bwd_data", "dy", dy));
    GM_TRY(gm_cuda_check_tensor("dense_bwd_data", "dx", dx));
    const gm_dense_desc *d = &w->dense;
    long long in = (long long)dx->h * dx->w * dx->c;
    long long out = (long long)dy->h * dy->w * dy->c;
    if (in != d->in || out != d->out || dy->n != dx->n)
        return gm_error(GM_ERR_SHAPE,
                        "cuda dense_bwd_data: kernel (%d,%d): dx (%d,%d,%d,%d) has %lld values per row (%d expected), "
                        "dy (%d,%d,%d,%d) has %lld (%d expected)",
                        d->in, d->out, dx->n, dx->h, dx->w, dx->c, in, d->in, dy->n, dy->h, dy->w, dy->c, out,
                        d->out);
    if (dx->data == dy->data) return gm_error(GM_ERR_INVALID_ARG, "cuda dense_bwd_data: dx and dy must not alias");
    const cublasComputeType_t compute = gm_cuda_gemm_compute(w->precision);
    GM_TRY(gm_cuda_blas_ready(cb, compute, "dense_bwd_data"));
    const float one = 1.0f, zero = 0.0f;
    GM_CUBLAS_TRY(cublasGemmEx(cb->cublas, CUBLAS_OP_T, CUBLAS_OP_N, d->in, dx->n, d->out, &one, w->kernel,
                               CUDA_R_32F, d->out, dy->data, CUDA_R_32F, d->out, &zero, dx->data, CUDA_R_32F, d->in,
                               compute, CUBLAS_GEMM_DEFAULT));
    return gm_cuda_debug_sync(cb);
}

gm_status gm_cuda_cam_multi(gm_backend *be, const gm_tensor *A, const float *dense_kernel, int n_classes,
                            const int *cls, int k, gm_tensor *L) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda cam_multi: NULL backend");
    gm_cuda_backend *cb = gm_cuda_cast(be);
    GM_TRY(gm_cuda_check_tensor("cam_multi", "A", A));
    GM_TRY(gm_cuda_check_tensor("cam_multi", "L", L));
    if (!dense_kernel || !cls)
        return gm_error(GM_ERR_INVALID_ARG, "cuda cam_multi: %s is NULL", dense_kernel ? "cls" : "dense_kernel");
    if (n_classes <= 0 || k <= 0)
        return gm_error(GM_ERR_INVALID_ARG, "cuda cam_multi: %d classes and %d maps per image, both must be positive",
                        n_classes, k);
    if (L->n != A->n || L->h != A->h || L->w != A->w || L->c != k)
        return gm_error(GM_ERR_SHAPE, "cuda cam_multi: input (%d,%d,%d,%d) needs output (%d,%d,%d,%d), given "
                        "(%d,%d,%d,%d)", A->n, A->h, A->w, A->c, A->n, A->h, A->w, k, L->n, L->h, L->w, L->c);
    const long long hw = (long long)A->h * A->w, total = (long long)A->n * k;
    if (hw > INT_MAX)
        return gm_error(GM_ERR_UNSUPPORTED, "cuda cam_multi: %lld pixels per map exceed cuBLAS's 32-bit dimensions",
                        hw);
    /* The gather kernel trusts its indices: an out-of-range class is caught here, on the host. */
    for (long long i = 0; i < total; ++i)
        if (cls[i] < 0 || cls[i] >= n_classes)
            return gm_error(GM_ERR_INVALID_ARG, "cuda cam_multi: image %lld, map %lld asks for class %d, the dense "
                            "kernel has %d classes", i / k, i % k, cls[i], n_classes);
    GM_TRY(gm_cuda_blas_ready(cb, CUBLAS_COMPUTE_32F, "cam_multi"));
    const int n = A->n, c = A->c;
    int *dcls = NULL;
    void *wsel = NULL;
    GM_TRY(gm_cuda_upload_ints(cb, cls, (size_t)total, &dcls));
    GM_TRY(gm_cuda_scratch(cb, GM_CUDA_SCRATCH_EXTRA, (size_t)n * (size_t)c * (size_t)k * sizeof(float), &wsel));
    GM_TRY(gm_launch_cam_gather(dense_kernel, n_classes, dcls, n, c, k, (float *)wsel, gm_cuda_stream_ptr(cb)));
    const float one = 1.0f, zero = 0.0f;
    GM_CUBLAS_TRY(cublasGemmStridedBatchedEx(cb->cublas, CUBLAS_OP_N, CUBLAS_OP_N, k, (int)hw, c, &one, wsel,
                                             CUDA_R_32F, k, (long long)c * k, A->data, CUDA_R_32F, c, hw * c, &zero,
                                             L->data, CUDA_R_32F, k, hw * k, n, CUBLAS_COMPUTE_32F,
                                             CUBLAS_GEMM_DEFAULT));
    return gm_cuda_debug_sync(cb);
}
