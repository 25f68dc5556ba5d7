/* h5_util.c — see h5_util.h. Every HDF5 call's return is checked; strings read from files are
 * bounded and NUL-terminated by us (fixed-length attributes may carry no terminator). */
#include "h5_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gm_status gm_h5_open(const char *path, hid_t *file) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    *file = -1;
    FILE *probe = fopen(path, "rb");
    if (!probe) return gm_error(GM_ERR_IO, "%s: cannot open model file", path);
    fclose(probe);
    htri_t is_h5 = H5Fis_hdf5(path);
    if (is_h5 <= 0)
        return gm_error(GM_ERR_FORMAT, "%s: not an HDF5 file (expected a Keras .h5 model or weights file)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return gm_error(GM_ERR_FORMAT, "%s: HDF5 file is truncated or corrupt (cannot be opened)", path);
    *file = f;
    return GM_OK;
}

int gm_h5_has_attr(hid_t obj, const char *name) { return H5Aexists(obj, name) > 0; }

/* Copies `len` bytes of a fixed-length string, dropping NUL/space padding. */
static char *gm_h5_copy_fixed(const char *src, size_t len) {
    while (len > 0 && (src[len - 1] == '\0' || src[len - 1] == ' ')) --len;
    size_t real = strnlen(src, len);
    char *s = malloc(real + 1);
    if (!s) return NULL;
    memcpy(s, src, real);
    s[real] = '\0';
    return s;
}

/* Reads all string elements of an open attribute; appends them to *items. */
static gm_status gm_h5_read_attr_strings(hid_t attr, const char *name, char ***items, int *count) {
    gm_status st = GM_OK;
    hid_t type = H5Aget_type(attr);
    hid_t space = H5Aget_space(attr);
    if (type < 0 || space < 0) {
        st = gm_error(GM_ERR_FORMAT, "attribute '%s' cannot be read", name);
        goto done;
    }
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (n < 0 || n > 10000000) {
        st = gm_error(GM_ERR_FORMAT, "attribute '%s' has an invalid size", name);
        goto done;
    }
    if (H5Tget_class(type) != H5T_STRING) {
        /* Keras writes weight_names of weightless layers as an empty float64 array. */
        if (n == 0) goto done;
        st = gm_error(GM_ERR_FORMAT, "attribute '%s' is not a string attribute", name);
        goto done;
    }
    char **grown = realloc(*items, (size_t)(*count + n + 1) * sizeof *grown);
    if (!grown) {
        st = gm_error(GM_ERR_NOMEM, "out of memory reading attribute '%s'", name);
        goto done;
    }
    *items = grown;
    if (H5Tis_variable_str(type) > 0) {
        char **raw = calloc((size_t)n + 1, sizeof *raw);
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        H5Tset_cset(mem, H5Tget_cset(type));
        if (!raw || H5Aread(attr, mem, raw) < 0) {
            st = raw ? gm_error(GM_ERR_FORMAT, "attribute '%s' cannot be read", name)
                     : gm_error(GM_ERR_NOMEM, "out of memory reading attribute '%s'", name);
        } else {
            for (hssize_t i = 0; i < n && st == GM_OK; ++i) {
                char *copy = strdup(raw[i] ? raw[i] : "");
                if (!copy) st = gm_error(GM_ERR_NOMEM, "out of memory reading attribute '%s'", name);
                else (*items)[(*count)++] = copy;
            }
            H5Dvlen_reclaim(mem, space, H5P_DEFAULT, raw);
        }
        H5Tclose(mem);
        free(raw);
    } else {
        size_t len = H5Tget_size(type);
        char *buf = len ? malloc(len * (size_t)n + 1) : NULL;
        if (!buf || H5Aread(attr, type, buf) < 0) {
            st = buf ? gm_error(GM_ERR_FORMAT, "attribute '%s' cannot be read", name)
                     : gm_error(GM_ERR_FORMAT, "attribute '%s' has zero-length strings", name);
        } else {
            for (hssize_t i = 0; i < n && st == GM_OK; ++i) {
                char *copy = gm_h5_copy_fixed(buf + (size_t)i * len, len);
                if (!copy) st = gm_error(GM_ERR_NOMEM, "out of memory reading attribute '%s'", name);
                else (*items)[(*count)++] = copy;
            }
        }
        free(buf);
    }
done:
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    return st;
}

gm_status gm_h5_read_string_list(hid_t obj, const char *name, char ***items, int *count) {
    *items = NULL;
    *count = 0;
    gm_status st = GM_OK;
    if (gm_h5_has_attr(obj, name)) {
        hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
        if (a < 0) return gm_error(GM_ERR_FORMAT, "attribute '%s' cannot be opened", name);
        st = gm_h5_read_attr_strings(a, name, items, count);
        H5Aclose(a);
    } else {
        /* Keras splits attributes above 64512 bytes into name0, name1, ... */
        char chunk[256];
        int k = 0;
        for (;; ++k) {
            snprintf(chunk, sizeof chunk, "%s%d", name, k);
            if (!gm_h5_has_attr(obj, chunk)) break;
            hid_t a = H5Aopen(obj, chunk, H5P_DEFAULT);
            if (a < 0) {
                st = gm_error(GM_ERR_FORMAT, "attribute '%s' cannot be opened", chunk);
                break;
            }
            st = gm_h5_read_attr_strings(a, chunk, items, count);
            H5Aclose(a);
            if (st != GM_OK) break;
        }
        if (st == GM_OK && k == 0) st = gm_error(GM_ERR_NOT_FOUND, "attribute '%s' not found", name);
    }
    if (st != GM_OK) gm_h5_free_string_list(items, *count), *count = 0;
    return st;
}

void gm_h5_free_string_list(char ***items, int count) {
    if (!items || !*items) return;
    for (int i = 0; i < count; ++i) free((*items)[i]);
    free(*items);
    *items = NULL;
}

gm_status gm_h5_read_string_attr(hid_t obj, const char *name, char **out) {
    *out = NULL;
    if (!gm_h5_has_attr(obj, name)) return gm_error(GM_ERR_NOT_FOUND, "attribute '%s' not found", name);
    char **items = NULL;
    int count = 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return gm_error(GM_ERR_FORMAT, "attribute '%s' cannot be opened", name);
    gm_status st = gm_h5_read_attr_strings(a, name, &items, &count);
    H5Aclose(a);
    if (st != GM_OK) {
        gm_h5_free_string_list(&items, count);
        return st;
    }
    if (count != 1) {
        gm_h5_free_string_list(&items, count);
        return gm_error(GM_ERR_FORMAT, "attribute '%s' holds %d strings, expected one", name, count);
    }
    *out = items[0];
    free(items);
    return GM_OK;
}

gm_status gm_h5_dataset_shape(hid_t group, const char *path, int *rank, long long dims[8]) {
    if (H5Lexists(group, path, H5P_DEFAULT) <= 0) return gm_error(GM_ERR_NOT_FOUND, "dataset '%s' not found", path);
    hid_t d = H5Dopen2(group, path, H5P_DEFAULT);
    if (d < 0) return gm_error(GM_ERR_FORMAT, "'%s' is not a readable dataset", path);
    hid_t s = H5Dget_space(d);
    int r = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    gm_status st = GM_OK;
    if (r < 0 || r > 8) {
        st = gm_error(GM_ERR_FORMAT, "dataset '%s' has an unreadable shape", path);
    } else {
        hsize_t hd[8];
        H5Sget_simple_extent_dims(s, hd, NULL);
        for (int i = 0; i < r; ++i) dims[i] = (long long)hd[i];
        *rank = r;
    }
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return st;
}

gm_status gm_h5_read_floats(hid_t group, const char *path, float *dst, long long expected_count, int *rank,
                            long long dims[8]) {
    GM_TRY(gm_h5_dataset_shape(group, path, rank, dims));
    long long count = 1;
    for (int i = 0; i < *rank; ++i) count *= dims[i];
    if (count != expected_count) return GM_ERR_SHAPE; /* the caller words the message with both shapes */
    hid_t d = H5Dopen2(group, path, H5P_DEFAULT);
    if (d < 0) return gm_error(GM_ERR_FORMAT, "'%s' is not a readable dataset", path);
    hid_t t = H5Dget_type(d);
    gm_status st = GM_OK;
    if (t < 0 || H5Tget_class(t) != H5T_FLOAT)
        st = gm_error(GM_ERR_FORMAT, "dataset '%s' is not floating point", path);
    else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0)
        st = gm_error(GM_ERR_FORMAT, "dataset '%s' cannot be read (truncated or corrupt file?)", path);
    if (t >= 0) H5Tclose(t);
    H5Dclose(d);
    return st;
}
