/* test_cuda_plugin_load.c — the CUDA plugin (libgradmap_cuda.so, host/cuda_plugin.h) as the core
 * opens it, on any machine (label "unit": it runs in CI without a GPU). Exit 77 when this build
 * has no plugin (GM_CUDA off, or nvcc / cuDNN / cuBLAS missing at configure time).
 *   - dlopen(RTLD_NOW | RTLD_LOCAL) succeeds: every symbol the plugin needs resolves now, from
 *     cuDNN, cuBLAS, the static CUDA runtime and this executable (gm_error() and friends, exported
 *     because executables are linked with CMAKE_ENABLE_EXPORTS);
 *   - only the entry point is exported, not the plugin's internals;
 *   - the entry point's table has this build's abi and sizeof(gm_backend_ops / _config / gm_tensor);
 *   - create(): without a device (here) GM_ERR_NO_DEVICE, no backend and a message that names the
 *     driver or the device; with one, a "cuda" backend that describes itself and is destroyed;
 *   - the registry: gm_backend_open("cuda") gives the same answer (GM_ERR_NO_DEVICE here, twice,
 *     the second time from the loaded plugin), and "auto" falls back to the "cpu" backend here. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/backend.h"
#include "host/cuda_plugin.h"
#include "test_support.h"

static int mentions_driver_or_device(const char *msg) {
    return msg && (strstr(msg, "driver") || strstr(msg, "device") || strstr(msg, "GPU"));
}

/* The plugin's own create(): GM_OK with a device, GM_ERR_NO_DEVICE and a reason without. */
static int check_create(gm_test_counts *c, const gm_cuda_plugin *p) {
    gm_backend_config cfg = {0};
    gm_backend *be = NULL;
    gm_status st = p->create(&cfg, &be);
    if (st == GM_OK) {
        gm_test_check(c, be && be->ops && be->ops->name && !strcmp(be->ops->name, "cuda"),
                      "create() on a machine with a device gives the cuda backend");
        char info[512] = "";
        gm_status ds = be && be->ops->describe ? be->ops->describe(be, info, sizeof info) : GM_ERR_BACKEND;
        gm_test_check(c, ds == GM_OK && info[0], "describe(): %s", info);
        if (be) be->ops->destroy(&be);
        gm_test_check(c, be == NULL, "destroy() nulls the backend");
        return 1;
    }
    const char *msg = gm_last_error();
    gm_test_check(c, st == GM_ERR_NO_DEVICE && be == NULL && msg[0] && mentions_driver_or_device(msg),
                  "create() without a device: %s, no backend, message \"%s\"", gm_status_name(st), msg);
    return 0;
}

static void check_registry(gm_test_counts *c, int device) {
    gm_backend_config cfg = {0};
    for (int round = 0; round < 2; ++round) { /* the second open finds the plugin already loaded */
        gm_backend *be = NULL;
        gm_status st = gm_backend_open("cuda", &cfg, &be);
        if (device) {
            gm_test_check(c, st == GM_OK && be && !strcmp(be->ops->name, "cuda"),
                          "gm_backend_open(\"cuda\") opens (%s)", st == GM_OK ? "ok" : gm_last_error());
        } else {
            const char *msg = gm_last_error();
            gm_test_check(c, st == GM_ERR_NO_DEVICE && be == NULL && mentions_driver_or_device(msg),
                          "gm_backend_open(\"cuda\") #%d without a device: %s \"%s\"", round + 1, gm_status_name(st),
                          msg);
        }
        gm_backend_close(&be);
    }
    gm_backend *be = NULL;
    gm_status st = gm_backend_open("auto", &cfg, &be);
    const char *want = device ? "cuda" : "cpu";
    gm_test_check(c, st == GM_OK && be && !strcmp(be->ops->name, want), "gm_backend_open(\"auto\") picks %s (got %s)",
                  want, st == GM_OK && be ? be->ops->name : gm_last_error());
    gm_backend_close(&be);
    gm_test_check(c, be == NULL, "gm_backend_close nulls the backend");
}

int main(void) {
    gm_test_counts c = {0};
    const char *bin = getenv("GM_BINARY_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", bin ? bin : ".", GM_CUDA_PLUGIN_FILE);
    if (!bin || !gm_test_file_exists(path)) {
        printf("SKIP: %s not built (a build without CUDA%s)\n", path, bin ? "" : "; GM_BINARY_DIR unset");
        return 77;
    }
    dlerror();
    /* No dlclose below: the plugin links the static CUDA runtime, whose exit handlers live in it. */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    const char *err = h ? NULL : dlerror();
    gm_test_check(&c, h != NULL, "dlopen(%s, RTLD_NOW | RTLD_LOCAL): every symbol resolves (%s)", path,
                  err ? err : "ok");
    if (!h) return gm_test_summary(&c);

    void *sym = dlsym(h, GM_CUDA_PLUGIN_SYMBOL);
    gm_test_check(&c, sym != NULL, "entry point %s exported", GM_CUDA_PLUGIN_SYMBOL);
    /* Internals stay hidden (C and CUDA visibility presets): a launcher and a backend op. */
    gm_test_check(&c, !dlsym(h, "gm_launch_add") && !dlsym(h, "gm_cuda_conv2d_fwd") && !dlsym(h, "gm_cuda_add"),
                  "the plugin's internal functions are not exported");
    if (!sym) return gm_test_summary(&c);
    gm_cuda_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer, the POSIX dlsym idiom */
    const gm_cuda_plugin *p = entry();
    gm_test_check(&c, p && p->abi == GM_CUDA_PLUGIN_ABI, "abi %u (this build: %u)", p ? p->abi : 0u,
                  GM_CUDA_PLUGIN_ABI);
    gm_test_check(&c,
                  p && p->ops_size == sizeof(gm_backend_ops) && p->config_size == sizeof(gm_backend_config) &&
                      p->tensor_size == sizeof(gm_tensor),
                  "structure sizes ops %zu config %zu tensor %zu (this build: %zu %zu %zu)", p ? p->ops_size : 0,
                  p ? p->config_size : 0, p ? p->tensor_size : 0, sizeof(gm_backend_ops), sizeof(gm_backend_config),
                  sizeof(gm_tensor));
    gm_test_check(&c, p && p->create, "create() present");
    if (!p || !p->create) return gm_test_summary(&c);

    char why[1024];
    gm_test_check(&c, gm_test_cuda_plugin_status(why, sizeof why) == 1, "gm_test_cuda_plugin_status agrees (%s)",
                  why[0] ? why : "loads, table matches");
    int device = check_create(&c, p);
    fprintf(stderr, "  %s\n", device ? "a CUDA device is present" : "no CUDA device here");
    check_registry(&c, device);
    return gm_test_summary(&c);
}
