/* backend_registry.c — picks a compute backend by name ("auto", "cpu", "cuda"). The only file that
 * knows which backends this build contains. The CUDA backend arrives with its own issue; until then
 * a CUDA-enabled build still compiles kernels/ with nvcc but runs on the CPU. */
#include <string.h>

#include "backend.h"

gm_status gm_backend_open(const char *device, const gm_backend_config *cfg, gm_backend **out) {
    *out = NULL;
    if (!device || !strcmp(device, "auto") || !strcmp(device, "cpu")) return gm_cpu_backend_create(cfg, out);
    if (!strcmp(device, "cuda"))
        return gm_error(GM_ERR_NO_DEVICE, "--device cuda: this build of gradmap has no CUDA backend yet");
    return gm_error(GM_ERR_INVALID_ARG, "--device '%s': expected auto, cpu or cuda", device);
}

void gm_backend_close(gm_backend **be) {
    if (be && *be) (*be)->ops->destroy(be);
}
