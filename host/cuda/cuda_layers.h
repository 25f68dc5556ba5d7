/* cuda_layers.h — the CUDA backend's prepared layers (struct gm_layer_weights for Conv2D and Dense)
 * and the helpers that cuda_conv.c, cuda_conv_algo.c, cuda_dense.c and cuda_weights.c share.
 *
 * Layouts, all device memory. Shape letters: N batch, H/W input rows/cols, K output channels
 * (cout), C input channels (cin), R/S kernel rows/cols (kh/kw).
 * - Conv kernel: cuDNN filter in CUDNN_TENSOR_NHWC format, which is K x R x S x C row-major
 *   (cout, kh, kw, cin), converted once from Keras's HWIO (kh, kw, cin, cout). Its element type
 *   is the precision's operand type: float32 for fp32/tf32, IEEE half for fp16, bfloat16 for bf16
 *   (only the 16-bit copy is kept then: forward and backward-data both read it).
 * - Dense kernel: Keras IO (in x out, row-major), float32 in every precision; cuBLAS rounds the
 *   operands inside the GEMM according to the compute type (cuda_dense.c).
 * - Bias: float32, one per output channel, added by the epilogue kernel after the convolution or
 *   GEMM together with the activation; NULL when the layer has no bias.
 *
 * Per-shape plans: a conv layer keeps up to GM_CUDA_CONV_PLANS input shapes (n, h, w), each with
 * its cuDNN tensor descriptors and, chosen once per pass on first use, the algorithm, math type
 * and workspace size. Least-recently-used plans are replaced, like the CPU's primitive cache; a
 * run sees one or two batch sizes, so replacement is rare. Plans are shared by the forward and the
 * backward-data pass of a shape: the forward's x/y descriptors are the backward's dx/dy ones. */
#ifndef GM_CUDA_LAYERS_H
#define GM_CUDA_LAYERS_H

#include "cuda_internal.h"

#define GM_CUDA_CONV_PLANS 8

typedef enum gm_cuda_layer_kind { GM_CUDA_LAYER_CONV2D = 1, GM_CUDA_LAYER_DENSE } gm_cuda_layer_kind;

typedef enum gm_cuda_conv_pass { GM_CUDA_CONV_FWD = 0, GM_CUDA_CONV_BWD_DATA } gm_cuda_conv_pass;

/* The algorithm of one pass of one shape, fixed on first use (cuda_conv_algo.c). */
typedef struct gm_cuda_conv_algo {
    int chosen;           /* 0 until chosen */
    int algo;             /* cudnnConvolutionFwdAlgo_t or cudnnConvolutionBwdDataAlgo_t */
    cudnnMathType_t math; /* set on the convolution descriptor before every call with this algo */
    size_t workspace;     /* cudnnGet*WorkspaceSize for (descriptors, algo, math); <= workspace_limit */
} gm_cuda_conv_algo;

typedef struct gm_cuda_conv_plan {
    cudnnTensorDescriptor_t in;  /* x / dx as cuDNN sees it (explicitly padded when pads are asymmetric); NULL = free */
    cudnnTensorDescriptor_t out; /* y / dy */
    int n, h, w;                 /* key: the layer input shape (x of the forward, dx of the backward) */
    uint64_t last_use;
    gm_cuda_conv_algo pass[2];   /* indexed by gm_cuda_conv_pass */
} gm_cuda_conv_plan;

struct gm_layer_weights {
    gm_cuda_layer_kind kind;
    gm_precision precision; /* the backend's at prepare time: fixes the filter's element type */
    gm_conv2d_desc conv;    /* kind == CONV2D */
    gm_dense_desc dense;    /* kind == DENSE */
    gm_activation act;      /* fused after bias by the epilogue */
    void *kernel;           /* conv: KRSC filter in `dtype`; dense: IO float32 */
    float *bias;            /* NULL when use_bias = False */
    /* Conv only. */
    cudnnDataType_t dtype; /* element type of x, y and the filter as cuDNN sees them */
    cudnnFilterDescriptor_t filter;
    cudnnConvolutionDescriptor_t conv_desc;
    int explicit_pad; /* asymmetric pads: the input is zero-padded into scratch, cuDNN pads 0 */
    gm_cuda_conv_plan plans[GM_CUDA_CONV_PLANS];
    uint64_t clock;
    long plans_created, algos_chosen; /* for tests: prove reuse */
};

/* "fp32", "tf32", "fp16", "bf16" (the plugin links no core function but status.c's). */
static inline const char *gm_cuda_precision_label(gm_precision p) {
    switch (p) {
    case GM_PRECISION_FP32: return "fp32";
    case GM_PRECISION_TF32: return "tf32";
    case GM_PRECISION_FP16: return "fp16";
    case GM_PRECISION_BF16: return "bf16";
    }
    return "?";
}

/* 1 when conv operands are stored as 16-bit values (fp16 / bf16 precision). */
static inline int gm_cuda_precision_is_16bit(gm_precision p) {
    return p == GM_PRECISION_FP16 || p == GM_PRECISION_BF16;
}

/* cuda_weights.c */
/* A zeroed gm_layer_weights of `kind` for the backend's precision, after checking the activation. */
gm_status gm_cuda_weights_new(gm_cuda_backend *cb, gm_cuda_layer_kind kind, const char *op, const gm_activation *act,
                              gm_layer_weights **out);
/* Device copy of `count` host floats (alloc + stream-ordered upload; the host buffer may be
 * released on return). */
gm_status gm_cuda_weights_upload(gm_cuda_backend *cb, const float *host, size_t count, float **out);
/* Operations on prepared weights check that they are the right kind for this backend. */
gm_status gm_cuda_weights_check(const gm_cuda_backend *cb, const gm_layer_weights *w, gm_cuda_layer_kind kind,
                                const char *op);
/* y[r, k] = act(y[r, k] + bias[k]) over rows x c, softmax per row of c. */
gm_status gm_cuda_epilogue(gm_cuda_backend *cb, const gm_layer_weights *w, float *y, size_t rows, int c);
/* With GRADMAP_CUDA_SYNC=1: waits for the stream after a cuDNN / cuBLAS call, so that a fault is
 * reported by the call that made it. */
gm_status gm_cuda_debug_sync(gm_cuda_backend *cb);
/* Destroys a plan's descriptors and marks the slot free. */
void gm_cuda_conv_plan_clear(gm_cuda_conv_plan *p);
/* Counters for tests: plans cached now, plans created and algorithms chosen so far. */
void gm_cuda_weights_stats(const gm_layer_weights *w, int *plans, long *created, long *chosen);

/* cuda_conv_algo.c */
/* The plan for input shape (n, h, wd), its descriptors made and the algorithm of `pass` chosen on
 * first use. `op` names the operation in messages. */
gm_status gm_cuda_conv_plan_get(gm_cuda_backend *cb, gm_layer_weights *w, gm_cuda_conv_pass pass, int n, int h,
                                int wd, const char *op, gm_cuda_conv_plan **out);
/* The cuDNN algorithm's name, for messages and the bench ("IMPLICIT_PRECOMP_GEMM"). */
const char *gm_cuda_conv_algo_name(gm_cuda_conv_pass pass, int algo);

#endif
