/* h5_util.h — the few HDF5 reads the Keras loader needs, hardened for untrusted files:
 * string attributes in every form Keras/h5py write (scalar or array, fixed-length NULLPAD or
 * variable-length, and Keras's chunked `name0`, `name1`, ... split of big attributes), and
 * float datasets with their shape checked before any data is read. HDF5's own error printing
 * is silenced; failures become gm_status messages. */
#ifndef GM_H5_UTIL_H
#define GM_H5_UTIL_H

#include <hdf5.h>

#include "../host/status.h"

#define GM_H5_TRY(call, ...)                                                                        \
    do {                                                                                            \
        if ((call) < 0) return gm_error(GM_ERR_FORMAT, __VA_ARGS__);                                \
    } while (0)

/* Opens a file read-only after checking it is HDF5 at all. Messages name the path. */
gm_status gm_h5_open(const char *path, hid_t *file);

int gm_h5_has_attr(hid_t obj, const char *name);

/* Reads a scalar string attribute (fixed or variable length) into a malloc'd string. */
gm_status gm_h5_read_string_attr(hid_t obj, const char *name, char **out);

/* Reads a string-array attribute (fixed or variable length), or its chunked form name0, name1...
 * An empty numeric array (Keras writes `weight_names` of weightless layers from []) gives 0 items.
 * A missing attribute gives GM_ERR_NOT_FOUND. */
gm_status gm_h5_read_string_list(hid_t obj, const char *name, char ***items, int *count);
void gm_h5_free_string_list(char ***items, int count);

/* Reads a float dataset (converted from any float type) whose element count must equal
 * `expected_count`; dims and rank are returned for messages. */
gm_status gm_h5_read_floats(hid_t group, const char *path, float *dst, long long expected_count, int *rank,
                            long long dims[8]);
/* Shape of a dataset without reading it. */
gm_status gm_h5_dataset_shape(hid_t group, const char *path, int *rank, long long dims[8]);

#endif
