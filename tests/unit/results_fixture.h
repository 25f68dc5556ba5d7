/* results_fixture.h — shared by test_results.c and test_results_kill.c: a deterministic synthetic
 * run (item i's path, size, status, top-k, targets, logits and maps are pure functions of i), a
 * batch builder, and a plain-HDF5 reader of a whole results.h5 used to check rows against the
 * generator and to compare two files; file helpers and a resume-and-append driver. Static inline
 * functions: each test program includes it once and uses what it needs. */
#ifndef GM_RESULTS_FIXTURE_H
#define GM_RESULTS_FIXTURE_H

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host/results.h"
#include "test_support.h"

#define FX_K 3  /* top_k */
#define FX_T 2  /* targets per image */
#define FX_C 10 /* classes */
#define FX_M 2  /* methods */
#define FX_MAX_BATCH 16
#define FX_PATH_CAP 96

static const gm_results_method fx_methods[FX_M] = {{"saliency", 6, 5}, {"gradcam++", 3, 4}};
static const char *const fx_class_names[FX_C] = {"tench, Tinca tinca", "goldfish", "great \"white\" shark",
                                                 "tiger shark", "hammerhead", "electric ray", "stingray", "cock",
                                                 "hen", "ostrich"};

static inline int fx_map_size(int m) { return FX_T * fx_methods[m].height * fx_methods[m].width; }

static inline void fx_spec(gm_results_spec *s, const char *dir, const char *model_file) {
    memset(s, 0, sizeof *s);
    s->dir = dir;
    s->methods = fx_methods;
    s->n_methods = FX_M;
    s->top_k = FX_K;
    s->n_targets = FX_T;
    s->n_classes = FX_C;
    s->class_names = fx_class_names;
    s->gzip = 1;
    s->model_file = model_file;
    s->command_line = "gradmap explain model.h5 imgs --method saliency,gradcam++ --top-k 2";
    s->target_layer = "block5_conv3";
    s->precision = "fp32";
    s->device = "cpu";
}

static inline void fx_path(long long i, char *out) {
    if (i == 7) snprintf(out, FX_PATH_CAP, "imgs/new\nline %04lld.png", i);
    else if (i % 10 == 3) snprintf(out, FX_PATH_CAP, "imgs/with,comma \"q\" %04lld.png", i);
    else snprintf(out, FX_PATH_CAP, "imgs/%04lld.png", i);
}
static inline int fx_ok(long long i) { return i % 9 != 4; }
static inline void fx_error(long long i, char *out) {
    snprintf(out, FX_PATH_CAP, "cannot decode item %lld: bad \"PNG\", truncated", i);
}
static inline int fx_topk_class(long long i, int k) { return (int)((i + 3 * k) % FX_C); }
static inline float fx_topk_prob(long long i, int k) { return 1.0f / (float)(k + 2) + (float)i * 1e-3f; }
static inline int fx_target_class(long long i, int t) { return (int)((i + t) % FX_C); }
static inline float fx_target_logit(long long i, int t) { return (float)i * 0.5f - (float)t; }
static inline float fx_map(long long i, int m, int j) { return sinf((float)i * 0.37f + (float)m * 0.5f + (float)j * 0.13f); }

/* A batch of the given items, built in caller-provided storage. */
typedef struct fx_batch {
    char path_text[FX_MAX_BATCH][FX_PATH_CAP], err_text[FX_MAX_BATCH][FX_PATH_CAP];
    const char *paths[FX_MAX_BATCH], *errors[FX_MAX_BATCH];
    int w[FX_MAX_BATCH], h[FX_MAX_BATCH], status[FX_MAX_BATCH];
    int tkc[FX_MAX_BATCH * FX_K], tgc[FX_MAX_BATCH * FX_T];
    float tkp[FX_MAX_BATCH * FX_K], tgl[FX_MAX_BATCH * FX_T];
    float maps0[FX_MAX_BATCH * FX_T * 6 * 5], maps1[FX_MAX_BATCH * FX_T * 3 * 4];
    const float *maps[FX_M];
    gm_results_batch b;
} fx_batch;

static inline void fx_build(fx_batch *x, const long long *items, int n) {
    float *maps[FX_M] = {x->maps0, x->maps1};
    for (int r = 0; r < n; ++r) {
        long long i = items[r];
        fx_path(i, x->path_text[r]);
        x->paths[r] = x->path_text[r];
        int ok = fx_ok(i);
        x->status[r] = ok;
        x->w[r] = ok ? 100 + (int)i : 0;
        x->h[r] = ok ? 50 + 2 * (int)i : 0;
        fx_error(i, x->err_text[r]);
        x->errors[r] = ok ? NULL : x->err_text[r];
        /* A failed item's rows hold garbage the writer must replace by the fill values. */
        for (int k = 0; k < FX_K; ++k) {
            x->tkc[r * FX_K + k] = ok ? fx_topk_class(i, k) : 999;
            x->tkp[r * FX_K + k] = ok ? fx_topk_prob(i, k) : NAN;
        }
        for (int t = 0; t < FX_T; ++t) {
            x->tgc[r * FX_T + t] = ok ? fx_target_class(i, t) : -7;
            x->tgl[r * FX_T + t] = ok ? fx_target_logit(i, t) : NAN;
        }
        for (int m = 0; m < FX_M; ++m)
            for (int j = 0; j < fx_map_size(m); ++j) maps[m][r * fx_map_size(m) + j] = ok ? fx_map(i, m, j) : NAN;
    }
    for (int m = 0; m < FX_M; ++m) x->maps[m] = maps[m];
    x->b = (gm_results_batch){.n = n, .paths = x->paths, .widths = x->w, .heights = x->h, .status = x->status,
                              .errors = x->errors, .topk_class = x->tkc, .topk_prob = x->tkp,
                              .target_class = x->tgc, .target_logit = x->tgl, .maps = x->maps};
}

/* Items [first, first+n) as one batch. */
static inline void fx_build_range(fx_batch *x, long long first, int n) {
    long long items[FX_MAX_BATCH];
    for (int r = 0; r < n; ++r) items[r] = first + r;
    fx_build(x, items, n);
}

/* ---- reading a results.h5 back with plain HDF5 ---- */

typedef struct fx_file {
    long long n, m, csv_bytes;
    char **paths, **epath, **emsg;
    int *w, *h, *status, *tkc, *tgc;
    float *tkp, *tgl, *maps[FX_M];
    long long *eidx, rows_path, rows_maps[FX_M];
} fx_file;

static inline void fx_free_strings(char **s, long long n) {
    for (long long i = 0; s && i < n; ++i) free(s[i]);
    free(s);
}

static inline void fx_file_free(fx_file *f) {
    fx_free_strings(f->paths, f->n);
    fx_free_strings(f->epath, f->m);
    fx_free_strings(f->emsg, f->m);
    free(f->w), free(f->h), free(f->status), free(f->tkc), free(f->tgc), free(f->tkp), free(f->tgl), free(f->eidx);
    for (int m = 0; m < FX_M; ++m) free(f->maps[m]);
    memset(f, 0, sizeof *f);
}

static inline long long fx_rows(hid_t file, const char *name) {
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t s = H5Dget_space(d);
    hsize_t dims[8] = {0};
    int rank = H5Sget_simple_extent_ndims(s);
    if (rank >= 1 && rank <= 8) H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s);
    H5Dclose(d);
    return rank >= 1 ? (long long)dims[0] : -1;
}

static inline int fx_read_all(hid_t file, const char *name, hid_t type, void *buf) {
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) return 0;
    int ok = H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
    H5Dclose(d);
    return ok;
}

static inline char **fx_read_strings(hid_t file, const char *name, long long n) {
    char **raw = calloc((size_t)n + 1, sizeof *raw), **out = calloc((size_t)n + 1, sizeof *out);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    int ok = raw && out && (n == 0 || fx_read_all(file, name, t, raw));
    for (long long i = 0; ok && i < n; ++i) out[i] = strdup(raw[i] ? raw[i] : "");
    for (long long i = 0; ok && i < n; ++i) H5free_memory(raw[i]);
    H5Tclose(t);
    free(raw);
    if (!ok) {
        free(out);
        return NULL;
    }
    return out;
}

static inline long long fx_attr_int(hid_t obj, const char *name) {
    long long v = -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return -1;
    if (H5Aread(a, H5T_NATIVE_LLONG, &v) < 0) v = -1;
    H5Aclose(a);
    return v;
}

/* Reads a whole results file; 1 on success. */
static inline int fx_file_read(const char *h5, fx_file *f) {
    memset(f, 0, sizeof *f);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t file = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return 0;
    f->n = fx_attr_int(file, "n_images");
    f->m = fx_attr_int(file, "n_errors");
    f->csv_bytes = fx_attr_int(file, "summary_csv_bytes");
    f->rows_path = fx_rows(file, "path");
    int ok = f->n >= 0 && f->m >= 0 && f->rows_path == f->n && fx_rows(file, "errors/message") == f->m;
    size_t n = (size_t)(f->n > 0 ? f->n : 1), m = (size_t)(f->m > 0 ? f->m : 1);
    if (ok) {
        f->w = malloc(n * sizeof(int)), f->h = malloc(n * sizeof(int)), f->status = malloc(n * sizeof(int));
        f->tkc = malloc(n * FX_K * sizeof(int)), f->tgc = malloc(n * FX_T * sizeof(int));
        f->tkp = malloc(n * FX_K * sizeof(float)), f->tgl = malloc(n * FX_T * sizeof(float));
        f->eidx = malloc(m * sizeof(long long));
        ok = f->w && f->h && f->status && f->tkc && f->tgc && f->tkp && f->tgl && f->eidx;
    }
    if (ok && f->n > 0)
        ok = fx_read_all(file, "width", H5T_NATIVE_INT, f->w) && fx_read_all(file, "height", H5T_NATIVE_INT, f->h) &&
             fx_read_all(file, "status", H5T_NATIVE_INT, f->status) &&
             fx_read_all(file, "topk_class", H5T_NATIVE_INT, f->tkc) &&
             fx_read_all(file, "topk_prob", H5T_NATIVE_FLOAT, f->tkp) &&
             fx_read_all(file, "target_class", H5T_NATIVE_INT, f->tgc) &&
             fx_read_all(file, "target_logit", H5T_NATIVE_FLOAT, f->tgl);
    for (int mm = 0; ok && mm < FX_M; ++mm) {
        char name[64];
        snprintf(name, sizeof name, "maps/%s", fx_methods[mm].name);
        f->rows_maps[mm] = fx_rows(file, name);
        f->maps[mm] = malloc(n * (size_t)fx_map_size(mm) * sizeof(float));
        ok = f->maps[mm] && f->rows_maps[mm] == f->n && (f->n == 0 || fx_read_all(file, name, H5T_NATIVE_FLOAT, f->maps[mm]));
    }
    if (ok && f->m > 0) ok = fx_read_all(file, "errors/index", H5T_NATIVE_LLONG, f->eidx);
    if (ok) ok = (f->paths = fx_read_strings(file, "path", f->n)) != NULL;
    if (ok) ok = (f->epath = fx_read_strings(file, "errors/path", f->m)) != NULL;
    if (ok) ok = (f->emsg = fx_read_strings(file, "errors/message", f->m)) != NULL;
    H5Fclose(file);
    if (!ok) fx_file_free(f);
    return ok;
}

/* Checks that row r holds item r of the generator, for every row; names the first difference. */
static inline int fx_file_verify(const fx_file *f, char *why, size_t cap) {
    char text[FX_PATH_CAP];
    long long e = 0;
    for (long long i = 0; i < f->n; ++i) {
        int ok = fx_ok(i);
        fx_path(i, text);
        if (strcmp(f->paths[i], text) != 0) return snprintf(why, cap, "row %lld: path '%s'", i, f->paths[i]), 0;
        if (f->status[i] != ok) return snprintf(why, cap, "row %lld: status %d", i, f->status[i]), 0;
        if (f->w[i] != (ok ? 100 + (int)i : 0) || f->h[i] != (ok ? 50 + 2 * (int)i : 0))
            return snprintf(why, cap, "row %lld: size %dx%d", i, f->w[i], f->h[i]), 0;
        for (int k = 0; k < FX_K; ++k) {
            int c = f->tkc[i * FX_K + k];
            float p = f->tkp[i * FX_K + k];
            if (c != (ok ? fx_topk_class(i, k) : -1) || !(p == (ok ? fx_topk_prob(i, k) : 0.0f)))
                return snprintf(why, cap, "row %lld: top-k %d = (%d, %g)", i, k, c, p), 0;
        }
        for (int t = 0; t < FX_T; ++t) {
            int c = f->tgc[i * FX_T + t];
            float l = f->tgl[i * FX_T + t];
            if (c != (ok ? fx_target_class(i, t) : -1) || !(l == (ok ? fx_target_logit(i, t) : 0.0f)))
                return snprintf(why, cap, "row %lld: target %d = (%d, %g)", i, t, c, l), 0;
        }
        for (int m = 0; m < FX_M; ++m)
            for (int j = 0; j < fx_map_size(m); ++j) {
                float v = f->maps[m][i * fx_map_size(m) + j];
                if (!(v == (ok ? fx_map(i, m, j) : 0.0f))) /* NaN fails */
                    return snprintf(why, cap, "row %lld: %s[%d] = %g", i, fx_methods[m].name, j, v), 0;
            }
        if (!ok) {
            char msg[FX_PATH_CAP];
            fx_error(i, msg);
            if (e >= f->m || f->eidx[e] != i || strcmp(f->epath[e], text) != 0 || strcmp(f->emsg[e], msg) != 0)
                return snprintf(why, cap, "row %lld: error record %lld missing or wrong", i, e), 0;
            ++e;
        }
    }
    if (e != f->m) return snprintf(why, cap, "%lld error records, %lld expected", f->m, e), 0;
    return 1;
}

/* Reads a whole small file into a malloc'd NUL-terminated buffer. */
static inline char *fx_slurp(const char *path, long *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    if (buf) buf[n] = '\0';
    if (size) *size = n;
    return buf;
}

/* Writes items [0, n) in batches of `batch` into a new run at `dir`; 1 on success. */
static inline int fx_write_run(const char *dir, const char *model, long long n, int batch) {
    gm_results_spec spec;
    fx_spec(&spec, dir, model);
    gm_results *r = NULL;
    if (gm_results_open(&spec, 0, &r) != GM_OK) return 0;
    fx_batch *x = malloc(sizeof *x);
    int ok = x != NULL;
    for (long long i = 0; ok && i < n; i += batch) {
        fx_build_range(x, i, (int)(n - i < batch ? n - i : batch));
        ok = gm_results_append_batch(r, &x->b) == GM_OK;
    }
    free(x);
    return gm_results_close(&r) == GM_OK && ok;
}

/* Recursively removes a test directory (only paths the tests created). */
static inline void fx_rm_rf(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", dir);
}

/* ---- small file helpers ---- */

static inline char *fx_cat(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    snprintf(s, n, "%s/%s", a, b);
    return s;
}

static inline int fx_write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* usleep() is not POSIX.1-2008. */
static inline void fx_sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static inline long fx_file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Opens `dir` with resume = 1 and appends the items not yet written, `batch` at a time, until
 * `upto` rows exist; writes one byte to `ack_fd` after each append returns (-1: none). */
static inline int fx_resume_and_append(const char *dir, const char *model, long long upto, int batch, int ack_fd,
                                unsigned sleep_seed) {
    gm_results_spec spec;
    fx_spec(&spec, dir, model);
    gm_results *r = NULL;
    if (gm_results_open(&spec, 1, &r) != GM_OK) {
        fprintf(stderr, "resume open failed: %s\n", gm_last_error());
        return 0;
    }
    fx_batch *x = malloc(sizeof *x);
    long long start = gm_results_count(r);
    char path[FX_PATH_CAP];
    int ok = x != NULL;
    /* Rows are a prefix of the item sequence: the done set says so too. */
    for (long long i = 0; ok && i < upto; ++i) {
        fx_path(i, path);
        ok = gm_results_is_done(r, path) == (i < start);
    }
    if (!ok) fprintf(stderr, "done set disagrees with the row count %lld\n", start);
    for (long long i = start; ok && i < upto; i += batch) {
        fx_build_range(x, i, (int)(upto - i < batch ? upto - i : batch));
        ok = gm_results_append_batch(r, &x->b) == GM_OK;
        if (!ok) fprintf(stderr, "append failed: %s\n", gm_last_error());
        if (ok && ack_fd >= 0 && write(ack_fd, "x", 1) != 1) ok = 0;
        if (sleep_seed) {
            sleep_seed = sleep_seed * 1103515245u + 12345u;
            fx_sleep_us((long)((sleep_seed >> 16) % 1500));
        }
    }
    free(x);
    return gm_results_close(&r) == GM_OK && ok;
}

static inline int fx_files_equal(const fx_file *a, const fx_file *b) {
    if (a->n != b->n || a->m != b->m) return 0;
    size_t n = (size_t)a->n;
    int same = !memcmp(a->w, b->w, n * sizeof(int)) && !memcmp(a->h, b->h, n * sizeof(int)) &&
               !memcmp(a->status, b->status, n * sizeof(int)) && !memcmp(a->tkc, b->tkc, n * FX_K * sizeof(int)) &&
               !memcmp(a->tkp, b->tkp, n * FX_K * sizeof(float)) && !memcmp(a->tgc, b->tgc, n * FX_T * sizeof(int)) &&
               !memcmp(a->tgl, b->tgl, n * FX_T * sizeof(float)) &&
               !memcmp(a->eidx, b->eidx, (size_t)a->m * sizeof(long long));
    for (int m = 0; same && m < FX_M; ++m) same = !memcmp(a->maps[m], b->maps[m], n * (size_t)fx_map_size(m) * sizeof(float));
    for (size_t i = 0; same && i < n; ++i) same = !strcmp(a->paths[i], b->paths[i]);
    for (long long i = 0; same && i < a->m; ++i) same = !strcmp(a->emsg[i], b->emsg[i]) && !strcmp(a->epath[i], b->epath[i]);
    return same;
}

/* Compares DIR's results.h5 and summary.csv with the reference run's. */
static inline void fx_check_same_as_reference(gm_test_counts *c, const char *dir, const char *ref, const char *what) {
    char *h5 = fx_cat(dir, "results.h5"), *ref_h5 = fx_cat(ref, "results.h5");
    char *csv = fx_cat(dir, "summary.csv"), *ref_csv = fx_cat(ref, "summary.csv");
    fx_file a, b;
    int ra = fx_file_read(h5, &a), rb = fx_file_read(ref_h5, &b);
    char why[256] = "";
    gm_test_check(c, ra && rb && a.n == b.n && fx_file_verify(&a, why, sizeof why) && fx_files_equal(&a, &b),
                  "%s: results.h5 equals the uninterrupted run (%lld rows) %s", what, ra ? a.n : -1, why);
    char *t1 = fx_slurp(csv, NULL), *t2 = fx_slurp(ref_csv, NULL);
    gm_test_check(c, t1 && t2 && !strcmp(t1, t2), "%s: summary.csv equals the uninterrupted run's", what);
    gm_test_check(c, ra && t1 && a.csv_bytes == (long long)strlen(t1), "%s: summary_csv_bytes matches the CSV", what);
    free(t1), free(t2);
    if (ra) fx_file_free(&a);
    if (rb) fx_file_free(&b);
    free(h5), free(ref_h5), free(csv), free(ref_csv);
}

#endif
