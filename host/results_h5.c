/* results_h5.c — the HDF5 side of results.h5 (layout in results.h): creating the empty file with
 * every dataset and root attribute, checking a file found on --resume against this run's spec,
 * appending one batch of rows, and the readers resume and the CSV rebuild need. Rows are the
 * first dimension of every dataset (unlimited, chunked); map datasets hold one image per chunk
 * so a reader can pull one image's maps without decompressing its neighbours. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "results_internal.h"
#include "weights/h5_util.h"

#define GM_RESULTS_FORMAT "gradmap-results"
#define GM_RESULTS_FORMAT_VERSION 1
/* Bytes per chunk of the small per-image datasets: a batch append rewrites the last partial chunk
 * of each, so small chunks keep that rewrite (and the journal) small; 1024 int32 rows per chunk. */
#define GM_RESULTS_CHUNK_BYTES 4096

static hid_t gm_vlen_string_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return -1;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static int gm_attr_string(hid_t obj, const char *name, const char *value) {
    hid_t t = gm_vlen_string_type(), s = H5Screate(H5S_SCALAR), a = -1;
    int ok = t >= 0 && s >= 0 && (a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT)) >= 0;
    const char *v = value ? value : "";
    ok = ok && H5Awrite(a, t, &v) >= 0;
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    return ok;
}

static int gm_attr_int(hid_t obj, const char *name, long long value, int create) {
    hid_t a = -1, s = -1;
    if (create) {
        s = H5Screate(H5S_SCALAR);
        if (s >= 0) a = H5Acreate2(obj, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    } else {
        a = H5Aopen(obj, name, H5P_DEFAULT);
    }
    int ok = a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &value) >= 0;
    if (a >= 0) H5Aclose(a);
    if (s >= 0) H5Sclose(s);
    return ok;
}

static int gm_attr_read_int(hid_t obj, const char *name, long long *value) {
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t s = H5Aget_space(a);
    int ok = s >= 0 && H5Sget_simple_extent_npoints(s) == 1 && H5Aread(a, H5T_NATIVE_LLONG, value) >= 0;
    if (s >= 0) H5Sclose(s);
    H5Aclose(a);
    return ok;
}

/* Creates an extendible dataset of shape (0, tail...) with `chunk_rows` rows per chunk. */
static int gm_make_dataset(hid_t loc, const char *name, hid_t type, int rank, const long long *tail,
                           hsize_t chunk_rows, int gzip) {
    hsize_t dims[4] = {0}, maxdims[4] = {H5S_UNLIMITED}, chunk[4] = {chunk_rows};
    for (int i = 1; i < rank; ++i) dims[i] = maxdims[i] = chunk[i] = (hsize_t)tail[i - 1];
    hid_t space = H5Screate_simple(rank, dims, maxdims), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
    int ok = space >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, rank, chunk) >= 0 &&
             (!gzip || H5Pset_deflate(dcpl, 1) >= 0) &&
             (d = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) >= 0;
    if (d >= 0) H5Dclose(d);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return ok;
}

static hsize_t gm_chunk_rows(size_t row_bytes) {
    size_t rows = GM_RESULTS_CHUNK_BYTES / (row_bytes ? row_bytes : 1);
    return rows < 1 ? 1 : (hsize_t)rows;
}

/* Joins method names with commas into a malloc'd string. */
static char *gm_join_methods(const gm_results_spec *spec) {
    size_t len = 1;
    for (int i = 0; i < spec->n_methods; ++i) len += strlen(spec->methods[i].name) + 1;
    char *s = malloc(len);
    if (!s) return NULL;
    s[0] = '\0';
    for (int i = 0; i < spec->n_methods; ++i) {
        if (i) strcat(s, ",");
        strcat(s, spec->methods[i].name);
    }
    return s;
}

static int gm_write_class_names(hid_t file, const gm_results_spec *spec) {
    if (!spec->class_names || spec->n_classes <= 0) return 1;
    hid_t t = gm_vlen_string_type();
    hsize_t n = (hsize_t)spec->n_classes;
    hid_t s = H5Screate_simple(1, &n, NULL), d = -1;
    int ok = t >= 0 && s >= 0 &&
             (d = H5Dcreate2(file, "class_names", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
             H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, spec->class_names) >= 0;
    if (d >= 0) H5Dclose(d);
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    return ok;
}

gm_status gm_results_h5_create(const char *path, const gm_results_spec *spec, const char *sha256,
                               long long csv_bytes) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) return gm_error(GM_ERR_IO, "%s: cannot create the results file", path);
    hid_t str = gm_vlen_string_type(), maps = -1, errs = -1;
    char *methods = gm_join_methods(spec);
    char created[32];
    time_t now = time(NULL);
    struct tm utc;
    if (!gmtime_r(&now, &utc) || !strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &utc)) created[0] = '\0';
    long long k = spec->top_k, t = spec->n_targets;
    int ok = str >= 0 && methods != NULL;
    ok = ok && gm_attr_string(f, "format", GM_RESULTS_FORMAT) &&
         gm_attr_int(f, "format_version", GM_RESULTS_FORMAT_VERSION, 1) &&
#ifdef GM_VERSION
         gm_attr_string(f, "gradmap_version", GM_VERSION) &&
#else
         gm_attr_string(f, "gradmap_version", "unknown") &&
#endif
         gm_attr_string(f, "created", created) && gm_attr_string(f, "model_file", spec->model_file) &&
         gm_attr_string(f, "model_sha256", sha256) && gm_attr_string(f, "command_line", spec->command_line) &&
         gm_attr_string(f, "methods", methods) && gm_attr_string(f, "target_layer", spec->target_layer) &&
         gm_attr_int(f, "n_classes", spec->n_classes, 1) && gm_attr_string(f, "precision", spec->precision) &&
         gm_attr_string(f, "device", spec->device) && gm_attr_int(f, "top_k", k, 1) &&
         gm_attr_int(f, "n_targets", t, 1) && gm_attr_int(f, "n_images", 0, 1) && gm_attr_int(f, "n_errors", 0, 1) &&
         gm_attr_int(f, "summary_csv_bytes", csv_bytes, 1);
    ok = ok && gm_make_dataset(f, "path", str, 1, NULL, gm_chunk_rows(16), 0) &&
         gm_make_dataset(f, "width", H5T_STD_I32LE, 1, NULL, gm_chunk_rows(4), 0) &&
         gm_make_dataset(f, "height", H5T_STD_I32LE, 1, NULL, gm_chunk_rows(4), 0) &&
         gm_make_dataset(f, "status", H5T_STD_I8LE, 1, NULL, gm_chunk_rows(1), 0) &&
         gm_make_dataset(f, "topk_class", H5T_STD_I32LE, 2, &k, gm_chunk_rows(4 * (size_t)k), 0) &&
         gm_make_dataset(f, "topk_prob", H5T_IEEE_F32LE, 2, &k, gm_chunk_rows(4 * (size_t)k), 0) &&
         gm_make_dataset(f, "target_class", H5T_STD_I32LE, 2, &t, gm_chunk_rows(4 * (size_t)t), 0) &&
         gm_make_dataset(f, "target_logit", H5T_IEEE_F32LE, 2, &t, gm_chunk_rows(4 * (size_t)t), 0) &&
         gm_write_class_names(f, spec);
    ok = ok && (maps = H5Gcreate2(f, "maps", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0;
    for (int m = 0; ok && m < spec->n_methods; ++m) {
        const gm_results_method *me = &spec->methods[m];
        long long tail[3] = {t, me->height, me->width};
        ok = gm_make_dataset(maps, me->name, H5T_IEEE_F32LE, 4, tail, 1, spec->gzip);
        hid_t d = ok ? H5Dopen2(maps, me->name, H5P_DEFAULT) : -1;
        ok = d >= 0 && gm_attr_int(d, "height", me->height, 1) && gm_attr_int(d, "width", me->width, 1);
        if (d >= 0) H5Dclose(d);
    }
    ok = ok && (errs = H5Gcreate2(f, "errors", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
         gm_make_dataset(errs, "index", H5T_STD_I64LE, 1, NULL, gm_chunk_rows(8), 0) &&
         gm_make_dataset(errs, "path", str, 1, NULL, gm_chunk_rows(16), 0) &&
         gm_make_dataset(errs, "message", str, 1, NULL, gm_chunk_rows(16), 0);
    if (errs >= 0) H5Gclose(errs);
    if (maps >= 0) H5Gclose(maps);
    if (str >= 0) H5Tclose(str);
    free(methods);
    if (H5Fclose(f) < 0) ok = 0;
    if (!ok) return gm_error(GM_ERR_IO, "%s: cannot create the results file (HDF5 write failed)", path);
    return GM_OK;
}

/* ---- resume: the file must be ours and match this run ---- */

static gm_status gm_check_string(hid_t f, const char *path, const char *attr, const char *want, const char *flag) {
    char *have = NULL;
    if (gm_h5_read_string_attr(f, attr, &have) != GM_OK)
        return gm_error(GM_ERR_FORMAT, "%s: attribute '%s' is missing or unreadable", path, attr);
    gm_status st = GM_OK;
    if (strcmp(have, want ? want : "") != 0)
        st = gm_error(GM_ERR_INVALID_ARG,
                      "%s: cannot resume: it was written with %s '%s', this run has '%s' (%s)", path, attr, have,
                      want ? want : "", flag);
    free(have);
    return st;
}

static gm_status gm_check_int(hid_t f, const char *path, const char *attr, long long want, const char *flag) {
    long long have = 0;
    if (!gm_attr_read_int(f, attr, &have))
        return gm_error(GM_ERR_FORMAT, "%s: attribute '%s' is missing or unreadable", path, attr);
    if (have != want)
        return gm_error(GM_ERR_INVALID_ARG, "%s: cannot resume: it was written with %s %lld, this run has %lld (%s)",
                        path, attr, have, want, flag);
    return GM_OK;
}

/* Same method set (in any order) with the same map shapes. */
static gm_status gm_check_methods(hid_t f, const char *path, const gm_results_spec *spec) {
    char *have = NULL, *want = gm_join_methods(spec);
    if (!want) return gm_error(GM_ERR_NOMEM, "%s: out of memory", path);
    if (gm_h5_read_string_attr(f, "methods", &have) != GM_OK) {
        free(want);
        return gm_error(GM_ERR_FORMAT, "%s: attribute 'methods' is missing or unreadable", path);
    }
    int n_have = have[0] ? 1 : 0;
    for (const char *c = have; *c; ++c) n_have += *c == ',';
    gm_status st = GM_OK;
    int same = n_have == spec->n_methods;
    for (int m = 0; same && m < spec->n_methods; ++m) {
        char dname[300];
        snprintf(dname, sizeof dname, "maps/%s", spec->methods[m].name);
        int rank = 0;
        long long dims[8];
        same = H5Lexists(f, "maps", H5P_DEFAULT) > 0 && H5Lexists(f, dname, H5P_DEFAULT) > 0 &&
               gm_h5_dataset_shape(f, dname, &rank, dims) == GM_OK && rank == 4;
        if (same && (dims[2] != spec->methods[m].height || dims[3] != spec->methods[m].width)) {
            st = gm_error(GM_ERR_INVALID_ARG,
                          "%s: cannot resume: method %s was written at %lldx%lld, this run makes %dx%d maps "
                          "(same model and --layer needed)",
                          path, spec->methods[m].name, dims[2], dims[3], spec->methods[m].height,
                          spec->methods[m].width);
            break;
        }
    }
    if (st == GM_OK && !same)
        st = gm_error(GM_ERR_INVALID_ARG,
                      "%s: cannot resume: it was written with methods '%s', this run asks for '%s' "
                      "(resume with the same --method list, or use another --out)",
                      path, have, want);
    free(have);
    free(want);
    return st;
}

gm_status gm_results_h5_check(gm_results *r, const gm_results_spec *spec, const char *sha256) {
    hid_t f = r->file;
    const char *path = r->h5_path;
    char *format = NULL;
    if (gm_h5_read_string_attr(f, "format", &format) != GM_OK || strcmp(format, GM_RESULTS_FORMAT) != 0) {
        free(format);
        return gm_error(GM_ERR_FORMAT, "%s: not a gradmap results file (no format=\"%s\" attribute)", path,
                        GM_RESULTS_FORMAT);
    }
    free(format);
    long long version = 0;
    if (!gm_attr_read_int(f, "format_version", &version) || version != GM_RESULTS_FORMAT_VERSION)
        return gm_error(GM_ERR_UNSUPPORTED, "%s: results format version %lld, this gradmap writes %d", path, version,
                        GM_RESULTS_FORMAT_VERSION);
    GM_TRY(gm_check_methods(f, path, spec));
    GM_TRY(gm_check_int(f, path, "top_k", spec->top_k, "same --top-k needed"));
    GM_TRY(gm_check_int(f, path, "n_targets", spec->n_targets, "same --class / --top-k needed"));
    GM_TRY(gm_check_int(f, path, "n_classes", spec->n_classes, "same model needed"));
    GM_TRY(gm_check_string(f, path, "target_layer", spec->target_layer, "same --layer needed"));
    GM_TRY(gm_check_string(f, path, "precision", spec->precision, "same --precision needed"));
    char *have_sha = NULL;
    if (gm_h5_read_string_attr(f, "model_sha256", &have_sha) != GM_OK)
        return gm_error(GM_ERR_FORMAT, "%s: attribute 'model_sha256' is missing or unreadable", path);
    int differs = have_sha[0] && sha256[0] && strcmp(have_sha, sha256) != 0;
    free(have_sha);
    if (differs)
        return gm_error(GM_ERR_INVALID_ARG, "%s: cannot resume: it was written with a different model file "
                                            "(SHA-256 differs from %s)", path, spec->model_file ? spec->model_file : "");
    if (!gm_attr_read_int(f, "n_images", &r->n_images) || !gm_attr_read_int(f, "n_errors", &r->n_errors) ||
        !gm_attr_read_int(f, "summary_csv_bytes", &r->csv_bytes) || r->n_images < 0 || r->n_errors < 0 ||
        r->n_errors > r->n_images || r->csv_bytes < 0)
        return gm_error(GM_ERR_FORMAT, "%s: row counters missing or inconsistent", path);
    return GM_OK;
}

/* ---- datasets ---- */

static gm_status gm_open_rows(gm_results *r, const char *name, long long rows, hid_t *out) {
    *out = H5Dopen2(r->file, name, H5P_DEFAULT);
    if (*out < 0) return gm_error(GM_ERR_FORMAT, "%s: dataset /%s is missing", r->h5_path, name);
    hid_t s = H5Dget_space(*out);
    hsize_t dims[8] = {0};
    int rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    if (rank >= 1 && rank <= 8) H5Sget_simple_extent_dims(s, dims, NULL);
    if (s >= 0) H5Sclose(s);
    if (rank < 1 || rank > 8 || dims[0] != (hsize_t)rows)
        return gm_error(GM_ERR_FORMAT, "%s: dataset /%s has %llu rows, the file records %lld", r->h5_path, name,
                        (unsigned long long)dims[0], rows);
    return GM_OK;
}

gm_status gm_results_h5_open_datasets(gm_results *r) {
    long long n = r->n_images, m = r->n_errors;
    GM_TRY(gm_open_rows(r, "path", n, &r->d_path));
    GM_TRY(gm_open_rows(r, "width", n, &r->d_width));
    GM_TRY(gm_open_rows(r, "height", n, &r->d_height));
    GM_TRY(gm_open_rows(r, "status", n, &r->d_status));
    GM_TRY(gm_open_rows(r, "topk_class", n, &r->d_topk_class));
    GM_TRY(gm_open_rows(r, "topk_prob", n, &r->d_topk_prob));
    GM_TRY(gm_open_rows(r, "target_class", n, &r->d_target_class));
    GM_TRY(gm_open_rows(r, "target_logit", n, &r->d_target_logit));
    GM_TRY(gm_open_rows(r, "errors/index", m, &r->d_err_index));
    GM_TRY(gm_open_rows(r, "errors/path", m, &r->d_err_path));
    GM_TRY(gm_open_rows(r, "errors/message", m, &r->d_err_message));
    for (int i = 0; i < r->n_methods; ++i) {
        char name[300];
        snprintf(name, sizeof name, "maps/%s", r->maps[i].name);
        GM_TRY(gm_open_rows(r, name, n, &r->maps[i].dset));
    }
    return GM_OK;
}

static void gm_close_id(hid_t *id) {
    if (*id > 0) H5Dclose(*id);
    *id = -1;
}

void gm_results_h5_close_datasets(gm_results *r) {
    hid_t *ids[] = {&r->d_path, &r->d_width, &r->d_height, &r->d_status, &r->d_topk_class, &r->d_topk_prob,
                    &r->d_target_class, &r->d_target_logit, &r->d_err_index, &r->d_err_path, &r->d_err_message};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; ++i) gm_close_id(ids[i]);
    for (int i = 0; r->maps && i < r->n_methods; ++i) gm_close_id(&r->maps[i].dset);
}

/* Grows `d` to start+count rows and writes `count` rows of `cols` elements from `buf`. */
static int gm_write_rows(hid_t d, hid_t mem_type, long long start, long long count, long long cols,
                         const void *buf) {
    hid_t fs = H5Dget_space(d);
    int rank = fs >= 0 ? H5Sget_simple_extent_ndims(fs) : -1;
    hsize_t dims[8] = {0};
    if (rank < 1 || rank > 8 || H5Sget_simple_extent_dims(fs, dims, NULL) < 0) {
        if (fs >= 0) H5Sclose(fs);
        return 0;
    }
    H5Sclose(fs);
    dims[0] = (hsize_t)(start + count);
    if (H5Dset_extent(d, dims) < 0) return 0;
    if (count == 0) return 1;
    fs = H5Dget_space(d);
    hsize_t off[8] = {(hsize_t)start}, cnt[8];
    memcpy(cnt, dims, sizeof cnt);
    cnt[0] = (hsize_t)count;
    hsize_t mdim = (hsize_t)(count * cols);
    hid_t ms = H5Screate_simple(1, &mdim, NULL);
    int ok = fs >= 0 && ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL) >= 0 &&
             H5Dwrite(d, mem_type, ms, fs, H5P_DEFAULT, buf) >= 0;
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return ok;
}

/* Copies an n x cols array, replacing the rows of failed items by `fill`. */
static void *gm_filled_copy(const void *src, const int *status, int n, long long cols, size_t elem, const void *fill) {
    unsigned char *dst = malloc((size_t)(n * cols) * elem + 1);
    if (!dst) return NULL;
    for (int i = 0; i < n; ++i) {
        unsigned char *row = dst + (size_t)(i * cols) * elem;
        if (status[i]) memcpy(row, (const unsigned char *)src + (size_t)(i * cols) * elem, (size_t)cols * elem);
        else
            for (long long c = 0; c < cols; ++c) memcpy(row + (size_t)c * elem, fill, elem);
    }
    return dst;
}

gm_status gm_results_h5_append(gm_results *r, const gm_results_batch *b, long long csv_bytes_after) {
    int n = b->n;
    long long start = r->n_images, k = r->top_k, t = r->n_targets;
    int n_failed = 0;
    for (int i = 0; i < n; ++i) n_failed += !b->status[i];
    hid_t str = gm_vlen_string_type();
    int32_t *i32 = malloc(sizeof *i32 * (size_t)(n ? n : 1));
    int8_t *st8 = malloc((size_t)(n ? n : 1));
    long long *eidx = malloc(sizeof *eidx * (size_t)(n_failed ? n_failed : 1));
    const char **epath = malloc(sizeof *epath * (size_t)(n_failed ? n_failed : 1));
    const char **emsg = malloc(sizeof *emsg * (size_t)(n_failed ? n_failed : 1));
    const int32_t cls_fill = -1;
    const float f_fill = 0.0f;
    void *tk_c = gm_filled_copy(b->topk_class, b->status, n, k, sizeof(int32_t), &cls_fill);
    void *tk_p = gm_filled_copy(b->topk_prob, b->status, n, k, sizeof(float), &f_fill);
    void *tg_c = gm_filled_copy(b->target_class, b->status, n, t, sizeof(int32_t), &cls_fill);
    void *tg_l = gm_filled_copy(b->target_logit, b->status, n, t, sizeof(float), &f_fill);
    int ok = str >= 0 && i32 && st8 && eidx && epath && emsg && tk_c && tk_p && tg_c && tg_l;
    if (!ok) {
        if (str >= 0) H5Tclose(str);
        free(i32), free(st8), free(eidx), free(epath), free(emsg), free(tk_c), free(tk_p), free(tg_c), free(tg_l);
        return gm_error(GM_ERR_NOMEM, "%s: out of memory writing a batch", r->h5_path);
    }
    int e = 0;
    for (int i = 0; i < n; ++i) {
        st8[i] = b->status[i] ? 1 : 0;
        if (!b->status[i]) {
            eidx[e] = start + i;
            epath[e] = b->paths[i];
            emsg[e] = b->errors && b->errors[i] ? b->errors[i] : "unknown error";
            ++e;
        }
    }
    ok = gm_write_rows(r->d_path, str, start, n, 1, b->paths);
    for (int i = 0; ok && i < n; ++i) i32[i] = b->widths[i];
    ok = ok && gm_write_rows(r->d_width, H5T_NATIVE_INT32, start, n, 1, i32);
    for (int i = 0; ok && i < n; ++i) i32[i] = b->heights[i];
    ok = ok && gm_write_rows(r->d_height, H5T_NATIVE_INT32, start, n, 1, i32) &&
         gm_write_rows(r->d_status, H5T_NATIVE_INT8, start, n, 1, st8) &&
         gm_write_rows(r->d_topk_class, H5T_NATIVE_INT32, start, n, k, tk_c) &&
         gm_write_rows(r->d_topk_prob, H5T_NATIVE_FLOAT, start, n, k, tk_p) &&
         gm_write_rows(r->d_target_class, H5T_NATIVE_INT32, start, n, t, tg_c) &&
         gm_write_rows(r->d_target_logit, H5T_NATIVE_FLOAT, start, n, t, tg_l);
    for (int m = 0; ok && m < r->n_methods; ++m) {
        long long cols = t * r->maps[m].height * r->maps[m].width;
        const float zero = 0.0f;
        void *copy = NULL;
        const void *src = b->maps ? b->maps[m] : NULL;
        if (n_failed || !src) {
            /* Failed rows (and a batch with no map buffer, all failed) are stored as zeros. */
            copy = src ? gm_filled_copy(src, b->status, n, cols, sizeof(float), &zero) : calloc((size_t)(n * cols) + 1, sizeof(float));
            if (!copy) {
                ok = 0;
                break;
            }
            src = copy;
        }
        ok = gm_write_rows(r->maps[m].dset, H5T_NATIVE_FLOAT, start, n, cols, src);
        free(copy);
    }
    ok = ok && gm_write_rows(r->d_err_index, H5T_NATIVE_LLONG, r->n_errors, n_failed, 1, eidx) &&
         gm_write_rows(r->d_err_path, str, r->n_errors, n_failed, 1, epath) &&
         gm_write_rows(r->d_err_message, str, r->n_errors, n_failed, 1, emsg);
    /* The counters go last; the journal makes the whole batch atomic, they only make it explicit. */
    ok = ok && gm_attr_int(r->file, "n_images", start + n, 0) &&
         gm_attr_int(r->file, "n_errors", r->n_errors + n_failed, 0) &&
         gm_attr_int(r->file, "summary_csv_bytes", csv_bytes_after, 0);
    H5Tclose(str);
    free(i32), free(st8), free(eidx), free(epath), free(emsg), free(tk_c), free(tk_p), free(tg_c), free(tg_l);
    if (!ok) {
        const char *io = gm_journal_io_error(r->journal);
        return gm_error(GM_ERR_IO, "%s: cannot write the batch (%s)", r->h5_path, io[0] ? io : "HDF5 write failed");
    }
    r->n_images = start + n;
    r->n_errors += n_failed;
    return GM_OK;
}

/* ---- readers ---- */

gm_status gm_results_h5_read_rows(hid_t dset, hid_t mem_type, long long start, long long count, long long cols,
                                  void *out) {
    if (count == 0) return GM_OK;
    hid_t fs = H5Dget_space(dset);
    hsize_t dims[8] = {0};
    int rank = fs >= 0 ? H5Sget_simple_extent_ndims(fs) : -1;
    int ok = rank >= 1 && rank <= 8 && H5Sget_simple_extent_dims(fs, dims, NULL) >= 0 &&
             (hsize_t)(start + count) <= dims[0];
    hsize_t off[8] = {(hsize_t)start}, cnt[8];
    memcpy(cnt, dims, sizeof cnt);
    cnt[0] = (hsize_t)count;
    hsize_t mdim = (hsize_t)(count * cols);
    hid_t ms = ok ? H5Screate_simple(1, &mdim, NULL) : -1;
    ok = ok && ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL) >= 0 &&
         H5Sget_select_npoints(fs) == (hssize_t)mdim && H5Dread(dset, mem_type, ms, fs, H5P_DEFAULT, out) >= 0;
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    return ok ? GM_OK : gm_error(GM_ERR_FORMAT, "cannot read rows %lld..%lld", start, start + count);
}

gm_status gm_results_h5_read_strings(hid_t dset, long long start, long long count, char **out) {
    for (long long i = 0; i < count; ++i) out[i] = NULL;
    if (count == 0) return GM_OK;
    hid_t str = gm_vlen_string_type();
    char **raw = calloc((size_t)count, sizeof *raw);
    gm_status st = str >= 0 && raw ? gm_results_h5_read_rows(dset, str, start, count, 1, raw)
                                   : gm_error(GM_ERR_NOMEM, "out of memory reading strings");
    for (long long i = 0; st == GM_OK && i < count; ++i)
        if (!(out[i] = strdup(raw[i] ? raw[i] : ""))) st = gm_error(GM_ERR_NOMEM, "out of memory reading strings");
    if (raw && st == GM_OK) {
        hsize_t n = (hsize_t)count;
        hid_t ms = H5Screate_simple(1, &n, NULL);
        if (ms >= 0) {
            H5Dvlen_reclaim(str, ms, H5P_DEFAULT, raw);
            H5Sclose(ms);
        }
    }
    if (st != GM_OK)
        for (long long i = 0; i < count; ++i) free(out[i]), out[i] = NULL;
    free(raw);
    if (str >= 0) H5Tclose(str);
    return st;
}
