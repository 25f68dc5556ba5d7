/* cpu_internal.h — private state of the CPU backend (oneDNN + OpenMP), shared by the files of host/cpu/:
 * the backend context (engine, stream, pooling-primitive cache), the prepared weights of conv and
 * dense layers (per-shape primitive cache, weights reordered into oneDNN's preferred blocked
 * format), the GM_DNNL_TRY error macro, and the entry points the ops table points at.
 *
 * Layouts: activations are plain NHWC float32 host memory (oneDNN tag nhwc, logical dims given
 * to oneDNN in its N,C,H,W order); a rank-2 tensor is N x C (tag nc). Keras conv kernels arrive as
 * HWIO (tag hwio over oneDNN's O,I,H,W dims), dense kernels as IO (tag io over O,I).
 *
 * Convolutions may run in another layout or type than the tensors they read and write (blocked
 * nChw16c for Winograd, bfloat16 operands in --precision bf16, see cpu_conv_plan.c): such a
 * primitive's entry carries reorders from and to plain f32 NHWC through the backend's two
 * grow-only scratch buffers, so the rest of the backend and the engine only see f32 NHWC.
 *
 * Threading: a gm_backend is used by one thread at a time (its caches are not locked); oneDNN
 * and the OpenMP loops parallelise inside each call. */
#ifndef GM_CPU_INTERNAL_H
#define GM_CPU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <oneapi/dnnl/dnnl.h>

#include "host/backend.h"

#define GM_CPU_ALIGN 64
/* Distinct input shapes (batch sizes, in practice) kept per layer, and pooling primitives kept
 * per backend. A run uses one or two batch sizes (full batches and the last partial one), so a
 * handful of slots is plenty; least-recently-used entries are replaced. */
#define GM_CPU_PRIM_SLOTS 8
#define GM_CPU_POOL_SLOTS 16
#define GM_CPU_SCRATCH_SLOTS 3
#define GM_CPU_SCRATCHPAD 2 /* the scratch slot of oneDNN scratchpads */

/* Records "file:line: call failed: oneDNN status" as the thread's error. */
gm_status gm_cpu_dnnl_error(dnnl_status_t s, const char *call, const char *file, int line);

#define GM_DNNL_TRY(call)                                                            \
    do {                                                                             \
        dnnl_status_t gm_dnnl_status_ = (call);                                      \
        if (gm_dnnl_status_ != dnnl_success)                                         \
            return gm_cpu_dnnl_error(gm_dnnl_status_, #call, __FILE__, __LINE__);    \
    } while (0)

/* Same, for functions that must release resources: stores the status in `st` and jumps. */
#define GM_DNNL_GOTO(call, st, label)                                                \
    do {                                                                             \
        dnnl_status_t gm_dnnl_status_ = (call);                                      \
        if (gm_dnnl_status_ != dnnl_success) {                                       \
            (st) = gm_cpu_dnnl_error(gm_dnnl_status_, #call, __FILE__, __LINE__);    \
            goto label;                                                              \
        }                                                                            \
    } while (0)

/* One cached pooling primitive, keyed by algorithm, window and input shape. */
typedef struct gm_cpu_pool_entry {
    dnnl_primitive_t prim; /* NULL = free slot */
    uint64_t last_use;
    int alg; /* dnnl_alg_kind_t */
    gm_pool_desc desc;
    int n, h, w, c;
    dnnl_memory_t src, dst; /* no buffer of their own; handles set per call */
} gm_cpu_pool_entry;

typedef struct gm_cpu_backend {
    gm_backend base; /* first, so a gm_backend* is a gm_cpu_backend* */
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int threads; /* as configured; 0 = OpenMP's default */
    gm_precision precision;  /* FP32 or BF16 (convolution operands) */
    gm_conv_algo conv_algo;  /* fp32 convolutions: AUTO, DIRECT, WINOGRAD or WINOGRAD_BACKWARD */
    int fp32_forward;        /* bf16: forward convolutions stay fp32 (gm_backend_config) */
    /* Staging for converted convolution operands: [0] the input side, [1] the output side; [2]
     * the convolutions' oneDNN scratchpads (user-managed, so that oneDNN's GEMM-based kernels do
     * not map a fresh column buffer on every call). Grown in the first batch, then reused. */
    void *scratch[GM_CPU_SCRATCH_SLOTS];
    size_t scratch_bytes[GM_CPU_SCRATCH_SLOTS];
    uint64_t clock; /* LRU time stamps */
    gm_cpu_pool_entry pool[GM_CPU_POOL_SLOTS];
    long pool_primitives_created; /* for tests: proves reuse */
} gm_cpu_backend;

static inline gm_cpu_backend *gm_cpu_cast(gm_backend *be) { return (gm_cpu_backend *)be; }

typedef enum gm_cpu_layer_kind { GM_CPU_LAYER_CONV2D = 1, GM_CPU_LAYER_DENSE } gm_cpu_layer_kind;

/* One cached conv/dense primitive for one input shape. */
typedef struct gm_cpu_prim_entry {
    dnnl_primitive_t prim; /* NULL = free slot */
    uint64_t last_use;
    int n, h, w;            /* key: input shape (dense: h = w = 1, the row length is fixed) */
    /* n < 0: a backward-data primitive for batch -n (see gm_cpu_weights_primitive); the forward lookup
     * matches positive n only. For it, src is diff_dst (dy) and dst is diff_src (dx). */
    int format;             /* index into gm_layer_weights.formats */
    dnnl_memory_t src, dst; /* no buffer of their own; handles set per call */
    /* When the primitive's src (dst) is not plain f32 NHWC / NC: a reorder from the caller's
     * tensor into scratch[0] (from scratch[1] into the caller's tensor), NULL otherwise. The
     * *_user memories describe the caller's tensor; all handles are set per call. */
    dnnl_primitive_t in_reorder, out_reorder;
    dnnl_memory_t in_user, out_user;
    dnnl_memory_t scratchpad; /* user-managed scratchpad (handle set per call), NULL when none */
} gm_cpu_prim_entry;

struct gm_layer_weights {
    gm_cpu_layer_kind kind;
    gm_conv2d_desc conv;  /* kind == CONV2D */
    gm_dense_desc dense;  /* kind == DENSE */
    gm_activation act;    /* the layer's activation (copied from the desc) */
    int act_in_loop;      /* 1: activation applied by an OpenMP loop after the primitive */
    /* Keras-layout copy of the kernel, kept only until the first reorder; later formats are
     * reordered from an existing one, so steady state holds a single copy of the weights. */
    dnnl_memory_t keras_weights;
    dnnl_memory_t bias; /* NULL when use_bias = False */
    /* Weights in the blocked formats the cached primitives asked for. oneDNN normally picks
     * the same format for every batch size, so there is usually exactly one. */
    dnnl_memory_t formats[GM_CPU_PRIM_SLOTS];
    gm_cpu_prim_entry entries[GM_CPU_PRIM_SLOTS];
    uint64_t clock;
    long primitives_created, reorders_done; /* for tests: prove reuse */
};

/* Builds the operation's primitive descriptor for an input of n x h x w with the activation
 * post-ops of w->act. weights_md NULL means weights format `any` (oneDNN chooses); otherwise the
 * primitive must use that existing format. */
typedef gm_status (*gm_cpu_pd_builder)(gm_cpu_backend *cb, const gm_layer_weights *w, int n, int h, int wd,
                                       const dnnl_memory_desc_t *weights_md, dnnl_primitive_desc_t *pd);

typedef enum gm_cpu_pass { GM_CPU_FORWARD = 0, GM_CPU_BACKWARD_DATA } gm_cpu_pass;

/* cpu_conv_plan.c: how a convolution of this backend runs: algorithm, operand type and layout. */
typedef struct gm_cpu_conv_plan {
    dnnl_alg_kind_t alg;            /* dnnl_convolution_direct or dnnl_convolution_winograd */
    dnnl_data_type_t operand_type;  /* the rounded input (forward: src, backward: diff_dst) and weights */
    dnnl_format_tag_t layout;       /* activation layout inside the primitive: nhwc, nChw16c or nchw */
} gm_cpu_conv_plan;
/* The plan for this layer on an h x w input; `direct_only` asks for the direct fallback (when oneDNN
 * refuses the Winograd descriptor for this shape). */
gm_cpu_conv_plan gm_cpu_conv_choose(const gm_cpu_backend *cb, const gm_conv2d_desc *d, gm_cpu_pass pass, int h,
                                    int w, int direct_only);
/* The operation's descriptor for `plan` (forward: cpu_conv.c, backward-data: cpu_conv_bwd.c). */
typedef dnnl_status_t (*gm_cpu_conv_pd_fn)(gm_cpu_backend *cb, const gm_layer_weights *w, int n, int h, int wd,
                                           const dnnl_memory_desc_t *weights_md, gm_cpu_conv_plan plan,
                                           dnnl_primitive_desc_t *pd);
/* The primitive descriptor of the layer's plan for this pass, falling back from Winograd to direct
 * when oneDNN refuses the shape (only while the weights format is free); errors name the layer. */
gm_status gm_cpu_conv_build_planned(gm_cpu_backend *cb, const gm_layer_weights *w, gm_cpu_pass pass, int n, int h,
                                    int wd, const dnnl_memory_desc_t *weights_md, gm_cpu_conv_pd_fn make,
                                    dnnl_primitive_desc_t *pd);
/* Images per call for a batch of n: n when the plan needs no staging, else as many as fit the
 * staging budget (at least 1). The per-image sizes are the caller's f32 operands (input, output). */
int gm_cpu_conv_chunk(const gm_cpu_backend *cb, const gm_conv2d_desc *d, gm_cpu_pass pass, int n, int h, int w,
                      size_t in_floats_per_image, size_t out_floats_per_image);
/* cpu_backend.c: scratch buffer `slot` (< GM_CPU_SCRATCH_SLOTS) of at least `bytes`, grown (never
 * shrunk) on demand. */
gm_status gm_cpu_scratch(gm_cpu_backend *cb, int slot, size_t bytes, void **out);

/* cpu_weights.c: the shared machinery of prepared layers. */
gm_status gm_cpu_weights_new(gm_cpu_backend *cb, gm_cpu_layer_kind kind, const dnnl_memory_desc_t *keras_md,
                             const float *kernel, int bias_len, const float *bias, gm_layer_weights **out);
void gm_cpu_weights_free(gm_backend *be, gm_layer_weights **w);
/* cpu_describe.c */
gm_status gm_cpu_describe(gm_backend *be, char *buf, size_t size);
/* Returns the cached primitive for this input shape, creating it (and reordering the weights
 * into its format when no cached format matches) on first use. */
gm_status gm_cpu_weights_primitive(gm_cpu_backend *cb, gm_layer_weights *w, gm_cpu_pass pass, int n, int h, int wd,
                                   gm_cpu_pd_builder build, gm_cpu_prim_entry **out);
/* Runs the entry's primitive on x -> y (both plain host memory), then the activation loop when
 * the activation could not be fused. `rows` x `cols` is y viewed as a matrix over its last axis. */
gm_status gm_cpu_weights_execute(gm_cpu_backend *cb, gm_layer_weights *w, gm_cpu_prim_entry *e, const float *x,
                                 float *y, size_t rows, int cols);
/* oneDNN's implementation name of the cached primitive for that input shape, or NULL. */
const char *gm_cpu_weights_impl_info(const gm_layer_weights *w, int n, int h, int wd);
/* Counters for tests: primitives cached now, created so far, weight reorders so far. */
void gm_cpu_weights_stats(const gm_layer_weights *w, int *cached, long *created, long *reorders);

/* Attribute carrying the activation as eltwise post-ops. *in_loop is set when the activation
 * cannot be expressed as post-ops (thresholded ReLU, softmax) and no post-op was added. */
gm_status gm_cpu_act_attr(const gm_activation *a, dnnl_primitive_attr_t *attr, int *in_loop);

/* cpu_elementwise.c: applies an activation in place to rows x cols values (softmax per row). */
void gm_cpu_act_apply(const gm_activation *a, float *y, size_t rows, int cols);

/* Shape checks shared by the ops: a tensor with positive dims and data, and "same shape". */
gm_status gm_cpu_check_tensor(const char *op, const char *name, const gm_tensor *t);
gm_status gm_cpu_check_same_shape(const char *op, const gm_tensor *a, const gm_tensor *b);

/* Ops-table entries. */
gm_status gm_cpu_conv2d_prepare(gm_backend *be, const gm_conv2d_desc *desc, const float *kernel_hwio,
                                const float *bias, gm_layer_weights **out);
gm_status gm_cpu_conv2d_fwd(gm_backend *be, gm_layer_weights *w, const gm_tensor *x, gm_tensor *y);
gm_status gm_cpu_dense_prepare(gm_backend *be, const gm_dense_desc *desc, const float *kernel_io,
                               const float *bias, gm_layer_weights **out);
gm_status gm_cpu_dense_fwd(gm_backend *be, gm_layer_weights *w, const gm_tensor *x, gm_tensor *y);
gm_status gm_cpu_maxpool_fwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y);
gm_status gm_cpu_avgpool_fwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y);
void gm_cpu_pool_cache_clear(gm_cpu_backend *cb);
gm_status gm_cpu_gap_fwd(gm_backend *be, const gm_tensor *x, gm_tensor *y);
gm_status gm_cpu_gmp_fwd(gm_backend *be, const gm_tensor *x, gm_tensor *y);
gm_status gm_cpu_activation_fwd(gm_backend *be, const gm_activation *a, const gm_tensor *x, gm_tensor *y);
gm_status gm_cpu_channel_affine_fwd(gm_backend *be, const float *scale, const float *shift, const gm_tensor *x,
                                    gm_tensor *y);
gm_status gm_cpu_rescale_fwd(gm_backend *be, float scale, float offset, const gm_tensor *x, gm_tensor *y);
gm_status gm_cpu_add(gm_backend *be, const gm_tensor *a, const gm_tensor *b, gm_tensor *y);
gm_status gm_cpu_zero_pad_fwd(gm_backend *be, int top, int bottom, int left, int right, const gm_tensor *x,
                              gm_tensor *y);

/* Backward-data primitives of prepared layers (cpu_weights.c), cached per dx shape in the
 * layer's entries (key n = -batch) and sharing its weights formats; execute reads dy, writes dx. */
gm_status gm_cpu_weights_bwd_execute(gm_cpu_backend *cb, gm_layer_weights *w, gm_cpu_prim_entry *e, const float *dy,
                                     float *dx);

/* Backward-data ops-table entries: cpu_conv_bwd.c, cpu_dense_bwd.c, cpu_pool_bwd.c and
 * cpu_elementwise_bwd.c. */
gm_status gm_cpu_conv2d_bwd_data(gm_backend *be, gm_layer_weights *w, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cpu_dense_bwd_data(gm_backend *be, gm_layer_weights *w, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cpu_maxpool_bwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, const gm_tensor *dy,
                             gm_tensor *dx);
gm_status gm_cpu_avgpool_bwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cpu_gap_bwd(gm_backend *be, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cpu_gmp_bwd(gm_backend *be, const gm_tensor *x, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cpu_activation_bwd(gm_backend *be, const gm_activation *a, gm_relu_bwd_mode mode, const gm_tensor *y,
                                const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cpu_channel_scale_bwd(gm_backend *be, const float *scale, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cpu_rescale_bwd(gm_backend *be, float scale, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cpu_zero_pad_bwd(gm_backend *be, int top, int bottom, int left, int right, const gm_tensor *dy,
                              gm_tensor *dx);
gm_status gm_cpu_one_hot(gm_backend *be, const int *cls, float seed, gm_tensor *y);

/* cpu_explain.c: explanation kernels (math in kernels/cam_math.h). */
gm_status gm_cpu_channel_reduce(gm_backend *be, gm_channel_reduce kind, const gm_tensor *x, gm_tensor *y);
gm_status gm_cpu_multiply(gm_backend *be, const gm_tensor *a, const gm_tensor *b, gm_tensor *y);
gm_status gm_cpu_cam_weights(gm_backend *be, gm_cam_weights kind, const gm_tensor *A, const gm_tensor *G,
                             gm_tensor *w);
gm_status gm_cpu_weighted_channel_sum(gm_backend *be, const gm_tensor *A, const gm_tensor *w, int relu,
                                      gm_tensor *L);
gm_status gm_cpu_cam_multi(gm_backend *be, const gm_tensor *A, const float *dense_kernel, int n_classes,
                           const int *cls, int k, gm_tensor *L);
gm_status gm_cpu_elementwise_cam(gm_backend *be, gm_elementwise_cam kind, const gm_tensor *A, const gm_tensor *G,
                                 gm_tensor *L);

#endif
