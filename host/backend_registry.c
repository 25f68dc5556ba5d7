/* backend_registry.c — picks a compute backend by name ("auto", "cpu", "cuda"). The CPU backend is
 * linked in; the CUDA backend is the dlopened plugin of host/cuda_loader.c. "auto" takes CUDA when
 * the plugin loads and finds a device, and otherwise the CPU without complaint. */
#include <string.h>

#include "backend.h"
#include "cuda_plugin.h"

static gm_status gm_cuda_open(const gm_backend_config *cfg, gm_backend **out) {
    const gm_cuda_plugin *plugin;
    GM_TRY(gm_cuda_plugin_load(&plugin));
    gm_backend_config defaults = {0};
    return plugin->create(cfg ? cfg : &defaults, out);
}

gm_status gm_backend_open(const char *device, const gm_backend_config *cfg, gm_backend **out) {
    *out = NULL;
    if (!device || !strcmp(device, "auto")) {
        if (gm_cuda_open(cfg, out) == GM_OK) return GM_OK;
        gm_clear_error();
        return gm_cpu_backend_create(cfg, out);
    }
    if (!strcmp(device, "cpu")) return gm_cpu_backend_create(cfg, out);
    if (!strcmp(device, "cuda")) {
        gm_status st = gm_cuda_open(cfg, out);
        return st == GM_OK ? GM_OK : gm_error_context(st, "--device cuda: ");
    }
    return gm_error(GM_ERR_INVALID_ARG, "--device '%s': expected auto, cpu or cuda", device);
}

void gm_backend_close(gm_backend **be) {
    if (be && *be) (*be)->ops->destroy(be);
}
