/* h5_probe.h — reads a Keras HDF5 file's metadata once in a child process before gradmap trusts
 * the HDF5 library with it in-process. The HDF5 library (1.10) can read past its buffers on
 * malformed files (e.g. a corrupted global-heap object size behind a variable-length string); in
 * the child such a fault only ends the child, and the caller gets a clean "corrupt file" error. */
#ifndef GM_H5_PROBE_H
#define GM_H5_PROBE_H

#include "../host/status.h"

/* Returns GM_OK when the child read every attribute gradmap will read (model_config, layer_names,
 * each layer's weight_names) without crashing, or when the child reported an ordinary error (the
 * in-process load will then word it); GM_ERR_FORMAT naming `path` when the child died. */
gm_status gm_h5_probe_metadata(const char *path);

#endif
