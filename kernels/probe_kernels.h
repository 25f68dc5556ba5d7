/* probe_kernels.h — a one-thread kernel launched when the CUDA backend opens a device: it proves
 * that this build holds code the device can run (SASS for its architecture or PTX it can JIT)
 * before any real work, so an unsupported GPU is a clear error at start, not a failure mid-run. */
#ifndef GM_PROBE_KERNELS_H
#define GM_PROBE_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/* Returns the cudaError_t (as int) of launching and finishing the probe on `stream`; 0 = success. */
int gm_launch_probe(void *stream);

#ifdef __cplusplus
}
#endif

#endif
