/* cuda_backend.c — the CUDA backend's context and memory: device memory (cudaMalloc, accounted),
 * the grow-only cuDNN workspace and scratch slots, host <-> device copies through pinned staging
 * buffers in stream order, sync, the error helpers of cuDNN and cuBLAS, the shared shape checks,
 * and the ops table. The context itself is made in cuda_device.c (device checks, handles). */
#include "cuda_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gm_status gm_cudnn_error(cudnnStatus_t s, const char *call, const char *file, int line) {
    char detail[512] = "";
    cudnnGetLastErrorString(detail, sizeof detail);
    gm_status st = s == CUDNN_STATUS_ALLOC_FAILED ? GM_ERR_NOMEM : GM_ERR_BACKEND;
    return gm_error(st, "%s:%d: %s failed: %s%s%s", file, line, call, cudnnGetErrorString(s), detail[0] ? ": " : "",
                    detail);
}

gm_status gm_cublas_error(cublasStatus_t s, const char *call, const char *file, int line) {
    gm_status st = s == CUBLAS_STATUS_ALLOC_FAILED ? GM_ERR_NOMEM : GM_ERR_BACKEND;
    return gm_error(st, "%s:%d: %s failed: %s (%s)", file, line, call, cublasGetStatusString(s),
                    cublasGetStatusName(s));
}

gm_status gm_cuda_check_tensor(const char *op, const char *name, const gm_tensor *t) {
    if (!t) return gm_error(GM_ERR_INVALID_ARG, "cuda %s: %s is NULL", op, name);
    if (t->n <= 0 || t->h <= 0 || t->w <= 0 || t->c <= 0)
        return gm_error(GM_ERR_SHAPE, "cuda %s: %s has shape (%d,%d,%d,%d), all dims must be positive", op, name,
                        t->n, t->h, t->w, t->c);
    if (!t->data) return gm_error(GM_ERR_INVALID_ARG, "cuda %s: %s has no data", op, name);
    return GM_OK;
}

gm_status gm_cuda_check_same_shape(const char *op, const gm_tensor *a, const gm_tensor *b) {
    if (a->n != b->n || a->h != b->h || a->w != b->w || a->c != b->c)
        return gm_error(GM_ERR_SHAPE, "cuda %s: shapes differ, (%d,%d,%d,%d) vs (%d,%d,%d,%d)", op, a->n, a->h, a->w,
                        a->c, b->n, b->h, b->w, b->c);
    return GM_OK;
}

/* Records the lowest free device memory seen, after every allocation, for the bench's peak. */
static void gm_cuda_note_memory(gm_cuda_backend *cb) {
    size_t free_bytes = 0, total = 0;
    if (cudaMemGetInfo(&free_bytes, &total) == cudaSuccess &&
        (cb->free_memory_low == 0 || free_bytes < cb->free_memory_low))
        cb->free_memory_low = free_bytes;
}

gm_status gm_cuda_device_alloc(gm_cuda_backend *cb, size_t bytes, void **out) {
    *out = NULL;
    /* A zero-byte request still gets a real, freeable block (backend.h's rule). */
    cudaError_t err = cudaMalloc(out, bytes ? bytes : 256);
    if (err != cudaSuccess) {
        *out = NULL;
        cudaGetLastError(); /* an allocation failure is not sticky; clear it for the next call */
        size_t free_bytes = 0, total = 0;
        cudaMemGetInfo(&free_bytes, &total);
        return gm_error(err == cudaErrorMemoryAllocation ? GM_ERR_NOMEM : GM_ERR_BACKEND,
                        "cuda: cannot allocate %.1f MiB of device memory (%.1f MiB free of %.1f MiB): %s",
                        bytes / 1048576.0, free_bytes / 1048576.0, total / 1048576.0, cudaGetErrorString(err));
    }
    gm_cuda_note_memory(cb);
    return GM_OK;
}

void gm_cuda_device_free(gm_cuda_backend *cb, void **ptr) {
    (void)cb;
    if (!ptr || !*ptr) return;
    cudaFree(*ptr); /* waits for the device; an error here has no one left to report to */
    *ptr = NULL;
}

static gm_status gm_cuda_grow(gm_cuda_backend *cb, gm_cuda_grow_buffer *b, size_t bytes, const char *what,
                              void **out) {
    if (bytes > b->bytes || !b->ptr) {
        /* Work already queued may still read the old buffer. */
        GM_CUDA_TRY(cudaStreamSynchronize(cb->stream));
        gm_cuda_device_free(cb, &b->ptr);
        b->bytes = 0;
        size_t rounded = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
        gm_status st = gm_cuda_device_alloc(cb, rounded, &b->ptr);
        if (st != GM_OK) return gm_error_context(st, "cuda %s: ", what);
        b->bytes = rounded;
    }
    *out = b->ptr;
    return GM_OK;
}

gm_status gm_cuda_workspace(gm_cuda_backend *cb, size_t bytes, void **out) {
    if (bytes == 0) {
        *out = NULL;
        return GM_OK;
    }
    return gm_cuda_grow(cb, &cb->workspace, bytes, "cuDNN workspace", out);
}

gm_status gm_cuda_scratch(gm_cuda_backend *cb, gm_cuda_scratch_slot slot, size_t bytes, void **out) {
    if ((unsigned)slot >= GM_CUDA_SCRATCH_COUNT) return gm_error(GM_ERR_INVALID_ARG, "cuda: bad scratch slot %d", slot);
    return gm_cuda_grow(cb, &cb->scratch[slot], bytes, "scratch", out);
}

/* Waits until the copy that last used a staging buffer is done, so the host may reuse it. */
static gm_status gm_cuda_stage_wait(gm_cuda_pinned *p) {
    if (p->in_flight) {
        GM_CUDA_TRY(cudaEventSynchronize(p->done));
        p->in_flight = 0;
    }
    return GM_OK;
}

/* Host -> device in stream order. The host copies a chunk into a pinned buffer and queues the
 * DMA; it only waits when the buffer it wants is still being read by an earlier copy. */
static gm_status gm_cuda_upload(gm_backend *be, void *dst, const void *host_src, size_t bytes) {
    if (bytes == 0) return GM_OK;
    if (!be || !dst || !host_src) return gm_error(GM_ERR_INVALID_ARG, "cuda upload: NULL pointer for %zu bytes", bytes);
    gm_cuda_backend *cb = gm_cuda_cast(be);
    for (size_t off = 0; off < bytes;) {
        gm_cuda_pinned *p = &cb->upload_stage[cb->upload_next];
        size_t chunk = bytes - off < GM_CUDA_STAGE_BYTES ? bytes - off : GM_CUDA_STAGE_BYTES;
        if (!p->ptr) { /* no pinned memory could be had: a plain, synchronous copy */
            GM_CUDA_TRY(cudaStreamSynchronize(cb->stream));
            GM_CUDA_TRY(cudaMemcpy((char *)dst + off, (const char *)host_src + off, bytes - off,
                                   cudaMemcpyHostToDevice));
            return GM_OK;
        }
        GM_TRY(gm_cuda_stage_wait(p));
        memcpy(p->ptr, (const char *)host_src + off, chunk);
        GM_CUDA_TRY(cudaMemcpyAsync((char *)dst + off, p->ptr, chunk, cudaMemcpyHostToDevice, cb->stream));
        GM_CUDA_TRY(cudaEventRecord(p->done, cb->stream));
        p->in_flight = 1;
        cb->upload_next ^= 1;
        off += chunk;
    }
    return GM_OK;
}

/* Device -> host: waits for everything queued before it (stream order), chunk by chunk. */
static gm_status gm_cuda_download(gm_backend *be, void *host_dst, const void *src, size_t bytes) {
    if (bytes == 0) return GM_OK;
    if (!be || !host_dst || !src)
        return gm_error(GM_ERR_INVALID_ARG, "cuda download: NULL pointer for %zu bytes", bytes);
    gm_cuda_backend *cb = gm_cuda_cast(be);
    gm_cuda_pinned *p = &cb->download_stage;
    if (!p->ptr) {
        GM_CUDA_TRY(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, cb->stream));
        GM_CUDA_TRY(cudaStreamSynchronize(cb->stream));
        return GM_OK;
    }
    for (size_t off = 0; off < bytes;) {
        size_t chunk = bytes - off < GM_CUDA_STAGE_BYTES ? bytes - off : GM_CUDA_STAGE_BYTES;
        GM_CUDA_TRY(cudaMemcpyAsync(p->ptr, (const char *)src + off, chunk, cudaMemcpyDeviceToHost, cb->stream));
        GM_CUDA_TRY(cudaStreamSynchronize(cb->stream));
        memcpy((char *)host_dst + off, p->ptr, chunk);
        off += chunk;
    }
    return GM_OK;
}

gm_status gm_cuda_upload_ints(gm_cuda_backend *cb, const int *host, size_t n, int **out) {
    void *d = NULL;
    GM_TRY(gm_cuda_scratch(cb, GM_CUDA_SCRATCH_CLASSES, n * sizeof(int), &d));
    GM_TRY(gm_cuda_upload(&cb->base, d, host, n * sizeof(int)));
    *out = (int *)d;
    return GM_OK;
}

static gm_status gm_cuda_alloc(gm_backend *be, size_t bytes, void **out) {
    if (!be || !out) return gm_error(GM_ERR_INVALID_ARG, "cuda alloc: NULL argument");
    return gm_cuda_device_alloc(gm_cuda_cast(be), bytes, out);
}

static void gm_cuda_free(gm_backend *be, void **ptr) {
    if (be) gm_cuda_device_free(gm_cuda_cast(be), ptr);
}

static gm_status gm_cuda_sync(gm_backend *be) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cuda sync: backend is NULL");
    GM_CUDA_TRY(cudaStreamSynchronize(gm_cuda_cast(be)->stream));
    return GM_OK;
}

static gm_status gm_cuda_memory_peak(gm_backend *be, size_t *bytes) {
    if (!be || !bytes) return gm_error(GM_ERR_INVALID_ARG, "cuda memory_peak: NULL argument");
    gm_cuda_backend *cb = gm_cuda_cast(be);
    gm_cuda_note_memory(cb);
    *bytes = cb->device_memory > cb->free_memory_low ? cb->device_memory - cb->free_memory_low : 0;
    return GM_OK;
}

/* cuda_device.c */
void gm_cuda_destroy(gm_backend **be);
gm_status gm_cuda_describe(gm_backend *be, char *buf, size_t size);

extern const gm_backend_ops gm_cuda_ops;
const gm_backend_ops gm_cuda_ops = {
    .name = "cuda",
    .destroy = gm_cuda_destroy,
    .describe = gm_cuda_describe,
    .memory_peak = gm_cuda_memory_peak,
    .alloc = gm_cuda_alloc,
    .free = gm_cuda_free,
    .upload = gm_cuda_upload,
    .download = gm_cuda_download,
    .sync = gm_cuda_sync,
    .conv2d_prepare = gm_cuda_conv2d_prepare,
    .dense_prepare = gm_cuda_dense_prepare,
    .weights_free = gm_cuda_weights_free,
    .conv2d_fwd = gm_cuda_conv2d_fwd,
    .dense_fwd = gm_cuda_dense_fwd,
    .maxpool_fwd = gm_cuda_maxpool_fwd,
    .avgpool_fwd = gm_cuda_avgpool_fwd,
    .gap_fwd = gm_cuda_gap_fwd,
    .gmp_fwd = gm_cuda_gmp_fwd,
    .activation_fwd = gm_cuda_activation_fwd,
    .channel_affine_fwd = gm_cuda_channel_affine_fwd,
    .rescale_fwd = gm_cuda_rescale_fwd,
    .add = gm_cuda_add,
    .zero_pad_fwd = gm_cuda_zero_pad_fwd,
    .conv2d_bwd_data = gm_cuda_conv2d_bwd_data,
    .dense_bwd_data = gm_cuda_dense_bwd_data,
    .maxpool_bwd = gm_cuda_maxpool_bwd,
    .avgpool_bwd = gm_cuda_avgpool_bwd,
    .gap_bwd = gm_cuda_gap_bwd,
    .gmp_bwd = gm_cuda_gmp_bwd,
    .activation_bwd = gm_cuda_activation_bwd,
    .channel_scale_bwd = gm_cuda_channel_scale_bwd,
    .rescale_bwd = gm_cuda_rescale_bwd,
    .zero_pad_bwd = gm_cuda_zero_pad_bwd,
    .one_hot = gm_cuda_one_hot,
    .channel_reduce = gm_cuda_channel_reduce,
    .multiply = gm_cuda_multiply,
    .cam_weights = gm_cuda_cam_weights,
    .weighted_channel_sum = gm_cuda_weighted_channel_sum,
    .cam_multi = gm_cuda_cam_multi,
    .elementwise_cam = gm_cuda_elementwise_cam,
};
