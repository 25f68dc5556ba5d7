/* backend.h — the compute backend interface (DESIGN §4): a table of function pointers that the
 * CPU backend (oneDNN + OpenMP, host/cpu/) and the CUDA backend (cuDNN + cuBLAS + kernels/) fill.
 * explain/ and weights/ call only this table and never know which backend runs.
 *
 * Tensors: logically NHWC, row-major, float32 (Keras's order). A rank-2 tensor (dense input or
 * output) is N x C with h = w = 1. `data` is backend memory (host memory on the CPU backend,
 * device memory on CUDA); it is moved only by upload/download.
 *
 * Gradient rule: every *_bwd_data operation OVERWRITES its output gradient (cuDNN beta = 0).
 * Fan-in (ResNet shortcuts) is summed by the engine with `add`.
 *
 * Layers with weights are "prepared" once per model: the backend converts Keras layouts
 * (conv kernel HWIO, dense kernel IO) into its own and caches per-batch-size primitives
 * (oneDNN primitives, cuDNN algorithm choice) inside the returned gm_layer_weights. */
#ifndef GM_BACKEND_H
#define GM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef struct gm_tensor {
    float *data; /* backend memory */
    int n, h, w, c;
} gm_tensor;

static inline size_t gm_tensor_count(const gm_tensor *t) {
    return (size_t)t->n * (size_t)t->h * (size_t)t->w * (size_t)t->c;
}

typedef enum gm_act_kind {
    GM_ACT_LINEAR = 0,
    GM_ACT_RELU,     /* generalised: see kernels/activation_math.h */
    GM_ACT_SIGMOID,
    GM_ACT_TANH,
    GM_ACT_SOFTMAX   /* over the channel (last) axis */
} gm_act_kind;

typedef struct gm_activation {
    gm_act_kind kind;
    float max_value;      /* GM_ACT_RELU only; INFINITY when unbounded */
    float negative_slope; /* GM_ACT_RELU only */
    float threshold;      /* GM_ACT_RELU only */
} gm_activation;

/* Plain ReLU / linear helpers. */
gm_activation gm_activation_make(gm_act_kind kind);
/* True for a ReLU with Keras's default parameters (max(x,0)). */
int gm_activation_is_plain_relu(const gm_activation *a);
const char *gm_activation_name(const gm_activation *a);

/* Convolution: K kernel rows (kh), S kernel cols (kw). TF asymmetric padding is expressed by
 * explicit per-side pads (the odd extra row/column sits bottom/right for "same"). */
typedef struct gm_conv2d_desc {
    int kh, kw, cin, cout;
    int stride_h, stride_w;
    int dilation_h, dilation_w; /* 1 = dense kernel (Keras convention, not oneDNN's 0) */
    int pad_top, pad_bottom, pad_left, pad_right;
    gm_activation act; /* fused after bias */
} gm_conv2d_desc;

typedef struct gm_dense_desc {
    int in, out;
    gm_activation act; /* fused after bias; never softmax (the graph splits it off) */
} gm_dense_desc;

/* Pooling window; padded cells are ignored (max: -inf, average: excluded from the count), which
 * is TF's "same" rule. */
typedef struct gm_pool_desc {
    int ph, pw;
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
} gm_pool_desc;

typedef enum gm_relu_bwd_mode {
    GM_RELU_BWD_PLAIN = 0,
    GM_RELU_BWD_GUIDED,
    GM_RELU_BWD_DECONV
} gm_relu_bwd_mode;

typedef enum gm_channel_reduce {
    GM_REDUCE_ABS_MAX = 0, /* saliency: max_c |x| */
    GM_REDUCE_SUM          /* input x gradient: sum_c x */
} gm_channel_reduce;

typedef enum gm_cam_weights {
    GM_CAM_WEIGHTS_GRADCAM = 0, /* mean_ij g */
    GM_CAM_WEIGHTS_GRADCAM_PP,  /* sum_ij alpha*relu(g), alpha = g^2/(2g^2 + sum_ab A * g^3), 0 where g = 0 */
    GM_CAM_WEIGHTS_XGRADCAM     /* sum_ij A*g / (sum_ab A + 1e-7) */
} gm_cam_weights;

typedef enum gm_elementwise_cam {
    GM_ELEMENTWISE_HIRESCAM = 0, /* relu(sum_k g*A) */
    GM_ELEMENTWISE_LAYERCAM      /* relu(sum_k relu(g)*A) */
} gm_elementwise_cam;

typedef struct gm_backend gm_backend;
typedef struct gm_layer_weights gm_layer_weights; /* backend-owned prepared weights */

/* Arithmetic of the convolutions and matrix products. Tensors between layers stay float32 in every
 * mode; only the inputs of a convolution / GEMM are rounded (tf32: by the tensor cores; fp16/bf16:
 * stored in that type) and accumulation stays float32. The explanation kernels are always fp32. */
typedef enum gm_precision {
    GM_PRECISION_FP32 = 0, /* IEEE float32 multiply-adds, no tensor-core rounding */
    GM_PRECISION_TF32,     /* float32 data, tensor cores with 10-bit mantissa products */
    GM_PRECISION_FP16,     /* conv/GEMM operands in IEEE half, float32 accumulation */
    GM_PRECISION_BF16      /* conv/GEMM operands in bfloat16, float32 accumulation */
} gm_precision;

/* "fp32", "tf32", "fp16", "bf16" (host/precision.c). */
const char *gm_precision_name(gm_precision p);
gm_status gm_precision_parse(const char *name, gm_precision *out);

/* Convolution algorithm of the CPU backend in fp32. Winograd F(4x4,3x3) cuts the multiplications of
 * a 3x3 stride-1 convolution (forward and backward-data) by more than half, at the price of
 * rounding errors a few times larger than direct convolution's. Backward-data is linear in the
 * incoming gradient, so those errors stay relative ~1e-6 in every map; the forward's errors can flip
 * ReLU decisions of pre-activations near 0, which moves input-gradient maps (saliency, integrated
 * gradients) discontinuously, while CAM-family maps and logits stay continuous in them.
 * The CUDA backend chooses its own algorithms (deterministic ones) and ignores this. */
typedef enum gm_conv_algo {
    GM_CONV_ALGO_AUTO = 0,         /* Winograd for backward-data, direct forward (as WINOGRAD_BACKWARD) */
    GM_CONV_ALGO_DIRECT,           /* direct convolution only */
    GM_CONV_ALGO_WINOGRAD,         /* Winograd wherever the layer's shape allows it, both passes */
    GM_CONV_ALGO_WINOGRAD_BACKWARD /* Winograd in backward-data only */
} gm_conv_algo;

/* "auto", "direct", "winograd", "winograd-bwd" (host/precision.c). */
const char *gm_conv_algo_name(gm_conv_algo a);
gm_status gm_conv_algo_parse(const char *name, gm_conv_algo *out);

typedef struct gm_backend_config {
    int threads;            /* CPU threads; 0 = all cores */
    gm_precision precision; /* GM_PRECISION_FP32 unless asked */
    gm_conv_algo conv_algo; /* CPU fp32 convolution algorithm; GM_CONV_ALGO_AUTO unless asked */
    /* CPU, --precision bf16: 1 keeps forward convolutions in fp32 (direct) and rounds only the
     * backward-data operands to bf16. Input-gradient maps depend on the forward's ReLU decisions,
     * which bf16 rounding flips near 0 (VGG16 saliency: Spearman 0.76 with fp32 in all-bf16); the
     * backward is linear, so its bf16 errors stay small and continuous. */
    int fp32_forward;
    int device_index;       /* CUDA device ordinal (0 = the first) */
    size_t workspace_limit; /* CUDA: cuDNN workspace ceiling in bytes; 0 = the default (256 MiB) */
} gm_backend_config;

typedef struct gm_backend_ops {
    const char *name;

    void (*destroy)(gm_backend **be); /* nulls *be */

    /* One line naming the device and library versions (CPU model / GPU, driver, CUDA, cuDNN,
     * cuBLAS, oneDNN), for `gradmap info`, the bench JSON and results provenance. */
    gm_status (*describe)(gm_backend *be, char *buf, size_t size);
    /* Peak device memory in use since the backend was created, in bytes (CUDA: the device's total
     * minus the lowest free figure seen after an allocation, so other processes count too).
     * NULL on backends whose memory is the host's (the bench reads getrusage instead). */
    gm_status (*memory_peak)(gm_backend *be, size_t *bytes);

    /* Memory. free() nulls the pointer; alloc of 0 bytes returns a valid, freeable pointer. */
    gm_status (*alloc)(gm_backend *be, size_t bytes, void **out);
    void (*free)(gm_backend *be, void **ptr);
    gm_status (*upload)(gm_backend *be, void *dst, const void *host_src, size_t bytes);
    gm_status (*download)(gm_backend *be, void *host_dst, const void *src, size_t bytes);
    gm_status (*sync)(gm_backend *be);

    /* Weights, prepared once. kernel_hwio is (kh,kw,cin,cout); dense kernel_io is (in,out).
     * bias may be NULL (use_bias = False). The backend copies what it needs. */
    gm_status (*conv2d_prepare)(gm_backend *be, const gm_conv2d_desc *desc, const float *kernel_hwio,
                                const float *bias, gm_layer_weights **out);
    gm_status (*dense_prepare)(gm_backend *be, const gm_dense_desc *desc, const float *kernel_io,
                               const float *bias, gm_layer_weights **out);
    void (*weights_free)(gm_backend *be, gm_layer_weights **w); /* nulls *w */

    /* Forward operations. Shapes of y are set by the caller (the graph knows them). */
    gm_status (*conv2d_fwd)(gm_backend *be, gm_layer_weights *w, const gm_tensor *x, gm_tensor *y);
    gm_status (*dense_fwd)(gm_backend *be, gm_layer_weights *w, const gm_tensor *x, gm_tensor *y);
    gm_status (*maxpool_fwd)(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y);
    gm_status (*avgpool_fwd)(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y);
    gm_status (*gap_fwd)(gm_backend *be, const gm_tensor *x, gm_tensor *y); /* y: N x 1 x 1 x C */
    gm_status (*gmp_fwd)(gm_backend *be, const gm_tensor *x, gm_tensor *y);
    /* y = act(x); x == y allowed. Softmax runs over C. */
    gm_status (*activation_fwd)(gm_backend *be, const gm_activation *a, const gm_tensor *x, gm_tensor *y);
    /* y[..., c] = x[..., c] * scale[c] + shift[c]; scale/shift are backend memory of C floats.
     * Used for BatchNormalization that cannot be folded into a convolution. x == y allowed. */
    gm_status (*channel_affine_fwd)(gm_backend *be, const float *scale, const float *shift,
                                    const gm_tensor *x, gm_tensor *y);
    /* y = x * scale + offset (keras Rescaling). x == y allowed. */
    gm_status (*rescale_fwd)(gm_backend *be, float scale, float offset, const gm_tensor *x, gm_tensor *y);
    /* y = a + b, same shapes; y may alias a or b. */
    gm_status (*add)(gm_backend *be, const gm_tensor *a, const gm_tensor *b, gm_tensor *y);
    /* Zero padding: y is x with pad rows/cols of zeros. */
    gm_status (*zero_pad_fwd)(gm_backend *be, int top, int bottom, int left, int right, const gm_tensor *x,
                              gm_tensor *y);

    /* ---- Backward-data (explanation engine). Every op OVERWRITES its output gradient. ----
     * Activations are differentiated from their OUTPUT y (all supported activations allow it:
     * relu family y>threshold, sigmoid y(1-y), tanh 1-y^2, softmax y*(dy - sum(dy*y))), so the
     * engine keeps outputs only and a convolution with a fused activation needs nothing more. */
    gm_status (*conv2d_bwd_data)(gm_backend *be, gm_layer_weights *w, const gm_tensor *dy, gm_tensor *dx);
    gm_status (*dense_bwd_data)(gm_backend *be, gm_layer_weights *w, const gm_tensor *dy, gm_tensor *dx);
    /* Max pooling: the gradient goes to the first maximum of each window (row-major window order,
     * padded cells never chosen), recomputed from the forward input x. Windows that overlap
     * (stride < size) accumulate. */
    gm_status (*maxpool_bwd)(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, const gm_tensor *dy,
                             gm_tensor *dx);
    gm_status (*avgpool_bwd)(gm_backend *be, const gm_pool_desc *p, const gm_tensor *dy, gm_tensor *dx);
    gm_status (*gap_bwd)(gm_backend *be, const gm_tensor *dy, gm_tensor *dx);          /* dy: N x 1 x 1 x C */
    gm_status (*gmp_bwd)(gm_backend *be, const gm_tensor *x, const gm_tensor *dy, gm_tensor *dx);
    /* dx = act'(from y) * dy; for the ReLU family `mode` selects plain, guided backprop (also
     * dy > 0) or deconvnet (dy > 0 only, ignoring y). x == y aliasing of dy/dx allowed. */
    gm_status (*activation_bwd)(gm_backend *be, const gm_activation *a, gm_relu_bwd_mode mode, const gm_tensor *y,
                                const gm_tensor *dy, gm_tensor *dx);
    /* dx[..., c] = dy[..., c] * scale[c] (channel affine / unfolded BN; scale in backend memory). */
    gm_status (*channel_scale_bwd)(gm_backend *be, const float *scale, const gm_tensor *dy, gm_tensor *dx);
    /* dx = dy * scale (Rescaling). */
    gm_status (*rescale_bwd)(gm_backend *be, float scale, const gm_tensor *dy, gm_tensor *dx);
    /* dx = dy without the padded border (the crop that undoes ZeroPadding2D). */
    gm_status (*zero_pad_bwd)(gm_backend *be, int top, int bottom, int left, int right, const gm_tensor *dy,
                              gm_tensor *dx);
    /* y[i] = seed where i is (n, cls[n]) and 0 elsewhere: the one-hot gradient of the logits.
     * cls is host memory, n entries; y is N x C. */
    gm_status (*one_hot)(gm_backend *be, const int *cls, float seed, gm_tensor *y);

    /* ---- Explanation kernels (math in kernels/cam_math.h). Maps are N x H x W x K tensors. ---- */
    /* y (N,H,W,1) = reduction over C of x: |x| max (saliency), or sum. */
    gm_status (*channel_reduce)(gm_backend *be, gm_channel_reduce kind, const gm_tensor *x, gm_tensor *y);
    /* y = a * b element-wise (same shapes; y may alias). */
    gm_status (*multiply)(gm_backend *be, const gm_tensor *a, const gm_tensor *b, gm_tensor *y);
    /* Per-image, per-channel CAM weights w (N,1,1,C) from activations A and gradients G (N,H,W,C). */
    gm_status (*cam_weights)(gm_backend *be, gm_cam_weights kind, const gm_tensor *A, const gm_tensor *G,
                             gm_tensor *w);
    /* L (N,H,W,1) = sum_k w[n,k] * A[n,h,w,k], then ReLU when relu != 0. */
    gm_status (*weighted_channel_sum)(gm_backend *be, const gm_tensor *A, const gm_tensor *w, int relu,
                                      gm_tensor *L);
    /* Class activation maps for K classes at once (Zhou et al.): L (N,H,W,K) with
     * L[n,h,w,k] = sum_c A[n,h,w,c] * W[c, cls[n*K+k]] (+ bias ignored); W is the dense kernel (C x
     * classes) in backend memory, cls host memory. One GEMM per batch on the CPU. */
    gm_status (*cam_multi)(gm_backend *be, const gm_tensor *A, const float *dense_kernel, int n_classes,
                           const int *cls, int k, gm_tensor *L);
    /* L (N,H,W,1) = sum_k f(G)[n,h,w,k] * A[n,h,w,k] then ReLU, f = identity (HiResCAM) or ReLU
     * (LayerCAM). */
    gm_status (*elementwise_cam)(gm_backend *be, gm_elementwise_cam kind, const gm_tensor *A, const gm_tensor *G,
                                 gm_tensor *L);
} gm_backend_ops;

/* Every backend's context starts with this header; the rest is private to the backend. */
struct gm_backend {
    const gm_backend_ops *ops;
};

/* Registry (host/backend_registry.c, the only place that knows which backends were built).
 * device: "auto" (CUDA when a device and the CUDA backend are present, else CPU), "cpu" or
 * "cuda" (GM_ERR_NO_DEVICE with the reason when there is no usable device). */
gm_status gm_backend_open(const char *device, const gm_backend_config *cfg, gm_backend **out);
void gm_backend_close(gm_backend **be);

/* The CPU backend's constructor (host/cpu/). */
gm_status gm_cpu_backend_create(const gm_backend_config *cfg, gm_backend **out);

#endif
