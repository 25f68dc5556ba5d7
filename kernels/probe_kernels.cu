/* probe_kernels.cu — the device-compatibility probe of probe_kernels.h: one thread writes one int,
 * and the host checks that it arrived. */
#include <cuda_runtime.h>

#include "kernels/probe_kernels.h"

static __global__ void gm_probe_kernel(int *flag) { *flag = 0x6d67; }

extern "C" int gm_launch_probe(void *stream) {
    cudaStream_t s = static_cast<cudaStream_t>(stream);
    int *flag = nullptr, host = 0;
    cudaError_t err = cudaMalloc(&flag, sizeof *flag);
    if (err != cudaSuccess) return static_cast<int>(err);
    gm_probe_kernel<<<1, 1, 0, s>>>(flag);
    err = cudaGetLastError();
    if (err == cudaSuccess) err = cudaMemcpyAsync(&host, flag, sizeof host, cudaMemcpyDeviceToHost, s);
    if (err == cudaSuccess) err = cudaStreamSynchronize(s);
    cudaFree(flag);
    if (err == cudaSuccess && host != 0x6d67) err = cudaErrorLaunchFailure;
    return static_cast<int>(err);
}
