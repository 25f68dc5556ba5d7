/* test_support.c — see test_support.h. The random generator is splitmix64 so every test input
 * is the same on every machine; the HDF5 readers exist only to load committed fixtures. */
#include "test_support.h"

#include <dlfcn.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host/cuda_plugin.h"

void gm_test_rng_seed(gm_test_rng *r, uint64_t seed) { r->state = seed * 0x9E3779B97F4A7C15ull + 1; }

static uint64_t gm_test_rng_next(gm_test_rng *r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double gm_test_rng_uniform(gm_test_rng *r) { return (double)(gm_test_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

float gm_test_rng_range(gm_test_rng *r, float lo, float hi) { return lo + (hi - lo) * (float)gm_test_rng_uniform(r); }

void gm_test_fill(gm_test_rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; ++i) x[i] = gm_test_rng_range(r, lo, hi);
}

static int gm_test_close_impl(const char *what, const float *got, const float *ref_f, const double *ref_d, size_t n,
                              double atol, double rtol) {
    double max_abs = 0.0, max_rel = 0.0, worst_excess = -INFINITY;
    size_t worst = 0, bad = 0;
    for (size_t i = 0; i < n; ++i) {
        double ref = ref_f ? (double)ref_f[i] : ref_d[i];
        double g = (double)got[i];
        if (!isfinite(g) || !isfinite(ref)) {
            if (bad < 5) fprintf(stderr, "  %s[%zu]: non-finite (got %g, ref %g)\n", what, i, g, ref);
            ++bad;
            continue;
        }
        double diff = fabs(g - ref);
        double rel = diff / (fabs(ref) > 1e-30 ? fabs(ref) : 1e-30);
        if (diff > max_abs) max_abs = diff;
        if (rel > max_rel && fabs(ref) > atol) max_rel = rel;
        double excess = diff - (atol + rtol * fabs(ref));
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
        if (excess > 0) {
            if (bad < 5) fprintf(stderr, "  %s[%zu]: got %.9g ref %.9g (|diff| %.3g)\n", what, i, g, ref, diff);
            ++bad;
        }
    }
    fprintf(stderr, "  %s: n=%zu max_abs=%.3g max_rel=%.3g (atol %.1g rtol %.1g) worst index %zu%s\n", what, n,
            max_abs, max_rel, atol, rtol, worst, bad ? " MISMATCH" : "");
    return bad == 0 && n > 0;
}

int gm_test_close(const char *what, const float *got, const float *ref, size_t n, double atol, double rtol) {
    return gm_test_close_impl(what, got, ref, NULL, n, atol, rtol);
}

int gm_test_close_d(const char *what, const float *got, const double *ref, size_t n, double atol, double rtol) {
    return gm_test_close_impl(what, got, NULL, ref, n, atol, rtol);
}

char *gm_test_source_path(const char *relative) {
    const char *root = getenv("GM_SOURCE_DIR");
    if (!root) root = ".";
    size_t len = strlen(root) + strlen(relative) + 2;
    char *path = malloc(len);
    if (path) snprintf(path, len, "%s/%s", root, relative);
    return path;
}

int gm_test_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void *gm_test_h5_read(const char *file, const char *dataset, hid_t mem_type, size_t elem, int *rank,
                             long long dims[8]) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return NULL;
    void *data = NULL;
    hid_t d = H5Dopen2(f, dataset, H5P_DEFAULT);
    if (d >= 0) {
        hid_t s = H5Dget_space(d);
        hsize_t hd[8] = {0};
        int r = H5Sget_simple_extent_ndims(s);
        if (r >= 0 && r <= 8) {
            H5Sget_simple_extent_dims(s, hd, NULL);
            size_t count = 1;
            for (int i = 0; i < r; ++i) {
                dims[i] = (long long)hd[i];
                count *= hd[i];
            }
            *rank = r;
            data = malloc(count * elem + 1);
            if (data && H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
                free(data);
                data = NULL;
            }
        }
        H5Sclose(s);
        H5Dclose(d);
    }
    H5Fclose(f);
    return data;
}

float *gm_test_h5_read_floats(const char *file, const char *dataset, int *rank, long long dims[8]) {
    return gm_test_h5_read(file, dataset, H5T_NATIVE_FLOAT, sizeof(float), rank, dims);
}

int32_t *gm_test_h5_read_ints(const char *file, const char *dataset, int *rank, long long dims[8]) {
    return gm_test_h5_read(file, dataset, H5T_NATIVE_INT32, sizeof(int32_t), rank, dims);
}

char *gm_test_h5_read_string_attr(const char *file, const char *object, const char *attr) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return NULL;
    char *out = NULL;
    hid_t a = H5Aopen_by_name(f, object, attr, H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
        hid_t t = H5Aget_type(a);
        if (H5Tis_variable_str(t) > 0) {
            char *s = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t)); /* h5py writes str as UTF-8; HDF5 will not convert cset */
            if (H5Aread(a, mt, &s) >= 0 && s) {
                out = strdup(s);
                H5free_memory(s);
            }
            H5Tclose(mt);
        } else {
            size_t size = H5Tget_size(t);
            out = calloc(size + 1, 1);
            if (out && H5Aread(a, t, out) < 0) {
                free(out);
                out = NULL;
            }
        }
        H5Tclose(t);
        H5Aclose(a);
    }
    H5Fclose(f);
    return out;
}

void gm_test_check(gm_test_counts *c, int ok, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, ok ? "PASS " : "FAIL ");
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\n");
    va_end(args);
    if (ok) ++c->passed;
    else ++c->failed;
}

int gm_test_summary(const gm_test_counts *c) {
    printf("%d passed, %d failed\n", c->passed, c->failed);
    return (c->failed == 0 && c->passed > 0) ? 0 : 1;
}

gm_tensor gm_test_backend_tensor(gm_backend *be, int n, int h, int w, int c, const float *host) {
    gm_tensor t = {NULL, n, h, w, c};
    void *p = NULL;
    size_t bytes = gm_tensor_count(&t) * sizeof(float);
    if (be->ops->alloc(be, bytes, &p) != GM_OK) {
        fprintf(stderr, "alloc failed: %s\n", gm_last_error());
        exit(2);
    }
    t.data = p;
    if (host) be->ops->upload(be, t.data, host, bytes);
    else memset(t.data, 0xff, bytes);
    return t;
}

float *gm_test_backend_to_host(gm_backend *be, const gm_tensor *t) {
    size_t n = gm_tensor_count(t);
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    be->ops->download(be, h, t->data, n * sizeof *h);
    return h;
}

/* ---- Helpers of the CPU-vs-CUDA tier ---- */

gm_tensor gm_test_device_tensor(gm_backend *be, int n, int h, int w, int c, const float *host) {
    gm_tensor t = {NULL, n, h, w, c};
    size_t count = gm_tensor_count(&t), bytes = count * sizeof(float);
    void *p = NULL;
    if (be->ops->alloc(be, bytes, &p) != GM_OK) {
        fprintf(stderr, "%s alloc of %zu bytes failed: %s\n", be->ops->name, bytes, gm_last_error());
        exit(2);
    }
    t.data = p;
    float *nan_fill = NULL;
    if (!host) {
        /* The NaN byte pattern: an op that leaves part of its output unwritten then fails every
         * comparison, on a device as on the host. */
        nan_fill = malloc(bytes ? bytes : 1);
        if (!nan_fill) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        memset(nan_fill, 0xff, bytes);
        host = nan_fill;
    }
    if (bytes && be->ops->upload(be, t.data, host, bytes) != GM_OK) {
        fprintf(stderr, "%s upload of %zu bytes failed: %s\n", be->ops->name, bytes, gm_last_error());
        exit(2);
    }
    free(nan_fill);
    return t;
}

void gm_test_tensor_free(gm_backend *be, gm_tensor *t) {
    void *p = t->data;
    be->ops->free(be, &p);
    t->data = NULL;
}

/* Maps a float's bits onto integers that are ordered like the floats, so that the difference of
 * two mapped values counts the representable floats between them. */
static int64_t gm_test_ordered_bits(float x) {
    int32_t i;
    memcpy(&i, &x, sizeof i);
    return i < 0 ? (int64_t)INT32_MIN - (int64_t)i : (int64_t)i;
}

double gm_test_ulp_distance(float a, float b) {
    int64_t d = gm_test_ordered_bits(a) - gm_test_ordered_bits(b);
    return (double)(d < 0 ? -d : d);
}

int gm_test_close_ulps(const char *what, const float *got, const float *ref, size_t n, double max_ulps, double atol) {
    double worst_ulps = 0.0, worst_abs = 0.0;
    size_t worst = 0, bad = 0;
    for (size_t i = 0; i < n; ++i) {
        if (!isfinite(got[i]) || !isfinite(ref[i])) {
            if (bad < 5) fprintf(stderr, "  %s[%zu]: non-finite (got %g, ref %g)\n", what, i, got[i], ref[i]);
            ++bad;
            continue;
        }
        double ulps = gm_test_ulp_distance(got[i], ref[i]);
        double diff = fabs((double)got[i] - (double)ref[i]);
        if (diff > worst_abs) worst_abs = diff;
        if (ulps > worst_ulps) {
            worst_ulps = ulps;
            worst = i;
        }
        if (ulps > max_ulps && diff > atol) {
            if (bad < 5)
                fprintf(stderr, "  %s[%zu]: got %.9g ref %.9g (%.0f ulps, |diff| %.3g)\n", what, i, got[i], ref[i],
                        ulps, diff);
            ++bad;
        }
    }
    fprintf(stderr, "  %s: n=%zu max_ulps=%.0f max_abs=%.3g (bound %.0f ulps or atol %.2g) worst index %zu%s\n", what,
            n, worst_ulps, worst_abs, max_ulps, atol, worst, bad ? " MISMATCH" : "");
    return bad == 0 && n > 0;
}

double gm_test_max_abs(const float *x, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; ++i) {
        if (isnan(x[i])) return NAN;
        if (fabs(x[i]) > m) m = fabs(x[i]);
    }
    return m;
}

double gm_test_rms(const float *x, size_t n) {
    if (n == 0) return 0.0;
    double s = 0.0;
    for (size_t i = 0; i < n; ++i) s += (double)x[i] * (double)x[i];
    return sqrt(s / (double)n);
}

typedef struct gm_test_ranked { float v; size_t i; } gm_test_ranked;

static int gm_test_ranked_cmp(const void *pa, const void *pb) {
    const gm_test_ranked *a = pa, *b = pb;
    if (a->v != b->v) return a->v < b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i; /* stable, so the ranks do not depend on qsort */
}

/* Ranks 1..n, ties sharing their average rank. 0 on success, -1 on a non-finite value. */
static int gm_test_ranks(const float *x, size_t n, gm_test_ranked *tmp, double *rank) {
    for (size_t i = 0; i < n; ++i) {
        if (!isfinite(x[i])) return -1;
        tmp[i].v = x[i];
        tmp[i].i = i;
    }
    qsort(tmp, n, sizeof *tmp, gm_test_ranked_cmp);
    for (size_t s = 0; s < n;) {
        size_t e = s + 1;
        while (e < n && tmp[e].v == tmp[s].v) ++e;
        double avg = 0.5 * (double)(s + 1 + e); /* mean of ranks s+1 .. e */
        for (size_t k = s; k < e; ++k) rank[tmp[k].i] = avg;
        s = e;
    }
    return 0;
}

double gm_test_spearman(const float *a, const float *b, size_t n) {
    if (n < 2) return NAN;
    gm_test_ranked *tmp = malloc(n * sizeof *tmp);
    double *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb);
    double rho = NAN;
    if (tmp && ra && rb && gm_test_ranks(a, n, tmp, ra) == 0 && gm_test_ranks(b, n, tmp, rb) == 0) {
        /* Pearson's correlation of the ranks (exact with ties, unlike 1 - 6 sum d^2 / ...). */
        double mean = 0.5 * (double)(n + 1), saa = 0.0, sbb = 0.0, sab = 0.0;
        for (size_t i = 0; i < n; ++i) {
            double da = ra[i] - mean, db = rb[i] - mean;
            saa += da * da;
            sbb += db * db;
            sab += da * db;
        }
        if (saa > 0.0 && sbb > 0.0) rho = sab / sqrt(saa * sbb);
    }
    free(tmp);
    free(ra);
    free(rb);
    return rho;
}

int gm_test_cuda_plugin_status(char *why, size_t size) {
    why[0] = '\0';
    const char *bin = getenv("GM_BINARY_DIR");
    if (!bin) {
        snprintf(why, size, "GM_BINARY_DIR is not set (run the test through ctest)");
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", bin, GM_CUDA_PLUGIN_FILE);
    if (!gm_test_file_exists(path)) {
        snprintf(why, size, "%s was not built (a build without CUDA)", path);
        return 0;
    }
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(why, size, "%s does not load: %s", path, e ? e : "?");
        return -1;
    }
    void *sym = dlsym(h, GM_CUDA_PLUGIN_SYMBOL);
    if (!sym) {
        snprintf(why, size, "%s has no %s", path, GM_CUDA_PLUGIN_SYMBOL);
        return -1;
    }
    gm_cuda_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry); /* object -> function pointer, the POSIX dlsym idiom */
    const gm_cuda_plugin *p = entry();
    if (!p || p->abi != GM_CUDA_PLUGIN_ABI || p->ops_size != sizeof(gm_backend_ops) ||
        p->config_size != sizeof(gm_backend_config) || p->tensor_size != sizeof(gm_tensor) || !p->create) {
        snprintf(why, size, "%s does not match this build (abi %u, sizes %zu/%zu/%zu; expected %u, %zu/%zu/%zu)", path,
                 p ? p->abi : 0u, p ? p->ops_size : 0, p ? p->config_size : 0, p ? p->tensor_size : 0,
                 GM_CUDA_PLUGIN_ABI, sizeof(gm_backend_ops), sizeof(gm_backend_config), sizeof(gm_tensor));
        return -1;
    }
    return 1;
}
