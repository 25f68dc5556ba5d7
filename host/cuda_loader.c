/* cuda_loader.c — finds and opens the CUDA plugin (host/cuda_plugin.h) with dlopen, so that the
 * core links no CUDA library: a CUDA-enabled gradmap starts on any machine, and only asking for
 * the GPU touches cuDNN, cuBLAS and the driver. The handle is never closed: dlopen counts
 * references, a second load is a lookup, and the table must outlive every backend made from it. */
#include <dlfcn.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cuda_plugin.h"

/* The directory of the running executable, or "" when /proc is unavailable. */
static void gm_exe_dir(char *dir, size_t size) {
    ssize_t len = readlink("/proc/self/exe", dir, size - 1);
    if (len <= 0) {
        dir[0] = '\0';
        return;
    }
    dir[len] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else dir[0] = '\0';
}

/* Tries one path: 1 = loaded, 0 = no such file, -1 = the file exists but did not load (its
 * dlerror, e.g. a missing libcudnn.so.9, is appended to `why`). */
static int gm_try_plugin(const char *path, void **handle, char *why, size_t why_size) {
    if (access(path, F_OK) != 0) return 0;
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (*handle) return 1;
    const char *err = dlerror();
    size_t used = strlen(why);
    if (snprintf(why + used, why_size - used, "%s%s", used ? "; " : "", err ? err : path) < 0) why[used] = '\0';
    return -1;
}

gm_status gm_cuda_plugin_load(const gm_cuda_plugin **out) {
    *out = NULL;
    char candidates[4][4096];
    int n = 0;
    const char *env = getenv("GRADMAP_CUDA_PLUGIN");
    if (env && *env) snprintf(candidates[n++], sizeof candidates[0], "%s", env);
    char exe_dir[2048];
    gm_exe_dir(exe_dir, sizeof exe_dir);
    if (exe_dir[0]) {
        snprintf(candidates[n++], sizeof candidates[0], "%s/%s", exe_dir, GM_CUDA_PLUGIN_FILE);
        snprintf(candidates[n++], sizeof candidates[0], "%s/../lib/gradmap/%s", exe_dir, GM_CUDA_PLUGIN_FILE);
    }
#ifdef GM_CUDA_PLUGIN_BUILD_DIR
    snprintf(candidates[n++], sizeof candidates[0], "%s/%s", GM_CUDA_PLUGIN_BUILD_DIR, GM_CUDA_PLUGIN_FILE);
#endif
    char why[4096] = "", tried[8192] = "";
    void *handle = NULL;
    for (int i = 0; i < n && !handle; ++i) {
        int seen = 0; /* the build tree is often the executable's own directory */
        for (int j = 0; j < i; ++j) seen |= !strcmp(candidates[i], candidates[j]);
        if (seen) continue;
        size_t used = strlen(tried);
        if (snprintf(tried + used, sizeof tried - used, "%s%s", used ? ", " : "", candidates[i]) < 0)
            tried[used] = '\0';
        if (gm_try_plugin(candidates[i], &handle, why, sizeof why) < 0 && env && i == 0) break;
    }
    if (!handle) {
        if (why[0])
            return gm_error(GM_ERR_NO_DEVICE, "the CUDA backend (%s) did not load: %s", GM_CUDA_PLUGIN_FILE, why);
#ifdef GM_HAVE_CUDA
        return gm_error(GM_ERR_NO_DEVICE, "the CUDA backend %s was not found (looked in: %s)", GM_CUDA_PLUGIN_FILE,
                        tried);
#else
        return gm_error(GM_ERR_NO_DEVICE,
                        "this gradmap was built without CUDA (nvcc, cuDNN or cuBLAS missing at build time); "
                        "rebuild with -DGM_CUDA=ON on a machine with the CUDA toolkit and cuDNN");
#endif
    }
    dlerror();
    void *sym = dlsym(handle, GM_CUDA_PLUGIN_SYMBOL);
    if (!sym) return gm_error(GM_ERR_NO_DEVICE, "%s has no entry point %s", GM_CUDA_PLUGIN_FILE, GM_CUDA_PLUGIN_SYMBOL);
    gm_cuda_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer, the POSIX dlsym idiom */
    const gm_cuda_plugin *p = entry();
    if (!p || p->abi != GM_CUDA_PLUGIN_ABI || p->ops_size != sizeof(gm_backend_ops) ||
        p->config_size != sizeof(gm_backend_config) || p->tensor_size != sizeof(gm_tensor) || !p->create)
        return gm_error(GM_ERR_NO_DEVICE, "%s comes from a different build of gradmap (interface %u, expected %u); "
                        "rebuild it with this gradmap", GM_CUDA_PLUGIN_FILE, p ? p->abi : 0u, GM_CUDA_PLUGIN_ABI);
    *out = p;
    return GM_OK;
}
