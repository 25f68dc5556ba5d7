/* cuda_check.h — the checked-call macros of the CUDA side (DESIGN §9): each records the call text,
 * file, line and CUDA's own error string as the thread's gm_status message and returns. After
 * every kernel launch GM_CUDA_LAUNCH_CHECK() reads cudaGetLastError(); with GRADMAP_CUDA_SYNC=1 in
 * the environment it also synchronises the stream so a fault is reported at the launch that made it.
 * Included by the .cu files of kernels/ and the C files of host/cuda/ (it compiles as both). */
#ifndef GM_CUDA_CHECK_H
#define GM_CUDA_CHECK_H

#include <cuda_runtime.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "host/status.h"
#ifdef __cplusplus
}
#endif

static inline gm_status gm_cuda_error(cudaError_t err, const char *call, const char *file, int line) {
    return gm_error(err == cudaErrorMemoryAllocation ? GM_ERR_NOMEM : GM_ERR_BACKEND, "%s:%d: %s failed: %s (%s)", file,
                    line, call, cudaGetErrorString(err), cudaGetErrorName(err));
}

#define GM_CUDA_TRY(call)                                                         \
    do {                                                                          \
        cudaError_t gm_cuda_err_ = (call);                                        \
        if (gm_cuda_err_ != cudaSuccess)                                          \
            return gm_cuda_error(gm_cuda_err_, #call, __FILE__, __LINE__);        \
    } while (0)

static inline int gm_cuda_sync_debug(void) {
    const char *v = getenv("GRADMAP_CUDA_SYNC");
    return v && strcmp(v, "0") != 0;
}

#define GM_CUDA_LAUNCH_CHECK(stream, what)                                        \
    do {                                                                          \
        GM_CUDA_TRY(cudaGetLastError());                                          \
        if (gm_cuda_sync_debug()) GM_CUDA_TRY(cudaStreamSynchronize(stream));     \
    } while (0)

/* Same, for functions that must release resources: stores the status in `st` and jumps. */
#define GM_CUDA_GOTO(call, st, label)                                             \
    do {                                                                          \
        cudaError_t gm_cuda_err_ = (call);                                        \
        if (gm_cuda_err_ != cudaSuccess) {                                        \
            (st) = gm_cuda_error(gm_cuda_err_, #call, __FILE__, __LINE__);        \
            goto label;                                                           \
        }                                                                         \
    } while (0)

/* Grid size for a grid-stride loop over n elements: enough blocks to fill the device, never 0. */
static inline unsigned int gm_cuda_grid(size_t n, unsigned int block) {
    size_t blocks = (n + block - 1) / block;
    if (blocks > 65535u * 8u) blocks = 65535u * 8u;
    return blocks ? (unsigned int)blocks : 1u;
}

#endif
