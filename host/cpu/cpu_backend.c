/* cpu_backend.c — the CPU backend's context and ops table: oneDNN engine and stream, host memory
 * (64-byte aligned, so AVX-512 loads of whole tensors are aligned), upload/download as memcpy,
 * and the shared error and shape-check helpers. The operations themselves live in cpu_conv.c,
 * cpu_dense.c, cpu_pool.c and cpu_elementwise.c. Backward and explanation entries stay NULL
 * until the explanation engine provides them. */
#include "cpu_internal.h"

#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl_debug.h>

gm_status gm_cpu_dnnl_error(dnnl_status_t s, const char *call, const char *file, int line) {
    return gm_error(GM_ERR_BACKEND, "%s:%d: %s failed: oneDNN status %s", file, line, call, dnnl_status2str(s));
}

gm_status gm_cpu_check_tensor(const char *op, const char *name, const gm_tensor *t) {
    if (!t) return gm_error(GM_ERR_INVALID_ARG, "cpu %s: %s is NULL", op, name);
    if (t->n <= 0 || t->h <= 0 || t->w <= 0 || t->c <= 0)
        return gm_error(GM_ERR_SHAPE, "cpu %s: %s has shape (%d,%d,%d,%d), all dims must be positive", op, name,
                        t->n, t->h, t->w, t->c);
    if (!t->data) return gm_error(GM_ERR_INVALID_ARG, "cpu %s: %s has no data", op, name);
    return GM_OK;
}

gm_status gm_cpu_check_same_shape(const char *op, const gm_tensor *a, const gm_tensor *b) {
    if (a->n != b->n || a->h != b->h || a->w != b->w || a->c != b->c)
        return gm_error(GM_ERR_SHAPE, "cpu %s: shapes differ, (%d,%d,%d,%d) vs (%d,%d,%d,%d)", op, a->n, a->h, a->w,
                        a->c, b->n, b->h, b->w, b->c);
    return GM_OK;
}

static void gm_cpu_destroy(gm_backend **be) {
    if (!be || !*be) return;
    gm_cpu_backend *cb = gm_cpu_cast(*be);
    gm_cpu_pool_cache_clear(cb);
    for (int i = 0; i < GM_CPU_SCRATCH_SLOTS; ++i) free(cb->scratch[i]);
    if (cb->stream) dnnl_stream_destroy(cb->stream);
    if (cb->engine) dnnl_engine_destroy(cb->engine);
    free(cb);
    *be = NULL;
}

gm_status gm_cpu_scratch(gm_cpu_backend *cb, int slot, size_t bytes, void **out) {
    if (bytes > cb->scratch_bytes[slot]) {
        free(cb->scratch[slot]);
        cb->scratch[slot] = NULL;
        cb->scratch_bytes[slot] = 0;
        size_t rounded = (bytes + GM_CPU_ALIGN - 1) / GM_CPU_ALIGN * GM_CPU_ALIGN;
        cb->scratch[slot] = aligned_alloc(GM_CPU_ALIGN, rounded);
        if (!cb->scratch[slot])
            return gm_error(GM_ERR_NOMEM, "cpu: cannot allocate %zu bytes of convolution staging memory", bytes);
        cb->scratch_bytes[slot] = rounded;
    }
    *out = cb->scratch[slot];
    return GM_OK;
}

static gm_status gm_cpu_alloc(gm_backend *be, size_t bytes, void **out) {
    (void)be;
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "cpu alloc: output pointer is NULL");
    *out = NULL;
    /* aligned_alloc wants a multiple of the alignment; 0 bytes still yields a real block so
     * that callers can free it like any other. */
    if (bytes > SIZE_MAX - GM_CPU_ALIGN)
        return gm_error(GM_ERR_NOMEM, "cpu alloc: %zu bytes is more than the address space", bytes);
    size_t rounded = bytes == 0 ? GM_CPU_ALIGN : (bytes + GM_CPU_ALIGN - 1) / GM_CPU_ALIGN * GM_CPU_ALIGN;
    void *p = aligned_alloc(GM_CPU_ALIGN, rounded);
    if (!p) return gm_error(GM_ERR_NOMEM, "cpu alloc: cannot allocate %zu bytes", bytes);
    *out = p;
    return GM_OK;
}

static void gm_cpu_free(gm_backend *be, void **ptr) {
    (void)be;
    if (!ptr) return;
    free(*ptr);
    *ptr = NULL;
}

static gm_status gm_cpu_copy(const char *op, void *dst, const void *src, size_t bytes) {
    if (bytes == 0) return GM_OK;
    if (!dst || !src) return gm_error(GM_ERR_INVALID_ARG, "cpu %s: NULL pointer for %zu bytes", op, bytes);
    memcpy(dst, src, bytes);
    return GM_OK;
}

static gm_status gm_cpu_upload(gm_backend *be, void *dst, const void *host_src, size_t bytes) {
    (void)be;
    return gm_cpu_copy("upload", dst, host_src, bytes);
}

static gm_status gm_cpu_download(gm_backend *be, void *host_dst, const void *src, size_t bytes) {
    (void)be;
    return gm_cpu_copy("download", host_dst, src, bytes);
}

static gm_status gm_cpu_sync(gm_backend *be) {
    if (!be) return gm_error(GM_ERR_INVALID_ARG, "cpu sync: backend is NULL");
    GM_DNNL_TRY(dnnl_stream_wait(gm_cpu_cast(be)->stream));
    return GM_OK;
}

static const gm_backend_ops gm_cpu_ops = {
    .name = "cpu",
    .destroy = gm_cpu_destroy,
    .describe = gm_cpu_describe,
    .alloc = gm_cpu_alloc,
    .free = gm_cpu_free,
    .upload = gm_cpu_upload,
    .download = gm_cpu_download,
    .sync = gm_cpu_sync,
    .conv2d_prepare = gm_cpu_conv2d_prepare,
    .dense_prepare = gm_cpu_dense_prepare,
    .weights_free = gm_cpu_weights_free,
    .conv2d_fwd = gm_cpu_conv2d_fwd,
    .dense_fwd = gm_cpu_dense_fwd,
    .maxpool_fwd = gm_cpu_maxpool_fwd,
    .avgpool_fwd = gm_cpu_avgpool_fwd,
    .gap_fwd = gm_cpu_gap_fwd,
    .gmp_fwd = gm_cpu_gmp_fwd,
    .activation_fwd = gm_cpu_activation_fwd,
    .channel_affine_fwd = gm_cpu_channel_affine_fwd,
    .rescale_fwd = gm_cpu_rescale_fwd,
    .add = gm_cpu_add,
    .zero_pad_fwd = gm_cpu_zero_pad_fwd,
    /* Backward and explanation ops: filled by host/cpu/cpu_backward*.c and cpu_explain.c. */
    .conv2d_bwd_data = gm_cpu_conv2d_bwd_data,
    .dense_bwd_data = gm_cpu_dense_bwd_data,
    .maxpool_bwd = gm_cpu_maxpool_bwd,
    .avgpool_bwd = gm_cpu_avgpool_bwd,
    .gap_bwd = gm_cpu_gap_bwd,
    .gmp_bwd = gm_cpu_gmp_bwd,
    .activation_bwd = gm_cpu_activation_bwd,
    .channel_scale_bwd = gm_cpu_channel_scale_bwd,
    .rescale_bwd = gm_cpu_rescale_bwd,
    .zero_pad_bwd = gm_cpu_zero_pad_bwd,
    .one_hot = gm_cpu_one_hot,
    .channel_reduce = gm_cpu_channel_reduce,
    .multiply = gm_cpu_multiply,
    .cam_weights = gm_cpu_cam_weights,
    .weighted_channel_sum = gm_cpu_weighted_channel_sum,
    .cam_multi = gm_cpu_cam_multi,
    .elementwise_cam = gm_cpu_elementwise_cam,
};

gm_status gm_cpu_backend_create(const gm_backend_config *cfg, gm_backend **out) {
    if (!out) return gm_error(GM_ERR_INVALID_ARG, "cpu backend: output pointer is NULL");
    *out = NULL;
    int threads = cfg ? cfg->threads : 0;
    if (threads < 0) return gm_error(GM_ERR_INVALID_ARG, "cpu backend: threads = %d, expected >= 0", threads);
    gm_precision precision = cfg ? cfg->precision : GM_PRECISION_FP32;
    if (precision != GM_PRECISION_FP32 && precision != GM_PRECISION_BF16)
        return gm_error(GM_ERR_UNSUPPORTED,
                        "the cpu backend computes in fp32 or bf16; --precision %s needs --device cuda",
                        gm_precision_name(precision));
    /* Without AVX-512 BF16 or AMX, oneDNN would emulate bf16 at a fraction of fp32's speed. The ISA
     * values are bit sets, each containing the ISAs it extends. */
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (precision == GM_PRECISION_BF16 && (isa & dnnl_cpu_isa_avx512_core_bf16) != dnnl_cpu_isa_avx512_core_bf16)
        return gm_error(GM_ERR_UNSUPPORTED,
                        "--precision bf16 on the cpu needs AVX-512 BF16 or AMX instructions, which this CPU lacks");
    gm_cpu_backend *cb = calloc(1, sizeof *cb);
    if (!cb) return gm_error(GM_ERR_NOMEM, "cpu backend: cannot allocate the context");
    cb->base.ops = &gm_cpu_ops;
    cb->threads = threads;
    cb->precision = precision;
    cb->conv_algo = cfg ? cfg->conv_algo : GM_CONV_ALGO_AUTO;
    cb->fp32_forward = cfg ? cfg->fp32_forward : 0;
    /* The OpenMP thread count is state of the calling thread, not of this backend, and other
     * code (or OMP_NUM_THREADS) may have set it: touch it only when asked to. oneDNN's OpenMP
     * runtime follows it too. */
    if (threads > 0) omp_set_num_threads(threads);
    gm_status st = GM_OK;
    GM_DNNL_GOTO(dnnl_engine_create(&cb->engine, dnnl_cpu, 0), st, fail);
    GM_DNNL_GOTO(dnnl_stream_create(&cb->stream, cb->engine, dnnl_stream_default_flags), st, fail);
    *out = &cb->base;
    return GM_OK;
fail:
    gm_error_context(st, "cpu backend: ");
    {
        gm_backend *b = &cb->base;
        gm_cpu_destroy(&b);
    }
    return st;
}
