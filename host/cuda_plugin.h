/* cuda_plugin.h — the contract between the core and the CUDA plugin (libgradmap_cuda.so, built
 * from host/cuda/ and the .cu files of kernels/). The core never links cuDNN, cuBLAS or the CUDA runtime: it
 * dlopens the plugin when CUDA is asked for (host/cuda_loader.c), so a CUDA-enabled build starts
 * and runs on the CPU on machines without a driver or without the CUDA libraries.
 *
 * The plugin exports one symbol, GM_CUDA_PLUGIN_SYMBOL, a function returning its table. The table
 * carries the sizes of the structures both sides share, so a plugin from another build is refused
 * with a message instead of misreading memory. */
#ifndef GM_CUDA_PLUGIN_H
#define GM_CUDA_PLUGIN_H

#include <stddef.h>

#include "backend.h"

#define GM_CUDA_PLUGIN_ABI 1
#define GM_CUDA_PLUGIN_SYMBOL "gm_cuda_plugin_v1"
#define GM_CUDA_PLUGIN_FILE "libgradmap_cuda.so"

typedef struct gm_cuda_plugin {
    unsigned abi;                  /* GM_CUDA_PLUGIN_ABI */
    size_t ops_size, config_size, tensor_size; /* sizeof of the shared structures */
    /* Creates the backend on cfg->device_index. GM_ERR_NO_DEVICE, with the reason, when there is
     * no driver, no device, or a driver too old for this build's CUDA runtime. */
    gm_status (*create)(const gm_backend_config *cfg, gm_backend **out);
} gm_cuda_plugin;

typedef const gm_cuda_plugin *(*gm_cuda_plugin_entry_fn)(void);

/* host/cuda_loader.c: loads the plugin once per process (dlopen is reference-counted and the
 * handle is kept until exit, so the table stays valid). Search order: $GRADMAP_CUDA_PLUGIN (a file),
 * the directory of the running executable, its ../lib/gradmap, then the build tree this core was
 * compiled in. GM_ERR_NO_DEVICE naming every place tried when none loads. */
gm_status gm_cuda_plugin_load(const gm_cuda_plugin **out);

#endif
