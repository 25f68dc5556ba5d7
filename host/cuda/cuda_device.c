/* cuda_device.c — opening and describing a CUDA device: the plugin's exported entry point, the
 * checks that turn "no driver", "driver too old", "no device", "GPU too old for this build" and
 * "cuDNN / cuBLAS mismatch" into one clear GM_ERR_NO_DEVICE message each, the context's stream,
 * cuDNN and cuBLAS handles and pinned staging, its teardown, and `describe`. */
#include "cuda_internal.h"
#include "cuda_layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <library_types.h>

#include "host/cuda_plugin.h"
#include "kernels/probe_kernels.h"

extern const gm_backend_ops gm_cuda_ops;
void gm_cuda_destroy(gm_backend **be);
gm_status gm_cuda_describe(gm_backend *be, char *buf, size_t size);

static void gm_cuda_version_text(int v, char *buf, size_t size) {
    snprintf(buf, size, "%d.%d", v / 1000, (v % 1000) / 10);
}

/* Why no device can be used, as one GM_ERR_NO_DEVICE message. */
static gm_status gm_cuda_no_device(cudaError_t err) {
    int driver = 0, runtime = 0;
    char d[16], r[16];
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    gm_cuda_version_text(runtime, r, sizeof r);
    cudaGetLastError();
    if (driver == 0)
        return gm_error(GM_ERR_NO_DEVICE, "no NVIDIA driver found (libcuda.so is not installed or not loadable); "
                        "gradmap's CUDA backend needs a driver for CUDA %s or newer", r);
    gm_cuda_version_text(driver, d, sizeof d);
    if (err == cudaErrorInsufficientDriver || driver < runtime)
        return gm_error(GM_ERR_NO_DEVICE, "the NVIDIA driver supports CUDA %s, but this build of gradmap needs CUDA %s; "
                        "update the driver", d, r);
    if (err == cudaErrorNoDevice)
        return gm_error(GM_ERR_NO_DEVICE, "no CUDA device found (driver for CUDA %s present; check "
                        "CUDA_VISIBLE_DEVICES and nvidia-smi)", d);
    return gm_error(GM_ERR_NO_DEVICE, "CUDA cannot be initialised: %s (%s)", cudaGetErrorString(err),
                    cudaGetErrorName(err));
}

static gm_status gm_cuda_pinned_init(gm_cuda_pinned *p, size_t bytes) {
    /* Without pinned memory the copies fall back to synchronous pageable ones (cuda_backend.c). */
    if (cudaHostAlloc(&p->ptr, bytes, cudaHostAllocDefault) != cudaSuccess) {
        cudaGetLastError();
        p->ptr = NULL;
        return GM_OK;
    }
    p->bytes = bytes;
    GM_CUDA_TRY(cudaEventCreateWithFlags(&p->done, cudaEventDisableTiming));
    return GM_OK;
}

static void gm_cuda_pinned_free(gm_cuda_pinned *p) {
    if (p->in_flight) cudaEventSynchronize(p->done);
    if (p->done) cudaEventDestroy(p->done);
    if (p->ptr) cudaFreeHost(p->ptr);
    memset(p, 0, sizeof *p);
}

static gm_status gm_cuda_check_precision(const gm_cuda_backend *cb) {
    /* TF32 and bf16 tensor cores arrived with Ampere (8.0); the build holds no older code anyway. */
    if (cb->precision != GM_PRECISION_FP32 && cb->cc_major < 8)
        return gm_error(GM_ERR_UNSUPPORTED, "--precision %s needs a GPU of compute capability 8.0 or newer; %s is %d.%d",
                        gm_cuda_precision_label(cb->precision), cb->device_name, cb->cc_major, cb->cc_minor);
    return GM_OK;
}

static gm_status gm_cuda_open_device(gm_cuda_backend *cb, const gm_backend_config *cfg) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) return gm_cuda_no_device(err == cudaSuccess ? cudaErrorNoDevice : err);
    if (cfg->device_index < 0 || cfg->device_index >= count)
        return gm_error(GM_ERR_NO_DEVICE, "CUDA device %d requested, but %d device%s present", cfg->device_index,
                        count, count == 1 ? " is" : "s are");
    cb->device = cfg->device_index;
    GM_CUDA_TRY(cudaSetDevice(cb->device));
    struct cudaDeviceProp prop;
    GM_CUDA_TRY(cudaGetDeviceProperties(&prop, cb->device));
    snprintf(cb->device_name, sizeof cb->device_name, "%s", prop.name);
    cb->cc_major = prop.major;
    cb->cc_minor = prop.minor;
    cb->sm_count = prop.multiProcessorCount;
    cb->device_memory = prop.totalGlobalMem;
    GM_CUDA_TRY(cudaDriverGetVersion(&cb->driver_version));
    GM_CUDA_TRY(cudaRuntimeGetVersion(&cb->runtime_version));
    return GM_OK;
}

static gm_status gm_cuda_open_libraries(gm_cuda_backend *cb) {
    /* cuDNN's ABI is stable within a major version only. */
    size_t cudnn_runtime = cudnnGetVersion();
    if (cudnn_runtime / 10000 != CUDNN_MAJOR)
        return gm_error(GM_ERR_NO_DEVICE, "cuDNN %zu.%zu is loaded, but gradmap was built with cuDNN %d.%d",
                        cudnn_runtime / 10000, (cudnn_runtime % 10000) / 100, CUDNN_MAJOR, CUDNN_MINOR);
    GM_CUDA_TRY(cudaStreamCreateWithFlags(&cb->stream, cudaStreamNonBlocking));
    int probe = gm_launch_probe(gm_cuda_stream_ptr(cb));
    if (probe != 0) {
        cudaError_t e = (cudaError_t)probe;
        return gm_error(GM_ERR_NO_DEVICE,
                        "%s (compute capability %d.%d) cannot run this build's kernels: %s; rebuild with "
                        "-DCMAKE_CUDA_ARCHITECTURES=%d%d",
                        cb->device_name, cb->cc_major, cb->cc_minor, cudaGetErrorString(e), cb->cc_major, cb->cc_minor);
    }
    GM_CUDNN_TRY(cudnnCreate(&cb->cudnn));
    GM_CUDNN_TRY(cudnnSetStream(cb->cudnn, cb->stream));
    GM_CUBLAS_TRY(cublasCreate(&cb->cublas));
    GM_CUBLAS_TRY(cublasSetStream(cb->cublas, cb->stream));
    /* Pointer mode host (alpha/beta from host variables); default math: no TF32 unless a GEMM
     * asks for it through its compute type (cuda_dense.c). */
    GM_CUBLAS_TRY(cublasSetPointerMode(cb->cublas, CUBLAS_POINTER_MODE_HOST));
    GM_CUBLAS_TRY(cublasSetMathMode(cb->cublas, CUBLAS_DEFAULT_MATH));
    GM_TRY(gm_cuda_pinned_init(&cb->upload_stage[0], GM_CUDA_STAGE_BYTES));
    GM_TRY(gm_cuda_pinned_init(&cb->upload_stage[1], GM_CUDA_STAGE_BYTES));
    GM_TRY(gm_cuda_pinned_init(&cb->download_stage, GM_CUDA_STAGE_BYTES));
    return GM_OK;
}

static gm_status gm_cuda_create(const gm_backend_config *cfg, gm_backend **out) {
    if (!out || !cfg) return gm_error(GM_ERR_INVALID_ARG, "cuda backend: NULL argument");
    *out = NULL;
    gm_cuda_backend *cb = calloc(1, sizeof *cb);
    if (!cb) return gm_error(GM_ERR_NOMEM, "cuda backend: cannot allocate the context");
    cb->base.ops = &gm_cuda_ops;
    cb->precision = cfg->precision;
    cb->workspace_limit = cfg->workspace_limit ? cfg->workspace_limit : GM_CUDA_DEFAULT_WORKSPACE;
    gm_status st = gm_cuda_open_device(cb, cfg);
    if (st == GM_OK) st = gm_cuda_check_precision(cb);
    if (st == GM_OK) st = gm_cuda_open_libraries(cb);
    if (st != GM_OK) {
        gm_backend *b = &cb->base;
        gm_cuda_destroy(&b);
        return st;
    }
    *out = &cb->base;
    return GM_OK;
}

void gm_cuda_destroy(gm_backend **be) {
    if (!be || !*be) return;
    gm_cuda_backend *cb = gm_cuda_cast(*be);
    if (cb->stream) cudaStreamSynchronize(cb->stream);
    for (int i = 0; i < 2; ++i) gm_cuda_pinned_free(&cb->upload_stage[i]);
    gm_cuda_pinned_free(&cb->download_stage);
    gm_cuda_device_free(cb, &cb->workspace.ptr);
    for (int i = 0; i < GM_CUDA_SCRATCH_COUNT; ++i) gm_cuda_device_free(cb, &cb->scratch[i].ptr);
    if (cb->cublas) cublasDestroy(cb->cublas);
    if (cb->cudnn) cudnnDestroy(cb->cudnn);
    if (cb->stream) cudaStreamDestroy(cb->stream);
    free(cb);
    *be = NULL;
}

gm_status gm_cuda_describe(gm_backend *be, char *buf, size_t size) {
    if (!be || !buf || size == 0) return gm_error(GM_ERR_INVALID_ARG, "cuda describe: NULL argument");
    gm_cuda_backend *cb = gm_cuda_cast(be);
    int blas_major = 0, blas_minor = 0, blas_patch = 0;
    cublasGetProperty(MAJOR_VERSION, &blas_major);
    cublasGetProperty(MINOR_VERSION, &blas_minor);
    cublasGetProperty(PATCH_LEVEL, &blas_patch);
    size_t dnn = cudnnGetVersion();
    char drv[16], rt[16];
    gm_cuda_version_text(cb->driver_version, drv, sizeof drv);
    gm_cuda_version_text(cb->runtime_version, rt, sizeof rt);
    snprintf(buf, size,
             "cuda:%d %s (compute capability %d.%d, %d SMs, %.1f GiB); driver for CUDA %s; CUDA runtime %s; "
             "cuDNN %zu.%zu.%zu (built with %d.%d.%d); cuBLAS %d.%d.%d; precision %s",
             cb->device, cb->device_name, cb->cc_major, cb->cc_minor, cb->sm_count,
             cb->device_memory / 1073741824.0, drv, rt, dnn / 10000, (dnn % 10000) / 100, dnn % 100, CUDNN_MAJOR,
             CUDNN_MINOR, CUDNN_PATCHLEVEL, blas_major, blas_minor, blas_patch, gm_cuda_precision_label(cb->precision));
    return GM_OK;
}

static const gm_cuda_plugin gm_cuda_plugin_table = {
    .abi = GM_CUDA_PLUGIN_ABI,
    .ops_size = sizeof(gm_backend_ops),
    .config_size = sizeof(gm_backend_config),
    .tensor_size = sizeof(gm_tensor),
    .create = gm_cuda_create,
};

__attribute__((visibility("default"))) const gm_cuda_plugin *gm_cuda_plugin_v1(void) { return &gm_cuda_plugin_table; }
