/* cuda_conv_algo.c — per-shape plans of the CUDA backend's convolutions: the cuDNN tensor
 * descriptors of one input shape (NHWC, checked back against the strides NHWC implies and against
 * cuDNN's own output size), and the algorithm of each pass, chosen ONCE per shape from cuDNN's
 * heuristics (cudnnGetConvolution{Forward,BackwardData}Algorithm_v7: no benchmarking, no trial
 * allocations) and cached in the layer (cuda_layers.h). See docs/cuda-cudnn-checks.md.
 *
 * The choice, in cuDNN's ranking order, is the first result that
 * - has status CUDNN_STATUS_SUCCESS and determinism CUDNN_DETERMINISTIC (explanations must be
 *   reproducible run to run; this excludes backward-data ALGO_0, which sums with atomics);
 * - has a math type the precision allows: fp32 only CUDNN_FMA_MATH, because CUDNN_DEFAULT_MATH
 *   permits TF32 tensor cores for float data on Ampere and newer (on older GPUs the two are the
 *   same and DEFAULT is accepted); tf32/fp16/bf16 CUDNN_TENSOR_OP_MATH, DEFAULT or FMA; never
 *   CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, which may round float operands to fp16;
 * - is an exact (GEMM-family) algorithm when any qualifies: FFT and Winograd transforms round
 *   differently, and the CPU backend never uses Winograd either; they are a fallback only;
 * - needs a workspace, as cudnnGet*WorkspaceSize reports it for that algorithm and math type,
 *   within the backend's workspace limit.
 * The descriptor's math type is set to the request before the query (so cuDNN ranks tensor-core
 * and FMA kernels for it) and to the chosen result's before the size query and every call, as
 * cuDNN 7.4+ picks kernels from the algorithm and the descriptor's math type together. */
#include "cuda_layers.h"

#include <limits.h>

#include "kernels/pool_math.h"

/* Bound of the result arrays: cuDNN 9 ranks at most 8 forward / 6 backward-data algorithms. */
#define GM_CUDA_PERF_MAX 32

const char *gm_cuda_conv_algo_name(gm_cuda_conv_pass pass, int algo) {
    static const char *const fwd[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                      "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
    static const char *const bwd[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
    if (pass == GM_CUDA_CONV_FWD) return algo >= 0 && algo < CUDNN_CONVOLUTION_FWD_ALGO_COUNT ? fwd[algo] : "?";
    return algo >= 0 && algo < CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT ? bwd[algo] : "?";
}

static int gm_cuda_algo_exact(gm_cuda_conv_pass pass, int algo) {
    if (pass == GM_CUDA_CONV_FWD)
        return algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM ||
               algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM || algo == CUDNN_CONVOLUTION_FWD_ALGO_GEMM ||
               algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT;
    return algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_0 || algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
}

static cudnnMathType_t gm_cuda_math_request(gm_precision p) {
    return p == GM_PRECISION_FP32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
}

static int gm_cuda_math_allowed(const gm_cuda_backend *cb, gm_precision p, cudnnMathType_t m) {
    if (m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return 0;
    if (p == GM_PRECISION_FP32) return m == CUDNN_FMA_MATH || (m == CUDNN_DEFAULT_MATH && cb->cc_major < 8);
    return m == CUDNN_FMA_MATH || m == CUDNN_DEFAULT_MATH || m == CUDNN_TENSOR_OP_MATH;
}

/* One heuristic result, whichever pass it came from. */
typedef struct gm_cuda_perf {
    int algo;
    cudnnStatus_t status;
    size_t memory;
    cudnnDeterminism_t determinism;
    cudnnMathType_t math;
} gm_cuda_perf;

static gm_status gm_cuda_heuristics(gm_cuda_backend *cb, gm_layer_weights *w, const gm_cuda_conv_plan *p,
                                    gm_cuda_conv_pass pass, gm_cuda_perf *out, int *count) {
    /* Request as many results as cuDNN says it can rank (the documented use, as PyTorch does);
     * it stores at most `max` and reports how many in `got`. */
    int max = 0, got = 0;
    *count = 0;
    if (pass == GM_CUDA_CONV_FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[GM_CUDA_PERF_MAX];
        GM_CUDNN_TRY(cudnnGetConvolutionForwardAlgorithmMaxCount(cb->cudnn, &max));
        if (max <= 0 || max > GM_CUDA_PERF_MAX) max = GM_CUDA_PERF_MAX;
        GM_CUDNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7(cb->cudnn, p->in, w->filter, w->conv_desc, p->out, max,
                                                            &got, perf));
        for (int i = 0; i < got && i < max; ++i)
            out[i] = (gm_cuda_perf){(int)perf[i].algo, perf[i].status, perf[i].memory, perf[i].determinism,
                                    perf[i].mathType};
    } else {
        cudnnConvolutionBwdDataAlgoPerf_t perf[GM_CUDA_PERF_MAX];
        GM_CUDNN_TRY(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(cb->cudnn, &max));
        if (max <= 0 || max > GM_CUDA_PERF_MAX) max = GM_CUDA_PERF_MAX;
        GM_CUDNN_TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7(cb->cudnn, w->filter, p->out, w->conv_desc, p->in,
                                                                 max, &got, perf));
        for (int i = 0; i < got && i < max; ++i)
            out[i] = (gm_cuda_perf){(int)perf[i].algo, perf[i].status, perf[i].memory, perf[i].determinism,
                                    perf[i].mathType};
    }
    *count = got < max ? got : max;
    return GM_OK;
}

static cudnnStatus_t gm_cuda_workspace_size(gm_cuda_backend *cb, gm_layer_weights *w, const gm_cuda_conv_plan *p,
                                            gm_cuda_conv_pass pass, int algo, size_t *bytes) {
    if (pass == GM_CUDA_CONV_FWD)
        return cudnnGetConvolutionForwardWorkspaceSize(cb->cudnn, p->in, w->filter, w->conv_desc, p->out,
                                                       (cudnnConvolutionFwdAlgo_t)algo, bytes);
    return cudnnGetConvolutionBackwardDataWorkspaceSize(cb->cudnn, w->filter, p->out, w->conv_desc, p->in,
                                                        (cudnnConvolutionBwdDataAlgo_t)algo, bytes);
}

static gm_status gm_cuda_choose(gm_cuda_backend *cb, gm_layer_weights *w, gm_cuda_conv_plan *p, gm_cuda_conv_pass pass,
                                const char *op) {
    const size_t limit = cb->workspace_limit ? cb->workspace_limit : GM_CUDA_DEFAULT_WORKSPACE;
    gm_cuda_perf perf[GM_CUDA_PERF_MAX];
    int count = 0;
    GM_CUDNN_TRY(cudnnSetConvolutionMathType(w->conv_desc, gm_cuda_math_request(w->precision)));
    GM_TRY(gm_cuda_heuristics(cb, w, p, pass, perf, &count));
    int failed = 0, nondeterministic = 0, math = 0, memory = 0;
    for (int exact_only = 1; exact_only >= 0; --exact_only) {
        for (int i = 0; i < count; ++i) {
            const gm_cuda_perf *r = &perf[i];
            if (exact_only != gm_cuda_algo_exact(pass, r->algo)) continue; /* each result is seen once */
            if (r->status != CUDNN_STATUS_SUCCESS) {
                failed++;
                continue;
            }
            if (r->determinism != CUDNN_DETERMINISTIC) {
                nondeterministic++;
                continue;
            }
            if (!gm_cuda_math_allowed(cb, w->precision, r->math)) {
                math++;
                continue;
            }
            GM_CUDNN_TRY(cudnnSetConvolutionMathType(w->conv_desc, r->math));
            size_t bytes = 0;
            if (gm_cuda_workspace_size(cb, w, p, pass, r->algo, &bytes) != CUDNN_STATUS_SUCCESS) {
                failed++;
                continue;
            }
            if (bytes > limit) {
                memory++;
                continue;
            }
            p->pass[pass] = (gm_cuda_conv_algo){1, r->algo, r->math, bytes};
            w->algos_chosen++;
            return GM_OK;
        }
    }
    const gm_conv2d_desc *d = &w->conv;
    return gm_error(GM_ERR_UNSUPPORTED,
                    "cuda %s: kernel (%d,%d,%d,%d) stride (%d,%d) dilation (%d,%d) input (%d,%d,%d,%d), precision %s: "
                    "no cuDNN %s algorithm qualifies (%d results: %d not supported, %d non-deterministic, %d with a "
                    "math type %s forbids, %d over the %.0f MiB workspace limit)",
                    op, d->kh, d->kw, d->cin, d->cout, d->stride_h, d->stride_w, d->dilation_h, d->dilation_w, p->n,
                    p->h, p->w, d->cin, gm_cuda_precision_label(w->precision),
                    pass == GM_CUDA_CONV_FWD ? "forward" : "backward-data", count, failed, nondeterministic, math,
                    gm_cuda_precision_label(w->precision), memory, (double)limit / 1048576.0);
}

/* Sets an NHWC descriptor and reads it back: the strides must be the packed NHWC ones that the
 * kernels and the engine's buffers assume (C fastest, then W, then H). */
static gm_status gm_cuda_nhwc_desc(cudnnTensorDescriptor_t t, cudnnDataType_t dtype, int n, int c, int h, int w,
                                   const char *op, const char *what) {
    if ((long long)n * c * h * w > INT_MAX)
        return gm_error(GM_ERR_UNSUPPORTED,
                        "cuda %s: %s (%d,%d,%d,%d) has more than 2^31 elements, beyond cuDNN's 32-bit tensor "
                        "descriptors; use a smaller batch", op, what, n, h, w, c);
    GM_CUDNN_TRY(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NHWC, dtype, n, c, h, w));
    cudnnDataType_t got_type;
    int gn, gc, gh, gw, ns, cs, hs, ws;
    GM_CUDNN_TRY(cudnnGetTensor4dDescriptor(t, &got_type, &gn, &gc, &gh, &gw, &ns, &cs, &hs, &ws));
    if (got_type != dtype || gn != n || gc != c || gh != h || gw != w || ns != h * w * c || cs != 1 || hs != w * c ||
        ws != c)
        return gm_error(GM_ERR_BACKEND,
                        "cuda %s: cuDNN describes %s (%d,%d,%d,%d) NHWC with dims (n%d,c%d,h%d,w%d) and strides "
                        "(n%d,c%d,h%d,w%d), not packed NHWC", op, what, n, h, w, c, gn, gc, gh, gw, ns, cs, hs, ws);
    return GM_OK;
}

/* Makes the plan's descriptors for input (n, h, wd): cuDNN's input is the padded tensor when the
 * pads are asymmetric (cuda_conv.c pads it explicitly and the convolution pads 0). */
static gm_status gm_cuda_plan_make(gm_layer_weights *w, gm_cuda_conv_plan *p, int n, int h, int wd, const char *op) {
    const gm_conv2d_desc *d = &w->conv;
    const int oh = gm_conv_out_dim(h, d->kh, d->dilation_h, d->stride_h, d->pad_top, d->pad_bottom);
    const int ow = gm_conv_out_dim(wd, d->kw, d->dilation_w, d->stride_w, d->pad_left, d->pad_right);
    const int hp = w->explicit_pad ? h + d->pad_top + d->pad_bottom : h;
    const int wp = w->explicit_pad ? wd + d->pad_left + d->pad_right : wd;
    GM_CUDNN_TRY(cudnnCreateTensorDescriptor(&p->in));
    GM_CUDNN_TRY(cudnnCreateTensorDescriptor(&p->out));
    GM_TRY(gm_cuda_nhwc_desc(p->in, w->dtype, n, d->cin, hp, wp, op, "input"));
    GM_TRY(gm_cuda_nhwc_desc(p->out, w->dtype, n, d->cout, oh, ow, op, "output"));
    /* cuDNN must agree with TF's output size, or the engine's buffers and cuDNN's would differ. */
    int cn = 0, cc = 0, ch = 0, cw = 0;
    GM_CUDNN_TRY(cudnnGetConvolution2dForwardOutputDim(w->conv_desc, p->in, w->filter, &cn, &cc, &ch, &cw));
    if (cn != n || cc != d->cout || ch != oh || cw != ow)
        return gm_error(GM_ERR_BACKEND,
                        "cuda %s: kernel (%d,%d,%d,%d) stride (%d,%d) dilation (%d,%d) pads (t%d,b%d,l%d,r%d) on input "
                        "(%d,%d,%d,%d): cuDNN computes output (%d,%d,%d,%d), TensorFlow (%d,%d,%d,%d)",
                        op, d->kh, d->kw, d->cin, d->cout, d->stride_h, d->stride_w, d->dilation_h, d->dilation_w,
                        d->pad_top, d->pad_bottom, d->pad_left, d->pad_right, n, h, wd, d->cin, cn, ch, cw, cc, n, oh,
                        ow, d->cout);
    p->n = n;
    p->h = h;
    p->w = wd;
    return GM_OK;
}

gm_status gm_cuda_conv_plan_get(gm_cuda_backend *cb, gm_layer_weights *w, gm_cuda_conv_pass pass, int n, int h,
                                int wd, const char *op, gm_cuda_conv_plan **out) {
    gm_cuda_conv_plan *p = NULL, *victim = NULL;
    for (int i = 0; i < GM_CUDA_CONV_PLANS && !p; ++i) {
        gm_cuda_conv_plan *e = &w->plans[i];
        if (e->in && e->n == n && e->h == h && e->w == wd) p = e;
        else if (!victim || (victim->in && (!e->in || e->last_use < victim->last_use))) victim = e;
    }
    if (!p) {
        p = victim;
        gm_cuda_conv_plan_clear(p);
        gm_status st = gm_cuda_plan_make(w, p, n, h, wd, op);
        if (st != GM_OK) {
            gm_cuda_conv_plan_clear(p);
            return st;
        }
        w->plans_created++;
    }
    p->last_use = ++w->clock;
    /* A failed choice leaves the plan without one; the next call asks again and fails the same way. */
    if (!p->pass[pass].chosen) GM_TRY(gm_cuda_choose(cb, w, p, pass, op));
    *out = p;
    return GM_OK;
}
