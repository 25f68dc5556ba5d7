/* cuda_internal.h — private state of the CUDA backend (cuDNN + cuBLAS + kernels/), shared by the
 * files of host/cuda/: the backend context (device, one compute stream, cuDNN and cuBLAS handles
 * bound to it, the single cuDNN workspace, pinned staging buffers, device scratch), the checked-
 * call macros for cuDNN and cuBLAS, and the entry points the ops table points at.
 *
 * This directory and the .cu files of kernels/ build the plugin libgradmap_cuda.so, which the core opens with
 * dlopen (host/cuda_loader.c) only when CUDA is asked for or probed: a CUDA-enabled gradmap runs
 * on the CPU on machines without the driver, cuDNN or cuBLAS. The plugin resolves gm_error() and
 * friends from the executable that loaded it (executables are linked with exported symbols).
 *
 * Ordering: every operation is enqueued on `stream` and returns without waiting; download and
 * sync wait. cuDNN and cuBLAS run on the same stream (cudnnSetStream / cublasSetStream), so the
 * stream order is the program order and no further events are needed.
 *
 * Memory: tensors are plain NHWC float32 device memory, exactly the logical layout of backend.h
 * (cuDNN is told CUDNN_TENSOR_NHWC). Device buffers are made only by alloc (the engine's arenas,
 * once per batch size), by prepare (weights, once), and by the grow-only workspace / scratch
 * below, which reach their final size in the first batch; later batches allocate nothing.
 *
 * Threading: a backend is used by one host thread at a time, like the CPU backend. */
#ifndef GM_CUDA_INTERNAL_H
#define GM_CUDA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "host/backend.h"
#include "kernels/cuda_check.h"

#define GM_CUDA_DEFAULT_WORKSPACE ((size_t)256 << 20)
/* Host <-> device copies go through pinned buffers of this size, in chunks: two alternating
 * upload buffers let the host fill one while the other is copied; large uploads (weights) need
 * no pinned buffer of their own size. */
#define GM_CUDA_STAGE_BYTES ((size_t)8 << 20)

/* Records "file:line: call failed: <library message>" as the thread's error. */
gm_status gm_cudnn_error(cudnnStatus_t s, const char *call, const char *file, int line);
gm_status gm_cublas_error(cublasStatus_t s, const char *call, const char *file, int line);

#define GM_CUDNN_TRY(call)                                                        \
    do {                                                                          \
        cudnnStatus_t gm_cudnn_st_ = (call);                                      \
        if (gm_cudnn_st_ != CUDNN_STATUS_SUCCESS)                                 \
            return gm_cudnn_error(gm_cudnn_st_, #call, __FILE__, __LINE__);       \
    } while (0)

#define GM_CUDNN_GOTO(call, st, label)                                            \
    do {                                                                          \
        cudnnStatus_t gm_cudnn_st_ = (call);                                      \
        if (gm_cudnn_st_ != CUDNN_STATUS_SUCCESS) {                               \
            (st) = gm_cudnn_error(gm_cudnn_st_, #call, __FILE__, __LINE__);       \
            goto label;                                                           \
        }                                                                         \
    } while (0)

#define GM_CUBLAS_TRY(call)                                                       \
    do {                                                                          \
        cublasStatus_t gm_cublas_st_ = (call);                                    \
        if (gm_cublas_st_ != CUBLAS_STATUS_SUCCESS)                               \
            return gm_cublas_error(gm_cublas_st_, #call, __FILE__, __LINE__);     \
    } while (0)

/* A pinned host buffer that grows on demand, with the event of the last copy that used it. */
typedef struct gm_cuda_pinned {
    void *ptr;
    size_t bytes;
    cudaEvent_t done; /* recorded after the copy that reads / writes ptr */
    int in_flight;    /* 1 while `done` guards a pending copy */
} gm_cuda_pinned;

/* A device buffer that only grows; growing waits for the stream first. */
typedef struct gm_cuda_grow_buffer {
    void *ptr;
    size_t bytes;
} gm_cuda_grow_buffer;

/* Device scratch slots for operations that need temporary buffers. Each slot has one user per
 * operation call, so two slots in one operation never alias. */
typedef enum gm_cuda_scratch_slot {
    GM_CUDA_SCRATCH_X = 0,    /* padded input / fp16-bf16 copy of a conv or GEMM input */
    GM_CUDA_SCRATCH_Y,        /* fp16-bf16 output of a conv or GEMM, padded dx of conv backward */
    GM_CUDA_SCRATCH_EXTRA,    /* second temporary (CAM's gathered weights, half of padded input) */
    GM_CUDA_SCRATCH_CLASSES,  /* class indices of one_hot and cam_multi */
    GM_CUDA_SCRATCH_COUNT
} gm_cuda_scratch_slot;

typedef struct gm_cuda_backend {
    gm_backend base; /* first, so a gm_backend* is a gm_cuda_backend* */
    int device;
    char device_name[256];
    int cc_major, cc_minor, sm_count;
    size_t device_memory;
    int driver_version, runtime_version; /* 13000 = 13.0 */
    cudaStream_t stream;
    cudnnHandle_t cudnn;
    cublasHandle_t cublas;
    gm_precision precision;
    size_t workspace_limit;
    gm_cuda_grow_buffer workspace;
    gm_cuda_grow_buffer scratch[GM_CUDA_SCRATCH_COUNT];
    gm_cuda_pinned upload_stage[2]; /* alternated, so filling one overlaps the other's copy */
    int upload_next;
    gm_cuda_pinned download_stage;
    size_t free_memory_low; /* lowest cudaMemGetInfo free figure seen after a growth, for the bench */
} gm_cuda_backend;

static inline gm_cuda_backend *gm_cuda_cast(gm_backend *be) { return (gm_cuda_backend *)be; }
static inline void *gm_cuda_stream_ptr(gm_cuda_backend *cb) { return (void *)cb->stream; }

/* cuda_backend.c: shared helpers. */
gm_status gm_cuda_check_tensor(const char *op, const char *name, const gm_tensor *t);
gm_status gm_cuda_check_same_shape(const char *op, const gm_tensor *a, const gm_tensor *b);
/* cudaMalloc / cudaFree with the backend's accounting; a failed cudaMalloc is GM_ERR_NOMEM. */
gm_status gm_cuda_device_alloc(gm_cuda_backend *cb, size_t bytes, void **out);
void gm_cuda_device_free(gm_cuda_backend *cb, void **ptr);
/* The cuDNN workspace with at least `bytes` (bytes <= workspace_limit is the caller's rule). */
gm_status gm_cuda_workspace(gm_cuda_backend *cb, size_t bytes, void **out);
/* A scratch slot with at least `bytes`. */
gm_status gm_cuda_scratch(gm_cuda_backend *cb, gm_cuda_scratch_slot slot, size_t bytes, void **out);
/* Copies n host ints to the CLASSES scratch slot (through pinned staging, in stream order) and
 * returns the device pointer, valid until the next call. */
gm_status gm_cuda_upload_ints(gm_cuda_backend *cb, const int *host, size_t n, int **out);

/* cuda_conv.c / cuda_dense.c (cuDNN and cuBLAS): prepared weights and their operations. */
gm_status gm_cuda_conv2d_prepare(gm_backend *be, const gm_conv2d_desc *desc, const float *kernel_hwio,
                                 const float *bias, gm_layer_weights **out);
gm_status gm_cuda_dense_prepare(gm_backend *be, const gm_dense_desc *desc, const float *kernel_io,
                                const float *bias, gm_layer_weights **out);
void gm_cuda_weights_free(gm_backend *be, gm_layer_weights **w);
gm_status gm_cuda_conv2d_fwd(gm_backend *be, gm_layer_weights *w, const gm_tensor *x, gm_tensor *y);
gm_status gm_cuda_dense_fwd(gm_backend *be, gm_layer_weights *w, const gm_tensor *x, gm_tensor *y);
gm_status gm_cuda_conv2d_bwd_data(gm_backend *be, gm_layer_weights *w, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cuda_dense_bwd_data(gm_backend *be, gm_layer_weights *w, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cuda_cam_multi(gm_backend *be, const gm_tensor *A, const float *dense_kernel, int n_classes,
                            const int *cls, int k, gm_tensor *L);

/* cuda_pool.c, cuda_elementwise.c, cuda_explain.c: shape checks around kernels/ launchers. */
gm_status gm_cuda_maxpool_fwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y);
gm_status gm_cuda_avgpool_fwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, gm_tensor *y);
gm_status gm_cuda_gap_fwd(gm_backend *be, const gm_tensor *x, gm_tensor *y);
gm_status gm_cuda_gmp_fwd(gm_backend *be, const gm_tensor *x, gm_tensor *y);
gm_status gm_cuda_maxpool_bwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *x, const gm_tensor *dy,
                              gm_tensor *dx);
gm_status gm_cuda_avgpool_bwd(gm_backend *be, const gm_pool_desc *p, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cuda_gap_bwd(gm_backend *be, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cuda_gmp_bwd(gm_backend *be, const gm_tensor *x, const gm_tensor *dy, gm_tensor *dx);

gm_status gm_cuda_activation_fwd(gm_backend *be, const gm_activation *a, const gm_tensor *x, gm_tensor *y);
gm_status gm_cuda_channel_affine_fwd(gm_backend *be, const float *scale, const float *shift, const gm_tensor *x,
                                     gm_tensor *y);
gm_status gm_cuda_rescale_fwd(gm_backend *be, float scale, float offset, const gm_tensor *x, gm_tensor *y);
gm_status gm_cuda_add(gm_backend *be, const gm_tensor *a, const gm_tensor *b, gm_tensor *y);
gm_status gm_cuda_zero_pad_fwd(gm_backend *be, int top, int bottom, int left, int right, const gm_tensor *x,
                               gm_tensor *y);
gm_status gm_cuda_activation_bwd(gm_backend *be, const gm_activation *a, gm_relu_bwd_mode mode, const gm_tensor *y,
                                 const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cuda_channel_scale_bwd(gm_backend *be, const float *scale, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cuda_rescale_bwd(gm_backend *be, float scale, const gm_tensor *dy, gm_tensor *dx);
gm_status gm_cuda_zero_pad_bwd(gm_backend *be, int top, int bottom, int left, int right, const gm_tensor *dy,
                               gm_tensor *dx);
gm_status gm_cuda_one_hot(gm_backend *be, const int *cls, float seed, gm_tensor *y);

gm_status gm_cuda_channel_reduce(gm_backend *be, gm_channel_reduce kind, const gm_tensor *x, gm_tensor *y);
gm_status gm_cuda_multiply(gm_backend *be, const gm_tensor *a, const gm_tensor *b, gm_tensor *y);
gm_status gm_cuda_cam_weights(gm_backend *be, gm_cam_weights kind, const gm_tensor *A, const gm_tensor *G,
                              gm_tensor *w);
gm_status gm_cuda_weighted_channel_sum(gm_backend *be, const gm_tensor *A, const gm_tensor *w, int relu,
                                       gm_tensor *L);
gm_status gm_cuda_elementwise_cam(gm_backend *be, gm_elementwise_cam kind, const gm_tensor *A, const gm_tensor *G,
                                  gm_tensor *L);

#endif
